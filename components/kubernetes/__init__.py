"""The Kubernetes layer: components that run on both clusters (EKS and GKE), one component per file."""
