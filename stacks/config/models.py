"""The typed shape of a stack's configuration (pydantic v2).

Stack files use camelCase keys; Python code uses snake_case attributes. Every model
forbids unknown keys, so a typo in a stack file is an error, not a silently ignored
setting. Values that differ by tier have no default here: they come from
`stacks/config/tiers.py`. Values that are the same everywhere have a documented default here.

The AWS sections live in `stacks/config/aws_models.py` and `stacks/config/data_models.py`, the GCP
sections in `stacks/config/gcp_models.py`, the front door in `stacks/config/cloudflare_models.py`, the Kubernetes layer in
`stacks/config/kubernetes_models.py`, the request target in `stacks/config/capacity_models.py`,
the base image in `stacks/config/image_models.py`, monitoring and logging in
`stacks/config/monitoring_models.py`; the value types they share, in
`stacks/config/types.py`.
"""

import pulumi
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from stacks.config.aws_models import AwsConfig
from stacks.config.capacity_models import CapacityConfig
from stacks.config.cloudflare_models import CloudflareConfig
from stacks.config.gcp_models import GcpConfig
from stacks.config.image_models import ImagesConfig
from stacks.config.ingress_models import ObjectName
from stacks.config.kubernetes_models import KubernetesConfig
from stacks.config.monitoring_models import LoggingConfig, MonitoringConfig
from stacks.config.types import (
    AwsRegion,
    GcpProjectId,
    GcpRegion,
    LabelValue,
    Section,
    Slug,
    Switch,
    Tier,
)
from stacks.config.workload_models import WorkloadConfig


class TagsConfig(Section):
    """Ownership tags stamped on every taggable resource (with project and environment)."""

    owner: LabelValue = Field(description="Team that owns the stack and answers its alerts.")
    cost_center: LabelValue = Field(description="Finance cost centre the spend is charged to.")


class PlatformConfig(BaseModel):
    """The whole stack, keyed by the stack file's own config keys.

    Aliases are full config keys (`platform:aws`, `aws:region`), so a validation error's
    location is already the key path a user sees in `Pulumi.<stack>.yaml`.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    environment: Tier = Field(alias="platform:environment", description="Tier whose defaults apply.")
    name: Slug = Field(alias="platform:name", description="Workload name, the first part of every resource name.")
    protect: Switch = Field(alias="platform:protect", description="`protect` stateful resources (required in prod).")
    tags: TagsConfig = Field(alias="platform:tags")
    aws_region: AwsRegion = Field(alias="aws:region")
    gcp_project: GcpProjectId = Field(alias="gcp:project")
    gcp_region: GcpRegion = Field(alias="gcp:region")
    aws: AwsConfig = Field(alias="platform:aws")
    gcp: GcpConfig = Field(alias="platform:gcp")
    cloudflare: CloudflareConfig = Field(alias="platform:cloudflare")
    kubernetes: KubernetesConfig = Field(alias="platform:kubernetes")
    workloads: dict[ObjectName, WorkloadConfig] = Field(
        alias="platform:workloads", description="Each workload once, by its Kubernetes name, placed on the clusters."
    )
    capacity: CapacityConfig = Field(
        alias="platform:capacity", description="The request target the workloads' shares divide (tools/capacity.py)."
    )
    images: ImagesConfig = Field(alias="platform:images", description="The platform's base image and its build.")
    monitoring: MonitoringConfig = Field(
        alias="platform:monitoring", description="Prometheus, Alertmanager, Grafana and the alert routing."
    )
    logging: LoggingConfig = Field(alias="platform:logging", description="Elasticsearch, Kibana and Fluent Bit.")

    # The stack name, set by the loader (it is not a config key). Physical names such as
    # log groups and KMS aliases derive from it, so two stacks of one tier in one account
    # never collide.
    _stack: str = PrivateAttr(default="")
    # PEM of the RDS root CA for aws:region, read by the loader from certs/ (not a config key).
    _rds_ca_certificate: str = PrivateAttr(default="")
    # `cloudflare:apiToken` when set with `pulumi config set --secret`, as a secret Output.
    # None: the Cloudflare provider reads CLOUDFLARE_API_TOKEN from the environment.
    _cloudflare_api_token: pulumi.Output[str] | None = PrivateAttr(default=None)

    @property
    def stack(self) -> str:
        return self._stack or self.environment

    @property
    def rds_ca_certificate(self) -> str:
        """The CA the Cloud SQL replica verifies the RDS primary's TLS certificate with."""
        return self._rds_ca_certificate

    @property
    def cloudflare_api_token(self) -> pulumi.Output[str] | None:
        return self._cloudflare_api_token

    @property
    def resource_prefix(self) -> str:
        """`heal7-prod`: the start of every logical and Name-tag resource name."""
        return f"{self.name}-{self.stack}"

    @property
    def common_tags(self) -> dict[str, str]:
        """Tags every taggable resource carries; valid as both AWS tags and GCP labels."""
        return {
            "project": self.name,
            "environment": self.environment,
            "owner": self.tags.owner,
            "cost-center": self.tags.cost_center,
            "managed-by": "pulumi",
        }
