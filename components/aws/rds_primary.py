"""RdsPrimary: the platform's PostgreSQL primary, encrypted, private and replicable.

The Cloud SQL replica on GCP replicates from it with pglogical, so the parameter group
preloads pglogical and turns on logical replication. The master password is managed by
RDS in Secrets Manager and never passes through the program.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws._context import AwsContext
from components.aws._iam_documents import service_trust_policy
from components.aws._kms import customer_key, encrypted_log_groups
from components.aws._security_groups import ClientSource, service_security_group

POSTGRES_PORT = 5432
LOG_EXPORTS = ["postgresql", "upgrade"]
# Parameters PostgreSQL reads only at start: RDS rejects `immediate` for them. They take
# effect at the next reboot, which RDS never does on its own: after changing one, an
# operator reboots (the instance shows `pending-reboot` until then).
STATIC_PARAMETERS = {"max_connections", "shared_buffers", "shared_preload_libraries", "rds.logical_replication"}


@dataclass
class RdsPrimaryArgs:
    """Inputs of RdsPrimary. Defaults: Multi-AZ, protected, 7 days of backups, the HEAL7 design's windows."""

    vpc_id: pulumi.Input[str]
    """Required: the VPC of the database's security group."""
    subnet_ids: pulumi.Input[list[str]]
    """Required: private subnets, one per AZ, for the subnet group."""
    instance_class: str
    """Required: the DB instance class, e.g. db.r6g.xlarge; sized per tier, so no default."""
    allocated_storage_gib: int
    """Required: initial gp3 storage, in GiB (20-65536)."""
    max_allocated_storage_gib: int
    """Required: storage autoscaling ceiling, in GiB; at least 10 % above allocated_storage_gib (RDS refuses less)."""
    tuning: dict[str, str]
    """Required: the HEAL7 design's PostgreSQL tuning in RDS parameter units (PostgresTuning.rds_values(): 8 kB
    pages, kB)."""
    db_name: str
    """Required: the application database created with the instance."""
    master_username: str
    """Required: the master user; its password is managed by RDS in Secrets Manager."""
    engine_major_version: int = 16
    """PostgreSQL major version; RDS picks the minor and keeps it current. Default 16."""
    clients: list[ClientSource] = field(default_factory=list)
    """Who is admitted on 5432, each by a stable key (the EKS nodes' security group, the
    Cloud SQL replica's range and the GKE pods' range across the VPN). Default none, which
    is refused: the database would be unreachable."""
    multi_az: bool = True
    """A synchronous standby in a second AZ, so a zone loss fails over. Default true."""
    backup_retention_days: int = 7
    """Automated backups kept, in days (7-35). Default 7."""
    backup_window: str = "03:00-04:00"
    """Daily backup window, "HH:MM-HH:MM" UTC, at least 30 minutes. Default 03:00-04:00 (the HEAL7 design's
    window)."""
    maintenance_window: str = "sun:04:00-sun:05:00"
    """Weekly maintenance window, "ddd:HH:MM-ddd:HH:MM" UTC, at least 30 minutes, not overlapping the backup
    window. Default sun:04:00-sun:05:00 (the HEAL7 design's window)."""
    backup_replica_region: str | None = None
    """Region that also keeps the automated backups (region-loss recovery). Default None: no copy."""
    log_retention_days: int = 90
    """CloudWatch retention of the PostgreSQL and upgrade logs, in days. Default 90."""
    protect: bool = True
    """`protect` the instance, key and logs; RDS deletion protection on. Default true."""
    apply_immediately: bool = False
    """Default False (RDS's own default): instance changes (class, storage, Multi-AZ, engine
    version) wait for `maintenance_window` and show as a pending diff until then; True applies
    them at the next `pulumi up`, which may restart or fail over the database. Parameter-group
    changes follow their own apply method either way."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource (a Name tag is added per resource). Default none."""


