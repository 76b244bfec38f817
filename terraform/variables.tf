variable "project_id" {
  description = "GCP project that hosts everything (Dagster/dbt read it as GCP_PROJECT)."
  type        = string
}

variable "region" {
  description = "Region of the VM, Cloud SQL and the subnet."
  type        = string
  default     = "europe-west1"
}

variable "zone" {
  description = "Zone of the Dagster VM."
  type        = string
  default     = "europe-west1-b"
}

variable "location" {
  description = "One location for the bucket and every dataset (BigQuery cannot join across locations). ESTORE_BQ_LOCATION."
  type        = string
  default     = "EU"
}

variable "environment" {
  description = "dev or prod: prod keeps the bucket on destroy."
  type        = string
  default     = "prod"

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "bucket_name" {
  description = "Landing bucket (globally unique). ESTORE_BUCKET = gs://<bucket_name>."
  type        = string
}

variable "landing_prefix" {
  description = "Prefix the sensor watches (ESTORE_LANDING_PREFIX)."
  type        = string
  default     = "landing/events/"
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted file version is kept before deletion."
  type        = number
  default     = 30
}

# dbt writes models to the analytics dataset (ESTORE_BQ_DATASET) and derives the others with
# suffixes: sources read `<dataset>_raw`, snapshots (`+schema: snapshots`) go to
# `<dataset>_snapshots`. The ml dataset is kept for the model outputs, whose BigQuery path is not
# wired yet (the ML assets read the local DuckDB file: README, Known limits).
variable "datasets" {
  description = "BigQuery dataset names by role."
  type = object({
    raw       = string
    analytics = string
    snapshots = string
    ml        = string
  })
  default = {
    raw       = "estore_raw"
    analytics = "estore"
    snapshots = "estore_snapshots"
    ml        = "estore_ml"
  }
}

variable "github_repository" {
  description = "owner/name of the only GitHub repository allowed to impersonate the CI service account."
  type        = string
}

variable "machine_type" {
  description = "Dagster VM (daemon + webserver + code server; the heavy SQL runs in BigQuery)."
  type        = string
  default     = "e2-standard-2"
}

variable "sql_tier" {
  description = "Cloud SQL tier for Dagster run/event storage."
  type        = string
  default     = "db-g1-small"
}

variable "terraform_service_account" {
  description = "Email of the bootstrap account CD runs terraform as (empty: CD cannot apply)."
  type        = string
  default     = ""
}


variable "dagster_db_password_version" {
  description = "Raise to rotate the run-storage password (write-only: it is never in the state)."
  type        = number
  default     = 1
}
