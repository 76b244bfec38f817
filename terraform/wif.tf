# Keyless GitHub Actions: GitHub's OIDC token is exchanged for a short-lived token of the
# ci-deployer account. Only workflows of var.github_repository are accepted.
resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = "github"
  display_name              = "GitHub Actions"
  depends_on                = [google_project_service.enabled]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  #checkov:skip=CKV_GCP_125:The condition pins the repository claim exactly (no wildcard). The check wants an assertion.sub equality, which would need one subject per event (pull_request, refs/heads/main, environment:production).
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github-oidc"
  display_name                       = "GitHub OIDC"

  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
    "attribute.ref"        = "assertion.ref"
  }
  # Without this any GitHub repository could present a valid token to this provider.
  attribute_condition = "assertion.repository == \"${var.github_repository}\""

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account_iam_member" "github_ci_deployer" {
  service_account_id = google_service_account.workload["ci-deployer"].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository/${var.github_repository}"
}

# `terraform plan/apply` in CD needs project-admin rights that no workload account has. That
# account is created by hand in the bootstrap (README.md), outside this configuration, and only
# its impersonation by this repository is declared here.
resource "google_service_account_iam_member" "github_terraform" {
  count              = var.terraform_service_account == "" ? 0 : 1
  service_account_id = "projects/${var.project_id}/serviceAccounts/${var.terraform_service_account}"
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository/${var.github_repository}"
}
