# The landing bucket: users drop REES46 CSV files under var.landing_prefix, the Dagster sensor
# lists them (keyed by object name + generation) and BigQuery load jobs read them by gs:// URI.
resource "google_storage_bucket" "landing" {
  #checkov:skip=CKV_GCP_62:Access logs would need a second bucket; Cloud Audit Logs (data access) cover reads of this bucket.
  name     = var.bucket_name
  location = var.location
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # A dev bucket may be destroyed with its files; prod never.
  force_destroy = var.environment != "prod"

  # An overwritten file is a new generation; the old one stays recoverable for a while.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}
