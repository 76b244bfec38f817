# What Dagster and dbt consume, under the environment variable names they read
# (dagster_project/lib/settings.py, dbt-project/profiles.yml). `terraform output -json env`.
output "env" {
  description = "Environment for the Dagster VM and dbt (prod)."
  value = {
    ESTORE_ENV            = "prod"
    ESTORE_BUCKET         = "gs://${google_storage_bucket.landing.name}"
    ESTORE_LANDING_PREFIX = var.landing_prefix
    GCP_PROJECT           = var.project_id
    ESTORE_BQ_DATASET     = google_bigquery_dataset.this["analytics"].dataset_id
    ESTORE_BQ_LOCATION    = var.location
  }
}

output "bucket_name" {
  value = google_storage_bucket.landing.name
}

output "datasets" {
  value = { for role, dataset in google_bigquery_dataset.this : role => dataset.dataset_id }
}

output "service_accounts" {
  value = merge(
    { for name, sa in google_service_account.workload : name => sa.email },
    { dagster-runtime = google_service_account.dagster_runtime.email },
  )
}

# GitHub repository variables (Settings > Variables): GCP_WORKLOAD_IDENTITY_PROVIDER and
# GCP_SERVICE_ACCOUNT.
output "workload_identity_provider" {
  value = google_iam_workload_identity_pool_provider.github.name
}

output "ci_service_account" {
  value = google_service_account.workload["ci-deployer"].email
}

output "dagster_vm" {
  value = { name = google_compute_instance.dagster.name, zone = var.zone }
}

output "dagster_db" {
  description = "Private IP of the run-storage database and the secret holding its password."
  value = {
    host            = google_sql_database_instance.dagster.private_ip_address
    database        = google_sql_database.dagster.name
    user            = google_sql_user.dagster.name
    password_secret = google_secret_manager_secret.dagster_db_password.secret_id
  }
}