class RdsPrimary(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    master_secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    instance_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RdsPrimaryArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.clients:
            raise ValueError(f"RdsPrimary {name}: no clients given; the database would be unreachable")
        super().__init__("platform:aws:RdsPrimary", name, None, opts)
        aws_context = AwsContext.of(self)
        child = pulumi.ResourceOptions(parent=self)
        identifier = name  # fixed: RDS writes its logs to groups named after it

        key, log_groups = encrypted_log_groups(
            name,
            context=aws_context,
            description=f"Encrypts storage, Performance Insights, logs and the master secret of {identifier}",
            log_groups={f"{name}-log-{log}": f"/aws/rds/instance/{identifier}/{log}" for log in LOG_EXPORTS},
            retention_days=args.log_retention_days,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )

        parameters = {
            **args.tuning,
            # pg_stat_statements: the HEAL7 design's query statistics. pglogical: the Cloud SQL
            # replica's external-server replication needs it preloaded on the source.
            "shared_preload_libraries": "pg_stat_statements,pglogical",
            "rds.logical_replication": "1",
            # Refuse unencrypted client connections (Security Hub RDS: TLS in transit).
            "rds.force_ssl": "1",
        }
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{args.engine_major_version}",
            description=f"HEAL7 tuning and pglogical for {identifier}",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(
                    name=key_name,
                    value=value,
                    apply_method="pending-reboot" if key_name in STATIC_PARAMETERS else "immediate",
                )
                for key_name, value in sorted(parameters.items())
            ],
            tags={**args.tags, "Name": f"{name}-params"},
            opts=child,
        )
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=args.subnet_ids,
            description=f"Private subnets of {identifier}",
            tags={**args.tags, "Name": f"{name}-subnets"},
            opts=child,
        )
        security_group = service_security_group(
            name,
            vpc_id=args.vpc_id,
            description=f"PostgreSQL clients of {identifier}",
            port=POSTGRES_PORT,
            clients=args.clients,
            parent=self,
            tags=args.tags,
        )

        monitoring_role = aws.iam.Role(
            f"{name}-monitoring-role",
            description=f"Enhanced monitoring of {identifier}",
            # Confused-deputy guard, as the RDS guide on Enhanced Monitoring shows.
            assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com", aws_context.account_id),
            tags={**args.tags, "Name": f"{name}-monitoring-role"},
            opts=child,
        )
        monitoring_policy = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-policy",
            role=monitoring_role.name,
            policy_arn=aws_context.aws_managed_policy("service-role/AmazonRDSEnhancedMonitoringRole"),
            opts=child,
        )

        snapshot_suffix = random.RandomId(f"{name}-final-snapshot", byte_length=4, opts=child)
        instance = aws.rds.Instance(
            f"{name}-db",
            identifier=identifier,
            engine="postgres",
            # A major only: RDS picks its default minor, auto_minor_version_upgrade keeps it current.
            engine_version=str(args.engine_major_version),
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,  # a major upgrade is a deliberate change
            instance_class=args.instance_class,
            # The HEAL7 design: gp3, autoscaling from allocated to max (1000 -> 5000 GB in prod).
            storage_type="gp3",
            allocated_storage=args.allocated_storage_gib,
            max_allocated_storage=args.max_allocated_storage_gib,
            storage_encrypted=True,
            kms_key_id=key.arn,
            db_name=args.db_name,
            username=args.master_username,
            # RDS generates and rotates the password in Secrets Manager (the HEAL7 design's anti-example:
            # var.db_password); the program never sees it.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.arn,
            iam_database_authentication_enabled=True,
            multi_az=args.multi_az,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            publicly_accessible=False,
            parameter_group_name=parameter_group.name,
            ca_cert_identifier="rds-ca-rsa2048-g1",
            backup_retention_period=args.backup_retention_days,
            backup_window=args.backup_window,
            maintenance_window=args.maintenance_window,
            # Stated, not left to the provider's default: when a change reaches the instance.
            apply_immediately=args.apply_immediately,
            # RDS enrols an instance in paid Extended Support when its major leaves standard
            # support (open-source-rds-extended-support is the API's default). Disabled, as the
            # EKS cluster's upgrade policy is: an out-of-support major must be upgraded, not paid for.
            engine_lifecycle_support="open-source-rds-extended-support-disabled",
            copy_tags_to_snapshot=True,
            # Keep automated backups after a delete: the last line of recovery.
            delete_automated_backups=False,
            deletion_protection=args.protect,
            skip_final_snapshot=False,
            # A fresh suffix per instance: a fixed name fails the second delete.
            final_snapshot_identifier=pulumi.Output.concat(identifier, "-final-", snapshot_suffix.hex),
            # Database Insights' standard mode (Performance Insights' successor) set
            # explicitly, so the mode is ours rather than an AWS default that may change.
            database_insights_mode="standard",
            performance_insights_enabled=True,
            performance_insights_kms_key_id=key.arn,
            performance_insights_retention_period=7,  # the free tier's window
            monitoring_interval=60,  # the HEAL7 design's enhanced-monitoring interval
            monitoring_role_arn=monitoring_role.arn,
            enabled_cloudwatch_logs_exports=LOG_EXPORTS,
            tags={**args.tags, "Name": identifier},
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect, depends_on=[*log_groups.values(), monitoring_policy]
            ),
        )

        if args.backup_replica_region:
            # Encrypted backups can only be replicated with a key in the destination region.
            replica_key = customer_key(
                f"{name}-backup-replica",
                context=aws_context,
                description=f"Encrypts the replicated automated backups of {identifier}",
                parent=self,
                protect=args.protect,
                tags=args.tags,
                region=args.backup_replica_region,
            )
            aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-backup-replication",
                source_db_instance_arn=instance.arn,
                kms_key_id=replica_key.arn,
                retention_period=args.backup_retention_days,
                # The replication is created in, and runs from, the destination region.
                region=args.backup_replica_region,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )

        self.endpoint = instance.endpoint
        self.address = instance.address
        self.port = instance.port
        self.master_secret_arn = instance.master_user_secrets[0].secret_arn
        self.security_group_id = security_group.id
        self.instance_arn = instance.arn
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "address": self.address,
                "port": self.port,
                "master_secret_arn": self.master_secret_arn,
                "security_group_id": self.security_group_id,
                "instance_arn": self.instance_arn,
            }
        )
