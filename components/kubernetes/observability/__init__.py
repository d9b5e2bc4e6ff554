"""Observability generators: alert rules, SLO rules, Alertmanager routing, dashboards and the metric
catalogue, as plain Python data (no Pulumi resources, no config reading); MonitoringStack registers them."""
