"""Cloudflare, the global front door: load balancers over both clouds and the zone's security settings."""
