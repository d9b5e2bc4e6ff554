"""AWS primary region: network, data stores, registries, backups (the EKS cluster in `eks/`)."""
