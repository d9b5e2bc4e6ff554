"""CloudSqlReplica: a Cloud SQL for PostgreSQL replica of the RDS primary, private IP only.

Cloud SQL's "replicate from an external server" (pglogical under the hood): a source
representation instance stands for RDS (host, port, replication user), and a Cloud SQL
instance whose master is that representation holds the data. Pulumi creates both and the
replication user's password (in Secret Manager). Two steps stay with an operator, and the
component exports the exact commands for them:
- the RDS side (create the user, grant rds_replication, CREATE EXTENSION pglogical in every
  database), since no cloud API reaches inside PostgreSQL;
- the Admin API's verifyExternalSyncSettings / startExternalSync, which have no Pulumi
  resource, and no gcloud command either (the Cloud SQL guide calls them with curl).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

POSTGRES_PORT = 5432
MIN_POSTGRES_MAJOR = 14
# Cloud SQL's limit on the source representation's host when it is a DNS name (Google's
# "Configure Cloud SQL and the external server for replication": up to 60 characters).
# An RDS endpoint address is 64-68 characters for this project's names
# (<identifier>.<12-char id>.<region>.rds.amazonaws.com), so the replica is given a
# shorter alias of it (components/cloudflare/dns_alias.py).
MAX_SOURCE_HOST_LENGTH = 60
ADMIN_API = "https://sqladmin.googleapis.com/v1"
# Custom tiers run only on Enterprise edition, db-perf-optimized-N-* only on Enterprise Plus;
# PostgreSQL 16+ defaults to Enterprise Plus, so a custom tier without an explicit edition
# fails at create time (pulumi-gcp DatabaseInstanceSettings `edition` docs).
TIER_EDITIONS = {
    re.compile(r"^db-custom-\d{1,2}-\d{3,6}$"): "ENTERPRISE",
    re.compile(r"^db-perf-optimized-N-\d{1,3}$"): "ENTERPRISE_PLUS",
}
PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Flag names as Cloud SQL lists them: lowercase, `cloudsql.` / `pg_stat_statements.` scopes allowed.
FLAG_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
GCP_REGION = re.compile(r"^[a-z]+-[a-z]+\d$")

# CIS GCP Foundations 6.2.x (Cloud SQL for PostgreSQL logging). Callers' flags win, so a
# stack can still loosen one, but only by naming it.
CIS_LOGGING_FLAGS = {
    "log_connections": "on",  # 6.2.2
    "log_disconnections": "on",  # 6.2.3
    "log_error_verbosity": "default",  # 6.2.1: DEFAULT or stricter
    "log_statement": "ddl",  # 6.2.4: record schema changes
    "log_min_messages": "warning",  # 6.2.5: warning or stricter
    "log_min_error_statement": "error",  # 6.2.6: error or stricter
    # 6.2.7: statement-duration logging off, since logged statements can carry data.
    "log_min_duration_statement": "-1",
    # Scored in CIS GCP v1.x (dropped later); cheap, and they explain I/O and lock stalls.
    "log_checkpoints": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
}


@dataclass
class CloudSqlReplicaArgs:
    """Inputs of CloudSqlReplica. Defaults: private IP only, TLS-only clients, protected."""

    region: str
    """Required: the replica's region (the GKE cluster's, so reads stay regional)."""
    network_id: pulumi.Input[str]
    """Required: VPC the replica's private IP lives in (private service access is set up on it)."""
    psa_range_name: pulumi.Input[str]
    """Required: name of the private-services range the private IP is allocated from."""
    private_services_peering: list[pulumi.Resource]
    """Required: the service-networking peering (and its route export); the instance is created after it."""
    source_host: pulumi.Input[str]
    """Required: DNS name of the RDS primary, at most MAX_SOURCE_HOST_LENGTH characters: a public name that follows
    RDS's endpoint (a CNAME of it), so a Multi-AZ failover needs no change."""
    source_ca_certificate: pulumi.Input[str]
    """Required: PEM of the CA that signed the RDS server certificate (the region's RDS root CA). Without it Cloud
    SQL connects unencrypted, which RDS refuses under rds.force_ssl=1, and the replication password would cross
    the VPN in clear text."""
    engine_major_version: int
    """Required: must equal the RDS primary's major, since pglogical replicates between equal majors."""
    disk_size_gb: int
    """Required: initial PD-SSD size, in GB; auto-resize grows it afterwards."""
    source_port: int = POSTGRES_PORT
    """RDS's port. Default 5432 (the SDK's own default is MySQL's 3306)."""
    tier: str = "db-custom-4-16384"
    """Machine tier, db-custom-<vCPU>-<MiB> or db-perf-optimized-N-<vCPU>. Default db-custom-4-16384 (the HEAL7
    design's replica)."""
    database_flags: dict[str, str] = field(default_factory=dict)
    """Added to (and overriding) the CIS logging flags, e.g. {"max_connections": "200"}. Default none."""
    replication_username: str = "cloudsql_replicator"
    """RDS user the replica connects as; the runbook creates it. Default cloudsql_replicator."""
    protect: bool = True
    """`protect` the instance, its source representation and the secret; deletion protection on. Default true."""
    labels: dict[str, str] = field(default_factory=dict)
    """GCP labels on the replica (cost attribution). Default none."""


