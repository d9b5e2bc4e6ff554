"""What spans the clouds: the HA VPN between the AWS and GCP networks."""
