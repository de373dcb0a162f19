# The case study's cluster: a VPC over three availability zones of us-east-1
# and an EKS cluster with one managed node group of two t3.medium nodes.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "fluxs-case-study"
      ManagedBy = "terraform"
    }
  }
}

locals {
  # One /20 private and one /24 public subnet per availability zone.
  private_subnets = [for i, az in var.availability_zones : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets  = [for i, az in var.availability_zones : cidrsubnet(var.vpc_cidr, 8, i + 48)]
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "6.6.0"

  name = var.cluster_name
  cidr = var.vpc_cidr
  azs  = var.availability_zones

  private_subnets = local.private_subnets
  public_subnets  = local.public_subnets

  # Nodes live in the private subnets and reach the internet (image
  # registries, GitHub) through one NAT gateway: one is enough for a demo and
  # costs a third of one per zone.
  enable_nat_gateway = true
  single_nat_gateway = true

  # Services of type LoadBalancer get internet-facing load balancers in the
  # public subnets, internal ones in the private subnets.
  public_subnet_tags = {
    "kubernetes.io/role/elb" = 1
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = 1
  }
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "21.19.0"

  name               = var.cluster_name
  kubernetes_version = var.kubernetes_version

  # The API server is reachable from your machine (kubectl, fluxs, CI) and
  # from the nodes; whoever runs `terraform apply` becomes cluster admin.
  endpoint_public_access                   = true
  enable_cluster_creator_admin_permissions = true

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  addons = {
    coredns    = {}
    kube-proxy = {}
    # The HorizontalPodAutoscalers of examples/app read CPU usage from it.
    metrics-server = {}
    vpc-cni = {
      before_compute = true
    }
    eks-pod-identity-agent = {
      before_compute = true
    }
  }

  eks_managed_node_groups = {
    default = {
      ami_type       = var.node_ami_type
      instance_types = [var.node_instance_type]

      min_size     = var.node_count
      max_size     = var.node_count
      desired_size = var.node_count

      # disk_size is honoured only with EKS's own launch template.
      use_custom_launch_template = false
      disk_size                  = var.node_disk_size
    }
  }
}