class CloudSqlReplica(pulumi.ComponentResource):
    instance_name: pulumi.Output[str]
    connection_name: pulumi.Output[str]
    private_ip_address: pulumi.Output[str]
    source_instance_name: pulumi.Output[str]
    replication_password_secret_id: pulumi.Output[str]
    """Full Secret Manager id: projects/<p>/secrets/<id>."""
    verify_external_sync_command: pulumi.Output[str]
    start_external_sync_command: pulumi.Output[str]

    def __init__(self, name: str, args: CloudSqlReplicaArgs, opts: pulumi.ResourceOptions | None = None):
        edition = _validate(name, args)
        super().__init__("platform:gcp:CloudSqlReplica", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        version = f"POSTGRES_{args.engine_major_version}"

        # Alphanumerics only: the runbook pastes the password into CREATE USER ... PASSWORD '...',
        # a shell and JSON, where quotes, backslashes and $ would each need escaping.
        # 40 characters from 62 is ~238 bits.
        password = random.RandomPassword(
            f"{name}-replication-password",
            length=40,
            special=False,
            min_lower=1,
            min_upper=1,
            min_numeric=1,
            opts=child,
        )
        secret = gcp.secretmanager.Secret(
            f"{name}-replication-password",
            secret_id=f"{name}-replication-password",
            replication=gcp.secretmanager.SecretReplicationArgs(auto=gcp.secretmanager.SecretReplicationAutoArgs()),
            labels={**args.labels, "purpose": "cloudsql-replication"},
            deletion_protection=args.protect,
            # A fixed secret id: a replacement must delete the old secret before creating it.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True),
        )
        gcp.secretmanager.SecretVersion(
            f"{name}-replication-password-value",
            secret=secret.id,
            secret_data=password.result,
            opts=child,
        )

        source = gcp.sql.SourceRepresentationInstance(
            f"{name}-source",
            region=args.region,
            database_version=version,
            # A DNS name, not an IP: the alias follows RDS's endpoint, which RDS repoints at
            # the new primary after a Multi-AZ failover (a private IP would go stale).
            host=args.source_host,
            port=args.source_port,  # the SDK defaults to MySQL's 3306
            username=args.replication_username,
            password=password.result,
            # Server-only TLS: the replica checks RDS's certificate against this CA. The SDK
            # has no sslOption, so encryption without a CA cannot be asked for here.
            ca_certificate=args.source_ca_certificate,
            # The representation cannot be updated: a change replaces it under a new name,
            # and the replica's master_instance_name cannot change, so the replica would be
            # replaced too. Protection turns that into a preview error.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

        replica = gcp.sql.DatabaseInstance(
            f"{name}-db",
            region=args.region,
            database_version=version,
            master_instance_name=source.name,
            # No replica_configuration: for PostgreSQL the connection details live on the
            # source representation; its fields here (dump file, MySQL SSL options) do not apply.
            deletion_protection=args.protect,
            settings=gcp.sql.DatabaseInstanceSettingsArgs(
                tier=args.tier,
                edition=edition,
                # ZONAL: REGIONAL needs automated backups and point-in-time recovery, which a
                # read replica cannot have. HA of the data is the RDS primary's Multi-AZ.
                availability_type="ZONAL",
                # No backup_configuration: read replicas cannot have backups (nor PITR), see
                # cloud.google.com/sql/docs/postgres/replication#rr-info. The backup story is
                # the RDS primary's automated backups and their Tokyo copy.
                disk_type="PD_SSD",
                disk_size=args.disk_size_gb,
                disk_autoresize=True,
                ip_configuration=gcp.sql.DatabaseInstanceSettingsIpConfigurationArgs(
                    ipv4_enabled=False,  # CIS GCP 6.6: no public IP
                    private_network=args.network_id,
                    allocated_ip_range=args.psa_range_name,
                    # Only TLS connections from clients (CIS GCP 6.4); client certificates are
                    # not required so IAM/password logins from the pods keep working.
                    ssl_mode="ENCRYPTED_ONLY",
                ),
                database_flags=[
                    gcp.sql.DatabaseInstanceSettingsDatabaseFlagArgs(name=flag, value=value)
                    for flag, value in sorted({**CIS_LOGGING_FLAGS, **args.database_flags}.items())
                ],
                insights_config=gcp.sql.DatabaseInstanceSettingsInsightsConfigArgs(
                    query_insights_enabled=True,
                    record_application_tags=True,
                    # Client addresses are pod IPs: noise, and personal data under some readings.
                    record_client_address=False,
                ),
                # No maintenance_window: read replicas do not support one (Cloud SQL's
                # instance-settings page: they may be updated at any time); setting it
                # leaves a permanent diff or a 400 on update.
                # deletion_protection above guards Pulumi only; this guards console and gcloud too.
                deletion_protection_enabled=args.protect,
                user_labels={**args.labels, "role": "replica"},
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # The private IP comes from the peered range: the peering must exist first.
                depends_on=args.private_services_peering,
                # Auto-resize grows the disk; a later `up` must not try to shrink it back
                # (the SDK warns that would recreate the instance).
                ignore_changes=["settings.diskSize"],
            ),
        )

        # The connection name is <project>:<region>:<instance> (project ids may hold a ':'
        # themselves, hence rsplit), so it names the project without another lookup.
        project = replica.connection_name.apply(lambda c: c.rsplit(":", 2)[0])
        self.instance_name = replica.name
        self.connection_name = replica.connection_name
        self.private_ip_address = replica.private_ip_address
        # The instance CA that signs the replica's server certificate (clients verify with it).
        self.server_ca_certificate = replica.server_ca_certs.apply(_server_ca)
        self.source_instance_name = source.name
        self.replication_password_secret_id = secret.id
        self.verify_external_sync_command = _admin_api_call(project, replica.name, "verifyExternalSyncSettings")
        self.start_external_sync_command = _admin_api_call(project, replica.name, "startExternalSync")
        self.register_outputs(
            {
                "instance_name": self.instance_name,
                "connection_name": self.connection_name,
                "private_ip_address": self.private_ip_address,
                "source_instance_name": self.source_instance_name,
                "replication_password_secret_id": self.replication_password_secret_id,
                "verify_external_sync_command": self.verify_external_sync_command,
                "start_external_sync_command": self.start_external_sync_command,
            }
        )


def _admin_api_call(project: pulumi.Output[str], instance: pulumi.Output[str], method: str) -> pulumi.Output[str]:
    """The curl call of a Cloud SQL Admin API method on the replica.

    syncMode ONLINE: after the initial copy, replication keeps running (OFFLINE copies once).
    The parallel level is left out; unset, the API uses OPTIMAL.
    """
    return pulumi.Output.format(
        'curl -sS -X POST -H "Authorization: Bearer $(gcloud auth print-access-token)" '
        "-H 'Content-Type: application/json' -d '{{\"syncMode\": \"ONLINE\"}}' "
        "{0}/projects/{1}/instances/{2}/{3}",
        ADMIN_API,
        project,
        instance,
        method,
    )


def _validate(name: str, args: CloudSqlReplicaArgs) -> str:
    """Raise on bad args before anything registers; return the edition the tier needs."""
    problems = []
    if args.engine_major_version < MIN_POSTGRES_MAJOR:
        problems.append(f"engine_major_version must be >= {MIN_POSTGRES_MAJOR}, got {args.engine_major_version}")
    editions = [edition for pattern, edition in TIER_EDITIONS.items() if pattern.match(args.tier)]
    if not editions:
        problems.append(f"tier must be db-custom-<vCPU>-<MiB> or db-perf-optimized-N-<vCPU>, got {args.tier!r}")
    if not GCP_REGION.match(args.region):
        problems.append(f"region must be a GCP region like asia-northeast3, got {args.region!r}")
    if not PG_IDENTIFIER.match(args.replication_username) or args.replication_username.startswith(("pg_", "rds")):
        # pg_ and rds prefixes are reserved for PostgreSQL's and RDS's own roles.
        problems.append(
            "replication_username must be a lowercase PostgreSQL identifier (max 63, not pg_* or rds*), "
            f"got {args.replication_username!r}"
        )
    bad_flags = sorted(f for f in args.database_flags if not FLAG_NAME.match(f))
    if bad_flags:
        problems.append(f"database flag names must be lowercase identifiers, got {bad_flags}")
    if not 1 <= args.source_port <= 65535:
        problems.append(f"source_port must be 1-65535, got {args.source_port}")
    if args.disk_size_gb < 10:
        problems.append(f"disk_size_gb must be >= 10 (PD-SSD minimum), got {args.disk_size_gb}")
    if isinstance(args.source_host, str) and len(args.source_host) > MAX_SOURCE_HOST_LENGTH:
        problems.append(
            f"source_host must be at most {MAX_SOURCE_HOST_LENGTH} characters (Cloud SQL's limit), "
            f"got {len(args.source_host)}: {args.source_host!r}"
        )
    if problems:
        raise ValueError(f"CloudSqlReplica {name}: " + "; ".join(problems))
    return editions[0]


def _server_ca(certs: Sequence[gcp.sql.outputs.DatabaseInstanceServerCaCert]) -> str:
    """The instance CA's PEM; a replica without one would leave clients an empty CA file."""
    pem = certs[0].cert if certs else None
    if not pem:
        raise ValueError("CloudSqlReplica: the instance reports no server CA certificate (serverCaCerts)")
    return pem
