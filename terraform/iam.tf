# One service account per workload. Roles are granted on the bucket or dataset they need;
# the only project-level role is roles/bigquery.jobUser, because BigQuery jobs (loads, queries)
# are created in a project, not in a dataset. No service-account key is ever created: the VM
# uses its attached account, GitHub Actions uses Workload Identity Federation (wif.tf).
locals {
  service_accounts = {
    loader      = "Dagster ingest: reads landed files, runs BigQuery load jobs into raw"
    transformer = "dbt: reads raw, writes analytics and snapshots"
    ml          = "ML assets: reads analytics, writes ml"
    ci-deployer = "GitHub Actions: slim CI, dbt deploy, manifest upload, Dagster deploy"
  }

  bucket_roles = {
    loader-viewer = { sa = "loader", role = "roles/storage.objectViewer" }
  }

  dataset_roles = {
    loader-raw            = { sa = "loader", dataset = "raw", role = "roles/bigquery.dataEditor" }
    transformer-raw       = { sa = "transformer", dataset = "raw", role = "roles/bigquery.dataViewer" }
    transformer-analytics = { sa = "transformer", dataset = "analytics", role = "roles/bigquery.dataEditor" }
    transformer-snapshots = { sa = "transformer", dataset = "snapshots", role = "roles/bigquery.dataEditor" }
    ml-analytics          = { sa = "ml", dataset = "analytics", role = "roles/bigquery.dataViewer" }
    ml-ml                 = { sa = "ml", dataset = "ml", role = "roles/bigquery.dataEditor" }
    ci-raw                = { sa = "ci-deployer", dataset = "raw", role = "roles/bigquery.dataViewer" }
    ci-analytics          = { sa = "ci-deployer", dataset = "analytics", role = "roles/bigquery.dataEditor" }
    ci-snapshots          = { sa = "ci-deployer", dataset = "snapshots", role = "roles/bigquery.dataViewer" }
  }
}

resource "google_service_account" "workload" {
  for_each     = local.service_accounts
  account_id   = "estore-${each.key}"
  display_name = "estore ${each.key}"
  description  = each.value
}

resource "google_storage_bucket_iam_member" "workload" {
  for_each = local.bucket_roles
  bucket   = google_storage_bucket.landing.name
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.workload[each.value.sa].email}"
}

resource "google_bigquery_dataset_iam_member" "workload" {
  for_each   = local.dataset_roles
  dataset_id = google_bigquery_dataset.this[each.value.dataset].dataset_id
  role       = each.value.role
  member     = "serviceAccount:${google_service_account.workload[each.value.sa].email}"
}

# Project level: only what BigQuery requires (job creation).
resource "google_project_iam_member" "bigquery_job_user" {
  for_each = local.service_accounts
  project  = var.project_id
  role     = "roles/bigquery.jobUser"
  member   = "serviceAccount:${google_service_account.workload[each.key].email}"
}

# CI and CD read and write only the dbt manifest under ci/ (slim CI defers to it), never the
# landed files: an IAM condition on the object name (needs uniform bucket-level access).
resource "google_storage_bucket_iam_member" "ci_manifest" {
  bucket = google_storage_bucket.landing.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.workload["ci-deployer"].email}"
  condition {
    title      = "ci-prefix-only"
    expression = "resource.name.startsWith(\"projects/_/buckets/${var.bucket_name}/objects/ci/\")"
  }
}

# Slim CI builds each pull request in its own dataset `ci_pr_<number>`. Creating a dataset is a
# project-level permission in BigQuery (there is no parent to grant it on), so CI gets exactly
# that one permission; BigQuery makes the creator OWNER of the new dataset only, which is what
# lets CI delete it afterwards. This and jobUser are the only project-level grants.
resource "google_project_iam_custom_role" "ci_dataset_creator" {
  role_id     = "estoreCiDatasetCreator"
  title       = "estore CI dataset creator"
  description = "Create per-pull-request BigQuery datasets (ci_pr_<number>) for slim CI."
  permissions = ["bigquery.datasets.create"]
}

resource "google_project_iam_member" "ci_dataset_creator" {
  project = var.project_id
  role    = google_project_iam_custom_role.ci_dataset_creator.name
  member  = "serviceAccount:${google_service_account.workload["ci-deployer"].email}"
}
