"""Data-store controls for RDS PostgreSQL and ElastiCache Redis: encryption, privacy,
backups, high availability and deletion protection (the HEAL7 design asks for encrypted RDS and
Redis; AWS FSBP and CIS AWS give the rest)."""

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import Config, ResourceControl, as_list, aws_fsbp, checkov, cis_aws, get, is_true

FAMILY = "aws-data"
RDS = "aws:rds/instance:Instance"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"


def _require_true(prop: str, problem: str):
    """A check that `prop` is true; absent is the provider's false."""

    def check(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
        if not is_true(get(args.props, prop)):
            yield f"{problem} ({prop})"

    return check


def _rds_not_public(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if is_true(get(args.props, "publiclyAccessible")):
        yield "the instance is reachable from the internet (publiclyAccessible)"


def _rds_backups(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    days = get(args.props, "backupRetentionPeriod")
    if days is None or days < config["minimumDays"]:
        shown = "unset (the provider's default keeps 1 day)" if days is None else f"{days:g} days"
        yield f"automated backups are kept {shown}, below {config['minimumDays']:g} days (backupRetentionPeriod)"


def _rds_performance_insights_encrypted(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if is_true(get(args.props, "performanceInsightsEnabled")) and not get(args.props, "performanceInsightsKmsKeyId"):
        yield "Performance Insights is on without a customer-managed key (performanceInsightsKmsKeyId)"


def _rds_log_exports(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    exported = set(as_list(get(args.props, "enabledCloudwatchLogsExports")))
    missing = [log for log in config["requiredLogs"] if log not in exported]
    if missing:
        yield f"logs {missing} are not exported to CloudWatch (enabledCloudwatchLogsExports)"


def _redis_at_rest(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    encrypted = get(args.props, "atRestEncryptionEnabled")
    # pulumi_aws 7: the default is true for the valkey engine and false for redis.
    if encrypted is False or (encrypted is None and get(args.props, "engine") != "valkey"):
        yield "data at rest is not encrypted (atRestEncryptionEnabled)"


def _redis_auth_token(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    # An AUTH token, or RBAC user groups (Redis 6+), authenticate clients.
    if not get(args.props, "authToken") and not as_list(get(args.props, "userGroupIds")):
        yield "clients connect without authentication (authToken or userGroupIds)"


def _redis_failover(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not is_true(get(args.props, "automaticFailoverEnabled")):
        yield "a primary failure needs manual promotion (automaticFailoverEnabled)"
    nodes = get(args.props, "numCacheClusters")
    if nodes is not None and nodes < 2:
        yield f"{nodes:g} node cannot fail over; automatic failover needs a replica (numCacheClusters >= 2)"


REDIS_NOTE = "insecure: the provider defaults the flag to false"
RDS_NOTE = "insecure: the provider defaults the flag to false"

POLICIES = [
    ResourceControl(
        name="rds-storage-encrypted",
        description="RDS instances encrypt storage, snapshots and backups with KMS.",
        severity=Severity.CRITICAL,
        framework=cis_aws("2.3.1"),
        family=FAMILY,
        resource_types=[RDS],
        when_absent=RDS_NOTE,
        remediation="set storageEncrypted true and kmsKeyId to a rotating customer key",
        check=_require_true("storageEncrypted", "storage is not encrypted"),
    ),
    ResourceControl(
        name="rds-not-public",
        description="RDS instances are not publicly accessible.",
        severity=Severity.CRITICAL,
        framework=cis_aws("2.3.3"),
        family=FAMILY,
        resource_types=[RDS],
        when_absent="secure: publiclyAccessible defaults to false",
        remediation="set publiclyAccessible false and keep the instance in private subnets",
        check=_rds_not_public,
    ),
    ResourceControl(
        name="rds-backup-retention",
        description="RDS keeps automated backups for at least the configured number of days (7).",
        severity=Severity.HIGH,
        framework=aws_fsbp("RDS.11"),
        family=FAMILY,
        resource_types=[RDS],
        when_absent="insecure: the provider's default retention is 1 day",
        remediation="set backupRetentionPeriod to 7 days or more",
        settings={
            "minimumDays": {
                "type": "integer",
                "minimum": 1,
                "maximum": 35,
                "default": 7,
                "description": "AWS FSBP RDS.11 asks for at least 7 days",
            }
        },
        check=_rds_backups,
    ),
    ResourceControl(
        name="rds-multi-az",
        description="RDS runs a synchronous standby in a second AZ.",
        severity=Severity.HIGH,
        framework=aws_fsbp("RDS.5"),
        family=FAMILY,
        resource_types=[RDS],
        when_absent=RDS_NOTE,
        remediation="set multiAz true",
        check=_require_true("multiAz", "a zone loss takes the database down"),
    ),
    ResourceControl(
        name="rds-deletion-protection",
        description="RDS instances refuse deletion until deletion protection is turned off.",
        severity=Severity.HIGH,
        framework=aws_fsbp("RDS.8"),
        family=FAMILY,
        resource_types=[RDS],
        when_absent=RDS_NOTE,
        remediation="set deletionProtection true",
        check=_require_true("deletionProtection", "the instance can be deleted by one API call"),
    ),
    ResourceControl(
        name="rds-iam-authentication",
        description="RDS accepts IAM database authentication, so workloads need no static passwords.",
        severity=Severity.MEDIUM,
        framework=aws_fsbp("RDS.10"),
        family=FAMILY,
        resource_types=[RDS],
        when_absent=RDS_NOTE,
        remediation="set iamDatabaseAuthenticationEnabled true",
        check=_require_true("iamDatabaseAuthenticationEnabled", "IAM authentication is off"),
    ),
    ResourceControl(
        name="rds-performance-insights-encrypted",
        description="Performance Insights data is encrypted with a customer-managed KMS key.",
        severity=Severity.MEDIUM,
        framework=checkov("CKV_AWS_354"),
        family=FAMILY,
        resource_types=[RDS],
        when_absent="secure when Performance Insights is off; insecure (AWS-managed key) when on without a key",
        remediation="set performanceInsightsKmsKeyId to the instance's KMS key",
        check=_rds_performance_insights_encrypted,
    ),
    ResourceControl(
        name="rds-log-exports",
        description="RDS exports the PostgreSQL and upgrade logs to CloudWatch.",
        severity=Severity.MEDIUM,
        framework=aws_fsbp("RDS.9"),
        family=FAMILY,
        resource_types=[RDS],
        when_absent="insecure: no log is exported unless listed",
        remediation="set enabledCloudwatchLogsExports to ['postgresql', 'upgrade']",
        settings={"requiredLogs": {"type": "array", "items": {"type": "string"}, "default": ["postgresql", "upgrade"]}},
        check=_rds_log_exports,
    ),
    ResourceControl(
        name="elasticache-at-rest-encryption",
        description="ElastiCache Redis encrypts data and snapshots at rest.",
        severity=Severity.CRITICAL,
        framework=aws_fsbp("ElastiCache.4"),
        family=FAMILY,
        resource_types=[REDIS],
        when_absent="mixed: atRestEncryptionEnabled defaults to false for redis (a violation) and true for valkey",
        remediation="set atRestEncryptionEnabled true and kmsKeyId",
        check=_redis_at_rest,
    ),
    ResourceControl(
        name="elasticache-in-transit-encryption",
        description="ElastiCache Redis requires TLS between clients and nodes.",
        severity=Severity.HIGH,
        framework=aws_fsbp("ElastiCache.5"),
        family=FAMILY,
        resource_types=[REDIS],
        when_absent=REDIS_NOTE,
        remediation="set transitEncryptionEnabled true",
        check=_require_true("transitEncryptionEnabled", "traffic to Redis is plaintext"),
    ),
    ResourceControl(
        name="elasticache-auth",
        description="ElastiCache Redis authenticates clients with an AUTH token or RBAC users.",
        severity=Severity.HIGH,
        framework=aws_fsbp("ElastiCache.6"),
        family=FAMILY,
        resource_types=[REDIS],
        when_absent="insecure: without authToken or userGroupIds any client in the security group connects",
        remediation="set authToken from a generated secret (Secrets Manager) or attach userGroupIds",
        check=_redis_auth_token,
    ),
    ResourceControl(
        name="elasticache-automatic-failover",
        description="ElastiCache Redis has a replica and fails over automatically.",
        severity=Severity.MEDIUM,
        framework=aws_fsbp("ElastiCache.3"),
        family=FAMILY,
        resource_types=[REDIS],
        when_absent=REDIS_NOTE,
        remediation="set automaticFailoverEnabled true with numCacheClusters >= 2",
        check=_redis_failover,
    ),
]
