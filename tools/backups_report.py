"""The plan's backups table: what each copy of the data keeps and where, read from the inventory (the
values the program registers, not the config), so a plan shows the retention and the cross-region
copy a `pulumi up` would set:

- RDS's automated backups (retention, window) and their replication to the DR region, or none;
- ElastiCache's snapshots (retention, window), kept inside ElastiCache only;
- the backup bucket's lifecycle (storage-class moves, expiry, noncurrent versions);
- the nightly dump and the weekly restore drill (schedule, zone, deadline).
"""

from typing import Any

from rich.table import Table

RDS = "aws:rds/instance:Instance"
RDS_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
CRONJOB = "kubernetes:batch/v1:CronJob"
# BackupBucket names its lifecycle `<name>-lifecycle`, and the stacks name the bucket `<prefix>-backups`.
BACKUP_LIFECYCLE_SUFFIX = "-backups-lifecycle"
CRONJOB_ROLES = {"postgres-dump": "PostgreSQL dump to the bucket", "postgres-restore-drill": "PostgreSQL restore drill"}


def _days(value: Any) -> str:
    return f"{int(value)} day{'' if int(value) == 1 else 's'}"


def _lifecycle(rules: list[dict[str, Any]]) -> str:
    parts = []
    for rule in rules:
        for transition in rule.get("transitions") or []:
            parts.append(f"{transition['storageClass']} after {int(transition['days'])} d")
        if "expiration" in rule:
            parts.append(f"expire after {int(rule['expiration']['days'])} d")
        if "noncurrentVersionExpiration" in rule:
            parts.append(f"noncurrent versions {int(rule['noncurrentVersionExpiration']['noncurrentDays'])} d")
    return ", ".join(parts)


def backups_rows(inventory: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, resource, setting) for every copy of the data the stack keeps."""
    resources = inventory["resources"]

    def of(type_token: str) -> list[dict[str, Any]]:
        return [r for r in resources if r["type"] == type_token]

    rows: list[tuple[str, str, str]] = []
    for instance in of(RDS):
        inputs = instance["inputs"]
        rows.append(
            (
                "RDS automated backups (PITR)",
                instance["name"],
                f"{_days(inputs['backupRetentionPeriod'])}, window {inputs['backupWindow']} UTC",
            )
        )
    replications = of(RDS_REPLICATION)
    for replication in replications:
        inputs = replication["inputs"]
        rows.append(
            (
                "RDS backups copied to the DR region",
                replication["name"],
                f"{inputs['region']}, {_days(inputs['retentionPeriod'])}",
            )
        )
    if of(RDS) and not replications:
        rows.append(("RDS backups copied to the DR region", "", "none (this region only)"))
    for group in of(REDIS):
        inputs = group["inputs"]
        rows.append(
            (
                "ElastiCache snapshots",
                group["name"],
                f"{_days(inputs['snapshotRetentionLimit'])}, window {inputs['snapshotWindow']} UTC; not exported to S3 (ElastiCache's export needs an ACL grant the bucket's BucketOwnerEnforced refuses)",
            )
        )
    for lifecycle in of(LIFECYCLE):
        if lifecycle["name"].endswith(BACKUP_LIFECYCLE_SUFFIX):
            rows.append(("backup bucket lifecycle", lifecycle["name"], _lifecycle(lifecycle["inputs"]["rules"])))
    jobs = [c for c in of(CRONJOB) if c["inputs"]["metadata"]["name"] in CRONJOB_ROLES]
    for cronjob in sorted(jobs, key=lambda c: list(CRONJOB_ROLES).index(c["inputs"]["metadata"]["name"])):
        spec, name = cronjob["inputs"]["spec"], cronjob["inputs"]["metadata"]["name"]
        deadline = int(spec["jobTemplate"]["spec"]["activeDeadlineSeconds"]) // 60
        rows.append(
            (CRONJOB_ROLES[name], cronjob["name"], f"{spec['schedule']} {spec['timeZone']}, deadline {deadline} min")
        )
    return rows


def backups_table(stack: str, inventory: dict[str, Any]) -> Table:
    table = Table(title=f"{stack}: backups (retention and copies)")
    for column in ("backup", "resource", "setting"):
        table.add_column(column, overflow="fold")
    for row in backups_rows(inventory):
        table.add_row(*row)
    return table
