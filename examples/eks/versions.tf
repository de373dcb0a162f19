# Versions are pinned: the same configuration plans the same infrastructure
# next year. `terraform init` writes .terraform.lock.hcl with the providers'
# checksums; commit it with your copy of this folder.
terraform {
  required_version = ">= 1.5.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.28.0"
    }
    # Used by the EKS module (OIDC thumbprint, waits between resources).
    tls = {
      source  = "hashicorp/tls"
      version = "4.1.0"
    }
    time = {
      source  = "hashicorp/time"
      version = "0.13.1"
    }
  }
}
