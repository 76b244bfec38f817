terraform {
  required_version = ">= 1.11.0, < 2.0.0" # ephemeral resources, write-only arguments

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "= 6.49.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "= 3.7.2"
    }
  }

  # Remote state in a GCS bucket created once by hand (see README.md, "Bootstrap"):
  #   terraform init -backend-config="bucket=<project>-tfstate"
  # The state holds no secret (the run-storage password is write-only); the bucket stays
  # admin-only all the same: it maps every resource.
  backend "gcs" {
    prefix = "estore-analytics"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
