# One dataset per role, all in var.location. delete_contents_on_destroy = false: Terraform cannot
# destroy a dataset that still holds tables. The provider has no deletion_protection attribute on
# datasets and `prevent_destroy` cannot depend on a variable, so prod protection is: this flag,
# plus no human or CI identity with bigquery.datasets.delete outside the ci-deployer.
resource "google_bigquery_dataset" "this" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption is accepted for this public-dataset analytics project; CMEK would add a KMS key ring and rotation to operate.
  for_each = var.datasets

  dataset_id                 = each.value
  location                   = var.location
  description                = "estore-analytics ${each.key} layer"
  labels                     = merge(local.labels, { layer = each.key })
  delete_contents_on_destroy = false

  depends_on = [google_project_service.enabled]
}
