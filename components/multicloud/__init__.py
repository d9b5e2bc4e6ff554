"""What spans the clouds: the HA VPN between the AWS and GCP networks, and the base image
pushed to both clouds' registries."""
