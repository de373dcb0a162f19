variable "region" {
  description = "AWS region of the cluster (the case study's lab account allows us-east-1)."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "Availability zones of the VPC's subnets; EKS needs at least two."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster (also names the VPC)."
  type        = string
  default     = "fluxs-case-study"
}

variable "kubernetes_version" {
  description = "Kubernetes <major>.<minor> of the control plane and nodes. Flux v2.9 (and `fluxs check --pre`) needs 1.33 or later."
  type        = string
  default     = "1.34"
}

variable "node_ami_type" {
  description = "AMI type of the managed nodes. EKS publishes Amazon Linux 2 AMIs (AL2_x86_64) only up to Kubernetes 1.32, so the default is their successor, Amazon Linux 2023."
  type        = string
  default     = "AL2023_x86_64_STANDARD"
}

variable "node_instance_type" {
  description = "EC2 instance type of the nodes (t3.medium: 2 vCPUs, 4 GiB)."
  type        = string
  default     = "t3.medium"
}

variable "node_count" {
  description = "Number of nodes in the managed node group."
  type        = number
  default     = 2
}

variable "node_disk_size" {
  description = "Root disk of each node, in GiB."
  type        = number
  default     = 20
}

variable "vpc_cidr" {
  description = "Address range of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}
