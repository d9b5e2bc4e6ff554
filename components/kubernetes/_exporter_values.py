"""The exporters' chart values and ServiceMonitor as plain data, so tests read exactly what
DataStoreExporters installs (components/kubernetes/data_store_exporters.py says why each is so).
"""

from dataclasses import dataclass
from typing import Any

import pulumi

from components.kubernetes._app_specs import CA_DIRECTORY, RDS_CA_FILE, ca_path

POSTGRES_JOB = "postgres-exporter"
"""Release, fullname (Service, Deployment) and the `job` label of the PostgreSQL exporter."""
REDIS_JOB = "redis-exporter"
POSTGRES_SERVICE = "postgresql"
"""The `service` label every PostgreSQL series carries (the alert contract)."""
REDIS_SERVICE = "redis"
POSTGRES_SECRET = "postgres-exporter-credentials"
POSTGRES_PASSWORD_KEY = "password"
REDIS_SECRET = "redis-exporter-credentials"
REDIS_TOKEN_KEY = "auth-token"
POSTGRES_CA_CONFIGMAP = "postgres-exporter-ca"
SERVICE_MONITOR_API = "monitoring.coreos.com/v1"
# The charts' selector labels (templates/_helpers.tpl): name is the chart's, instance the release.
REDIS_SELECTOR = {"app.kubernetes.io/name": "prometheus-redis-exporter", "app.kubernetes.io/instance": REDIS_JOB}
REDIS_PORT_NAME = "redis-exporter"
"""The redis-exporter chart's Service port name (values.yaml service.portName at 6.29.0)."""
NO_SIDECAR = {"sidecar.istio.io/inject": "false"}
# The Redis exporter's image runs as 59000:59000 (its Dockerfile); postgres_exporter's chart
# sets 1001 (values.yaml at 8.2.0).
REDIS_UID = 59000
POSTGRES_UID = 1001


@dataclass(frozen=True)
class PostgresTarget:
    """The RDS primary and how the exporter logs in to it."""

    host: pulumi.Input[str]
    """Required: the instance's DNS address (RdsPrimary.address; its certificate names it)."""
    port: pulumi.Input[int]
    """Required: its TCP port (RdsPrimary.port, 5432)."""
    database: str
    """Required: the database the exporter connects to (the application database: pg_stat_statements
    and the per-table statistics are read there); instance-wide views cover the others."""
    user: str
    """Required: the monitoring role, a lowercase identifier holding pg_monitor only (`<name>_monitor`)."""
    password_remote_key: pulumi.Input[str]
    """Required: the Secrets Manager name (or ARN) of its password (MonitoringCredentials.secret_name)."""
    ca_certificate: pulumi.Input[str]
    """Required: PEM of the RDS root CA the server's certificate chains to (config.rds_ca_certificate)."""


@dataclass(frozen=True)
class RedisTarget:
    """The ElastiCache replication group's primary and its AUTH token."""

    host: pulumi.Input[str]
    """Required: the primary endpoint's DNS name (ElastiCacheRedis.primary_endpoint)."""
    port: pulumi.Input[int]
    """Required: its TCP port (ElastiCacheRedis.port, 6379)."""
    auth_token_remote_key: pulumi.Input[str]
    """Required: the Secrets Manager ARN (or name) of the AUTH token (ElastiCacheRedis.auth_token_secret_arn)."""


