"""The EKS cluster, its node groups, managed add-ons and IAM roles for service accounts."""
