locals {
  is_prod = var.environment == "prod"
  labels = {
    app         = "estore-analytics"
    environment = var.environment
    managed-by  = "terraform"
  }
}
