"""The workloads' data path, as secrets: which URL each workload's pods get on each cluster,
and where those URLs are stored.

Each workload's `uses` names the data stores it connects to; each becomes environment
variables synced by External Secrets from the cluster's cloud secret store:

- EKS (AWS Secrets Manager, `<prefix>/workloads/<key>`): `DATABASE_URL` -> the RDS primary,
  `REDIS_URL` -> ElastiCache, both in the VPC's private subnets.
- GKE (GCP Secret Manager, `<prefix>-workloads-<key>`): `DATABASE_READ_URL` -> the Cloud SQL
  replica, in the same region (reads stay close, and keep working while the VPN is down);
  `DATABASE_URL` -> the RDS primary across the HA VPN (the one writable copy: the replica
  only follows RDS, and a write there would never reach it); `REDIS_URL` -> the same ElastiCache across the VPN (one
  session store, so a client moved between clouds by the front door keeps its session while
  AWS is up; with AWS's region lost, sessions are lost and users sign in again).

GKE pods keep their pod IPs towards AWS (10.0.0.0/8 is among GKE's default non-masquerade
destinations), so AWS sees the pods range: Cloud Router advertises it over BGP
(stacks/platform.py), and the RDS and ElastiCache security groups admit it
(stacks/aws_platform.py).
"""

from typing import Literal

import pulumi

from components.gcp.cloudsql_replica import POSTGRES_PORT as REPLICA_PORT
from components.kubernetes._app_specs import RDS_CA_FILE, REPLICA_CA_FILE, ca_path
from components.multicloud.workload_secrets import (
    Connection,
    PostgresConnection,
    RedisConnection,
    WorkloadSecrets,
    WorkloadSecretsArgs,
)
from stacks.aws_platform import AwsPrimary, application_database
from stacks.config.models import PlatformConfig
from stacks.gcp_platform import GcpSecondary

DATABASE_URL = "database-url"
DATABASE_READ_URL = "database-read-url"
REDIS_URL = "redis-url"

# Per cluster: what each data store in a workload's `uses` gives its pods, variable -> key.
ENVIRONMENT: dict[str, dict[str, dict[str, str]]] = {
    "eks": {"database": {"DATABASE_URL": DATABASE_URL}, "redis": {"REDIS_URL": REDIS_URL}},
    "gke": {
        "database": {"DATABASE_URL": DATABASE_URL, "DATABASE_READ_URL": DATABASE_READ_URL},
        "redis": {"REDIS_URL": REDIS_URL},
    },
}


def aws_name_prefix(config: PlatformConfig) -> str:
    """Secrets Manager names of the workloads' secrets start with this; only they do."""
    return f"{config.resource_prefix}/workloads/"


def gcp_id_prefix(config: PlatformConfig) -> str:
    """Secret Manager ids of the workloads' secrets start with this (ids take no '/')."""
    return f"{config.resource_prefix}-workloads-"


def application_user(config: PlatformConfig) -> str:
    """The PostgreSQL role the workloads log in as (created once by the operator, README)."""
    return f"{config.name.replace('-', '_')}_app"


def workload_keys(config: PlatformConfig, cluster: Literal["eks", "gke"]) -> dict[str, dict[str, str]]:
    """Workload placed on `cluster` -> its secret variables -> key (without the store's prefix)."""
    environment = ENVIRONMENT[cluster]
    return {
        name: {variable: key for store in workload.uses for variable, key in environment[store].items()}
        for name, workload in config.workloads.items()
        if cluster in workload.placement and workload.uses
    }


def build_workload_secrets(
    config: PlatformConfig, primary: AwsPrimary, secondary: GcpSecondary, opts: pulumi.ResourceOptions
) -> WorkloadSecrets | None:
    """The URLs the placed workloads use, each in the store of the cloud that reads it.

    None when no workload uses a data store (there is nothing to store)."""
    database = application_database(config)
    # RDS's certificate names its endpoint address (rds-ca-rsa2048-g1), so libpq checks both
    # the CA and the host name.
    primary_database = PostgresConnection(
        host=primary.database.address,
        port=primary.database.port,
        database=database,
        sslmode="verify-full",
        root_cert=ca_path(RDS_CA_FILE),
    )
    cache = RedisConnection(
        host=primary.cache.primary_endpoint, port=primary.cache.port, auth_token=primary.cache.auth_token
    )
    connections: dict[str, dict[str, Connection]] = {
        "eks": {DATABASE_URL: primary_database, REDIS_URL: cache},
        "gke": {
            DATABASE_URL: primary_database,
            # The replica's private IP: its server certificate comes from a Cloud SQL
            # per-instance CA and names the instance (`<project>:<instance>`), not the IP, so a
            # host-name check would always fail; verify-ca still refuses any other server.
            DATABASE_READ_URL: PostgresConnection(
                host=secondary.replica.private_ip_address,
                port=REPLICA_PORT,
                database=database,
                sslmode="verify-ca",
                root_cert=ca_path(REPLICA_CA_FILE),
            ),
            REDIS_URL: cache,
        },
    }
    used = {
        cluster: {key for keys in workload_keys(config, cluster).values() for key in keys.values()}
        for cluster in ("eks", "gke")
    }
    if not used["eks"] and not used["gke"]:
        return None
    return WorkloadSecrets(
        f"{config.resource_prefix}-workload-secrets",
        WorkloadSecretsArgs(
            aws_name_prefix=aws_name_prefix(config),
            gcp_id_prefix=gcp_id_prefix(config),
            database_user=application_user(config),
            aws={key: c for key, c in connections["eks"].items() if key in used["eks"]},
            gcp={key: c for key, c in connections["gke"].items() if key in used["gke"]},
            protect=config.protect,
            labels=config.common_tags,
        ),
        opts=opts,
    )
