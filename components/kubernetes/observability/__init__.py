"""Pure generators of the monitoring configuration: Prometheus rule groups (the requirement documents'
alerts, the SLO burn-rate rules), Alertmanager's routing and Grafana's dashboards, as plain dicts.

No Pulumi resources and no config reading here: MonitoringStack turns these into PrometheusRules and
ConfigMaps, and the tests render them to files for promtool and amtool.
"""