def postgres_exporter_values(target: PostgresTarget, *, statement_statistics: bool) -> dict[str, Any]:
    """Values for the prometheus-postgres-exporter chart (keys checked against its values.yaml,
    templates/deployment.yaml and _helpers.tpl at 8.2.0)."""
    port = pulumi.Output.from_input(target.port).apply(str)  # the chart runs it through `tpl`
    return {
        "fullnameOverride": POSTGRES_JOB,
        "replicaCount": 1,
        # Renders DATA_SOURCE_URI "<host>:<port>/<database>?sslmode=verify-full&sslrootcert=...",
        # DATA_SOURCE_USER, and DATA_SOURCE_PASS from the synced Secret (the chart then renders
        # no Secret of its own); the exporter joins them into its DSN (exporter/datasource.go).
        "config": {
            "datasource": {
                "host": target.host,
                "port": port,
                "database": target.database,
                "user": target.user,
                "passwordSecret": {"name": POSTGRES_SECRET, "key": POSTGRES_PASSWORD_KEY},
                "sslmode": "verify-full",
                "extraParams": f"sslrootcert={ca_path(RDS_CA_FILE)}",
            },
            "extraArgs": ["--collector.stat_statements"] if statement_statistics else [],
        },
        "extraVolumes": [{"name": "ca", "configMap": {"name": POSTGRES_CA_CONFIGMAP}}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": CA_DIRECTORY, "readOnly": True}],
        "podLabels": NO_SIDECAR,
        # The exporter calls no Kubernetes API: no Role, no token (the chart's default false, stated).
        "rbac": {"create": False},
        "automountServiceAccountToken": False,
        "resources": _resources("10m", "64Mi", "256Mi"),
        # Pod Security restricted: the chart's defaults (values.yaml at 8.2.0), stated.
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": POSTGRES_UID,
            "runAsGroup": POSTGRES_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": _container_security(),
        "serviceMonitor": {
            "enabled": True,
            "relabelings": relabelings(POSTGRES_JOB, POSTGRES_SERVICE, endpoint(target.host, target.port)),
        },
    }


def redis_exporter_values(target: RedisTarget) -> dict[str, Any]:
    """Values for the prometheus-redis-exporter chart (keys checked against its values.yaml and
    templates/deployment.yaml at 6.29.0)."""
    return {
        "fullnameOverride": REDIS_JOB,
        "replicaCount": 1,
        # `rediss`: the exporter dials TLS for that scheme (exporter/redis.go), verified against
        # the system pool. The chart's redisTlsConfig stays off: it only mounts CA or client
        # files from Secrets, and there are none to mount.
        "redisAddress": redis_address(target.host, target.port),
        "redisTlsConfig": {"enabled": False, "skipTlsVerification": False},
        "auth": {"enabled": True, "secret": {"name": REDIS_SECRET, "key": REDIS_TOKEN_KEY}},
        # ElastiCache restricts CONFIG: skip the config scrape instead of failing it every time.
        "extraArgs": {"config-command": "-"},
        "labels": NO_SIDECAR,
        "rbac": {"create": False},
        "resources": _resources("10m", "32Mi", "128Mi"),
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": REDIS_UID,
            "runAsGroup": REDIS_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": _container_security(),
        # Written by the component (module docstring: the chart's Capabilities check).
        "serviceMonitor": {"enabled": False},
    }


def redis_address(host: pulumi.Input[str], port: pulumi.Input[int]) -> pulumi.Output[str]:
    return pulumi.Output.concat("rediss://", host, ":", pulumi.Output.from_input(port).apply(str))


def endpoint(host: pulumi.Input[str], port: pulumi.Input[int]) -> pulumi.Output[str]:
    """`<host>:<port>` of a data store: the `instance` its series carry."""
    return pulumi.Output.concat(host, ":", pulumi.Output.from_input(port).apply(str))


def relabelings(job: str, service: str, instance: pulumi.Input[str]) -> list[dict[str, Any]]:
    """ServiceMonitor endpoint relabelings: the contract's `job` and `service`, and `instance` the
    data store's endpoint. The operator appends them after its own (which set job and service
    from the Service name), so these win."""
    return [
        {"action": "replace", "targetLabel": "job", "replacement": job},
        {"action": "replace", "targetLabel": "service", "replacement": service},
        {"action": "replace", "targetLabel": "instance", "replacement": instance},
    ]


def redis_service_monitor_spec(namespace: str, endpoint_relabelings: list[dict[str, Any]]) -> dict[str, Any]:
    """`spec` of the redis-exporter's ServiceMonitor: its chart Service's port, in its own namespace."""
    return {
        "selector": {"matchLabels": REDIS_SELECTOR},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [{"port": REDIS_PORT_NAME, "path": "/metrics", "relabelings": endpoint_relabelings}],
    }


def _resources(cpu: str, memory: str, memory_limit: str) -> dict[str, Any]:
    # No CPU limit: throttling only slows a scrape; the memory limit bounds a leak.
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}}


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
    }
