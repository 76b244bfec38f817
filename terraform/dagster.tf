# Where Dagster runs in production: one small Compute Engine VM (daemon + webserver + code
# server under systemd) with no external IP. The heavy work runs in BigQuery, so the VM only
# orchestrates. Operators reach the UI through an IAP SSH tunnel (port-forward 3000); nothing
# listens on the internet. Outbound traffic (pip, GitHub) goes through Cloud NAT.

resource "google_compute_network" "dagster" {
  name                    = "estore-dagster"
  auto_create_subnetworks = false
  depends_on              = [google_project_service.enabled]
}

resource "google_compute_subnetwork" "dagster" {
  name                     = "estore-dagster"
  network                  = google_compute_network.dagster.id
  region                   = var.region
  ip_cidr_range            = "10.10.0.0/24"
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# SSH only from Google's IAP range: `gcloud compute ssh --tunnel-through-iap`.
resource "google_compute_firewall" "iap_ssh" {
  name          = "estore-allow-iap-ssh"
  network       = google_compute_network.dagster.id
  direction     = "INGRESS"
  source_ranges = ["35.235.240.0/20"]
  target_tags   = ["estore-dagster"]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

resource "google_compute_router" "dagster" {
  name    = "estore-dagster"
  network = google_compute_network.dagster.id
  region  = var.region
}

resource "google_compute_router_nat" "dagster" {
  name                               = "estore-dagster"
  router                             = google_compute_router.dagster.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# The VM's own identity. It holds no data role: Dagster impersonates the workload accounts
# (loader, transformer, ml) for the work each does.
resource "google_service_account" "dagster_runtime" {
  account_id   = "estore-dagster-runtime"
  display_name = "estore Dagster runtime (VM)"
}

resource "google_service_account_iam_member" "runtime_impersonates" {
  for_each           = toset(["loader", "transformer", "ml"])
  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.dagster_runtime.email}"
}

resource "google_compute_instance" "dagster" {
  #checkov:skip=CKV_GCP_38:Boot disk holds code and logs only (data lives in BigQuery/Cloud SQL); Google-managed encryption applies.
  name         = "estore-dagster"
  machine_type = var.machine_type
  zone         = var.zone
  tags         = ["estore-dagster"]
  labels       = local.labels

  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
      size  = 30
    }
  }

  # No access_config block: the VM has no external IP.
  network_interface {
    subnetwork = google_compute_subnetwork.dagster.id
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  metadata = {
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "true"
    serial-port-enable     = "false"
  }

  service_account {
    email  = google_service_account.dagster_runtime.email
    scopes = ["cloud-platform"] # access is decided by IAM, not scopes
  }

  can_ip_forward            = false
  allow_stopping_for_update = true
}

# CD deploys through an IAP SSH tunnel as the ci-deployer: tunnel + OS Login (sudo, to restart
# the services) on this one instance, and acting as the VM's service account.
resource "google_iap_tunnel_instance_iam_member" "ci_deployer" {
  instance = google_compute_instance.dagster.name
  zone     = var.zone
  role     = "roles/iap.tunnelResourceAccessor"
  member   = "serviceAccount:${google_service_account.workload["ci-deployer"].email}"
}

resource "google_compute_instance_iam_member" "ci_deployer_login" {
  instance_name = google_compute_instance.dagster.name
  zone          = var.zone
  role          = "roles/compute.osAdminLogin"
  member        = "serviceAccount:${google_service_account.workload["ci-deployer"].email}"
}

resource "google_service_account_iam_member" "ci_deployer_acts_as_runtime" {
  service_account_id = google_service_account.dagster_runtime.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.workload["ci-deployer"].email}"
}

# ---- Durable run storage: Cloud SQL Postgres on a private IP only ----

resource "google_compute_global_address" "sql_peering" {
  name          = "estore-sql-peering"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
  network       = google_compute_network.dagster.id
}

resource "google_service_networking_connection" "sql" {
  network                 = google_compute_network.dagster.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.sql_peering.name]
}

resource "google_sql_database_instance" "dagster" {
  #checkov:skip=CKV_GCP_79:Major version pinned on purpose (17, supported by Dagster and Cloud SQL); a major upgrade is a planned change, not a drift.
  #checkov:skip=CKV_GCP_6:ENCRYPTED_ONLY already refuses any connection without TLS on this private-IP-only instance; client certificates (the check's mode) would add cert rotation on the VM for no extra reachability protection.
  name                = "estore-dagster"
  database_version    = "POSTGRES_17"
  region              = var.region
  deletion_protection = local.is_prod

  settings {
    tier              = var.sql_tier
    availability_type = "ZONAL"
    user_labels       = local.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.dagster.id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "03:00"
    }

    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }

  depends_on = [google_service_networking_connection.sql]
}

resource "google_sql_database" "dagster" {
  name     = "dagster"
  instance = google_sql_database_instance.dagster.name
}

# The password never reaches the Terraform state or plan: it is ephemeral (generated in memory on
# each run) and goes only into write-only arguments, which the provider sends when their version
# changes. The user and the secret get the same value on the first apply; to rotate, raise
# var.dagster_db_password_version (both take the new one) and restart the Dagster services.
ephemeral "random_password" "dagster_db" {
  length  = 32
  special = false
}

resource "google_sql_user" "dagster" {
  name                = "dagster"
  instance            = google_sql_database_instance.dagster.name
  password_wo         = ephemeral.random_password.dagster_db.result
  password_wo_version = var.dagster_db_password_version
}

resource "google_secret_manager_secret" "dagster_db_password" {
  secret_id = "estore-dagster-db-password"
  labels    = local.labels

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "dagster_db_password" {
  secret                 = google_secret_manager_secret.dagster_db_password.id
  secret_data_wo         = ephemeral.random_password.dagster_db.result
  secret_data_wo_version = var.dagster_db_password_version
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_db_password" {
  secret_id = google_secret_manager_secret.dagster_db_password.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.dagster_runtime.email}"
}
