"""GCP secondary region: network, private GKE and its node pools, the Cloud SQL replica, Artifact Registry."""
