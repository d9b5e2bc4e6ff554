"""Config of the AWS data stores and artifact stores: RDS, ElastiCache, ECR, backups."""

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from stacks.config.types import (
    AwsRegion,
    CacheMaintenanceWindow,
    CacheNodeType,
    CacheSnapshotWindow,
    Count,
    Days,
    DbInstanceClass,
    KeyedValueError,
    MajorVersion,
    RdsBackupWindow,
    RdsMaintenanceWindow,
    Section,
    SizeGib,
    Switch,
    unique,
    windows_overlap,
)
from stacks.config.units import kb_to_pages, parse_memory_kb

# The oldest PostgreSQL major in RDS standard support (13 left it in February 2026).
MIN_POSTGRES_MAJOR = 14
DEFAULT_POSTGRES_MAJOR = 16
# gp3 on RDS: 20 GiB minimum, 64 TiB maximum.
GP3_MIN_GIB, GP3_MAX_GIB = 20, 65536

# RDS refuses a storage-autoscaling ceiling less than 10 % above the allocated storage.
MIN_AUTOSCALING_HEADROOM_PERCENT = 10
# ECR repository path segment: lowercase, digits and single separators. ECR sees
# `<name>-<stack>/<this>`: 200 here and the name budget's prefix stay under ECR's 256.
RepositoryName = Annotated[str, StringConstraints(max_length=200, pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")]
# PostgreSQL's integer settings stop at 2^31 - 1 in their own unit.
PG_INT_MAX = 2**31 - 1


def _memory(text: str) -> str:
    kb = parse_memory_kb(text)  # raises with the expected format
    if kb > PG_INT_MAX:
        raise ValueError(f"expected at most {PG_INT_MAX}kB (PostgreSQL's integer settings), got {text!r}")
    return text


def _whole_pages(text: str) -> str:
    kb_to_pages(parse_memory_kb(text))  # raises unless whole 8 kB pages
    return text


MemorySize = Annotated[str, StringConstraints(max_length=32), AfterValidator(_memory)]
# shared_buffers and effective_cache_size: RDS takes them in 8 kB pages.
PageMemorySize = Annotated[MemorySize, AfterValidator(_whole_pages)]


class PostgresTuning(Section):
    """The HEAL7 design's `ALTER SYSTEM` tuning, in human units; converted for the parameter group."""

    max_connections: Count = Field(
        ge=20, le=5000, description="Connection ceiling (the HEAL7 design's pool holds 200)."
    )
    shared_buffers: PageMemorySize = Field(description="e.g. '4GB'; RDS takes 8 kB pages.")
    effective_cache_size: PageMemorySize = Field(description="e.g. '12GB'; RDS takes 8 kB pages.")
    work_mem: MemorySize = Field(description="Per sort/hash memory, e.g. '16MB'; RDS takes kB.")
    maintenance_work_mem: MemorySize = Field(description="VACUUM/CREATE INDEX memory, e.g. '512MB'; RDS takes kB.")

    def rds_values(self) -> dict[str, str]:
        """Parameter name -> value in the unit RDS expects (as the API's strings)."""
        return {
            "max_connections": str(self.max_connections),
            "shared_buffers": str(kb_to_pages(parse_memory_kb(self.shared_buffers))),
            "effective_cache_size": str(kb_to_pages(parse_memory_kb(self.effective_cache_size))),
            "work_mem": str(parse_memory_kb(self.work_mem)),
            "maintenance_work_mem": str(parse_memory_kb(self.maintenance_work_mem)),
        }


class RdsConfig(Section):
    engine_major_version: MajorVersion = Field(
        default=DEFAULT_POSTGRES_MAJOR,
        ge=MIN_POSTGRES_MAJOR,
        description=f"PostgreSQL major version (>= {MIN_POSTGRES_MAJOR}); the Cloud SQL replica must match it.",
    )
    instance_class: DbInstanceClass = Field(description="e.g. db.r6g.xlarge (the HEAL7 design's prod class).")
    allocated_storage: SizeGib = Field(ge=GP3_MIN_GIB, le=GP3_MAX_GIB, description="Initial gp3 storage, GiB.")
    max_allocated_storage: SizeGib = Field(
        ge=GP3_MIN_GIB,
        le=GP3_MAX_GIB,
        description="Storage autoscaling ceiling, GiB; at least 10 % above allocatedStorage.",
    )
    multi_az: Switch = Field(description="Synchronous standby in a second AZ (required in prod).")
    # The HEAL7 design keeps 7 days; fewer would breach the platform's restore objective.
    backup_retention_days: Days = Field(default=7, ge=7, le=35)
    # The HEAL7 design's windows. RDS reads them as UTC; each at least 30 minutes, not overlapping.
    backup_window: RdsBackupWindow = "03:00-04:00"
    maintenance_window: RdsMaintenanceWindow = "sun:04:00-sun:05:00"
    backup_replica_region: AwsRegion | None = Field(
        default=None, description="Second region that receives the automated backups (required in prod)."
    )
    tuning: PostgresTuning
    apply_immediately: Switch = Field(
        description="Apply instance changes (class, storage, Multi-AZ...) at once instead of in maintenanceWindow; "
        "a class change restarts or fails over the database (tier: dev/staging true, prod false)."
    )

    @model_validator(mode="after")
    def _storage_ceiling(self) -> "RdsConfig":
        allocated, ceiling = self.allocated_storage, self.max_allocated_storage
        # Smallest whole GiB at least 10 % above the allocated storage.
        least = -(-allocated * (100 + MIN_AUTOSCALING_HEADROOM_PERCENT) // 100)
        if ceiling < least:
            raise KeyedValueError(
                "maxAllocatedStorage",
                f"expected at least {MIN_AUTOSCALING_HEADROOM_PERCENT} % above allocatedStorage ({allocated}), "
                f"i.e. >= {least} (RDS refuses less), got {ceiling}",
            )
        return self

    @model_validator(mode="after")
    def _windows_apart(self) -> "RdsConfig":
        if windows_overlap(self.backup_window, self.maintenance_window):
            raise KeyedValueError(
                "backupWindow",
                f"expected a window that does not overlap maintenanceWindow ({self.maintenance_window}; RDS "
                f"refuses overlapping windows), got {self.backup_window!r}",
            )
        return self


class RedisConfig(Section):
    node_type: CacheNodeType = Field(description="e.g. cache.r6g.large (the HEAL7 design's prod node type).")
    # Automatic failover needs a replica, so at least 2; ElastiCache allows up to 6.
    node_count: Count = Field(ge=2, le=6, description="Primary plus replicas (the HEAL7 design runs 3).")
    # The HEAL7 design runs redis:7; the parameter group family follows the major version.
    engine_version: Annotated[str, StringConstraints(pattern=r"^7\.[0-9]+$")] = "7.1"
    snapshot_retention_days: Days = Field(ge=1, le=35)
    # Staggered after RDS's windows so the two stores never restart together. ElastiCache
    # wants each window at least 60 minutes long.
    snapshot_window: CacheSnapshotWindow = "02:00-03:00"
    maintenance_window: CacheMaintenanceWindow = "sun:05:00-sun:06:00"
    apply_immediately: Switch = Field(
        description="Apply changes at once instead of in maintenanceWindow; ElastiCache refuses any change of "
        "log delivery without it (tier: true everywhere)."
    )


class EcrConfig(Section):
    # The HEAL7 design's AWS workloads (heal7-ai-models runs on GCP and uses Artifact Registry)
    # and its heal7-base image (platform:images.baseRepository), which their builds start FROM.
    repositories: Annotated[list[RepositoryName], unique("repositories")] = Field(
        default=["web-main", "api-gateway", "saju-engine", "base"],
        min_length=1,
        description="One repository per image: each EKS workload's and the base image's.",
    )
    keep_last_images: Count = Field(default=30, ge=1, le=1000, description="Tagged images each repository keeps.")


class BackupServiceAccount(Section):
    # The DatabaseBackups component's namespace and its CronJobs' service accounts: the IRSA
    # roles trust exactly these (the dump's writer, the restore drill's reader).
    namespace: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)] = "backups"
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=253)] = (
        "postgres-dump"
    )
    drill_name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=253)] = Field(
        default="postgres-restore-drill", description="Service account of the weekly restore drill (read-only role)."
    )


class BackupsConfig(Section):
    # S3 moves objects to STANDARD_IA no sooner than 30 days after creation.
    infrequent_access_after_days: Days = Field(default=30, ge=30)
    glacier_after_days: Days = Field(default=90, ge=60)
    expire_after_days: Days = Field(
        ge=1, description="Age at which a nightly dump is deleted; transitions due later are skipped."
    )
    noncurrent_expire_after_days: Days = Field(default=30, ge=1, description="Life of overwritten/deleted versions.")
    service_account: BackupServiceAccount = Field(
        default_factory=BackupServiceAccount, description="Kubernetes identity of the backup job (IRSA)."
    )

    @model_validator(mode="after")
    def _lifecycle_order(self) -> "BackupsConfig":
        # STANDARD_IA objects must stay 30 days before the next transition.
        if self.glacier_after_days < self.infrequent_access_after_days + 30:
            raise KeyedValueError(
                "glacierAfterDays",
                f"expected glacierAfterDays >= infrequentAccessAfterDays + 30, got glacierAfterDays="
                f"{self.glacier_after_days}, infrequentAccessAfterDays={self.infrequent_access_after_days}",
            )
        return self
