"""The name-length budget: how long `<platform:name>-<stack>` may be.

Every physical name the components build starts with that prefix, and several services
cap their names' length. Where a component sets no name, Pulumi auto-names the resource:
its resource name plus '-' and 7 random hex characters (8 more). A prefix that fits today
could push one of them past its service's limit, and the failure would come at
`pulumi up`, halfway through. So the config refuses a prefix longer than the tightest
budget below.

NAME_RULES lists, per length-limited kind of name, the longest one the components build
from the prefix (tests/test_config_names.py checks every name of a synthesized stack
with the longest allowed prefix against its service's limit, so a new or longer name that
breaks the budget fails there).
"""

import re
from dataclasses import dataclass

# Pulumi's auto-naming: '-' plus 7 random hex characters.
AUTO_NAME_SUFFIX = 8


@dataclass(frozen=True)
class NameRule:
    service: str
    """What the name is, as the error reports it."""
    template: str
    """The longest such name, with `{prefix}` where `<platform:name>-<stack>` goes."""
    limit: int
    """The service's maximum length for it."""
    auto_named: bool
    """Pulumi adds AUTO_NAME_SUFFIX characters (the component sets no physical name)."""

    def fixed_length(self) -> int:
        return len(self.template.format(prefix="")) + (AUTO_NAME_SUFFIX if self.auto_named else 0)

    def max_prefix(self) -> int:
        return self.limit - self.fixed_length()

    def example(self, prefix: str) -> str:
        return self.template.format(prefix=prefix) + ("-xxxxxxx" if self.auto_named else "")


# The longest name per service limit. Limits from each service's API reference.
NAME_RULES = (
    NameRule("ElastiCache replication group id", "{prefix}-redis-group", 40, auto_named=True),
    NameRule("IAM role name", "{prefix}-eks-workload-addons-ebs-csi-role", 64, auto_named=True),
    NameRule("S3 bucket prefix (the bucket adds 26 characters, up to 63)", "{prefix}-backups-", 37, auto_named=False),
    NameRule("Compute Engine resource name", "{prefix}-gcp-allow-health-checks", 63, auto_named=True),
    # Cloud SQL counts `<project>:<instance>` against 98; gcp:project may have 30 characters.
    NameRule("Cloud SQL instance id", "{prefix}-postgres-replica-source", 98 - 31, auto_named=True),
    NameRule("EKS managed node group name", "{prefix}-eks-high-cpu-nodes", 63, auto_named=True),
    NameRule("GKE cluster name", "{prefix}-gke", 40, auto_named=False),
    NameRule("Cloud KMS key name", "{prefix}-gke-secrets-key", 63, auto_named=True),
    NameRule("RDS instance identifier", "{prefix}-postgres", 63, auto_named=False),
    NameRule("EKS cluster name", "{prefix}-eks", 100, auto_named=False),
    NameRule("IAM inline policy name", "{prefix}-network-flow-logs-write", 128, auto_named=True),
    NameRule("EC2 launch template name", "{prefix}-eks-high-cpu-lt", 128, auto_named=True),
    NameRule("RDS final snapshot identifier", "{prefix}-postgres-final-xxxxxxxx", 255, auto_named=False),
    NameRule("Secret Manager secret id", "{prefix}-postgres-replica-replication-password", 255, auto_named=False),
    NameRule("RDS/ElastiCache subnet or parameter group name", "{prefix}-postgres-subnets", 255, auto_named=True),
    NameRule("KMS alias", "alias/{prefix}-postgres-backup-replica", 256, auto_named=False),
    NameRule("Secrets Manager secret name", "{prefix}-redis-auth-token", 512, auto_named=True),
    NameRule("CloudWatch log group", "/aws/vendedlogs/elasticache/{prefix}-redis/slow-log", 512, auto_named=False),
)
# The tightest rule decides: today the Redis replication group id (40 - 12 - 8 = 20).
MAX_PREFIX_LENGTH = min(rule.max_prefix() for rule in NAME_RULES)
# Names that embed the prefix must be lowercase DNS labels (GCP, RDS, ElastiCache refuse
# anything else) without '--' (RDS identifiers refuse it).
PREFIX_SHAPE = re.compile(r"^[a-z](-?[a-z0-9])*$")
# Artifact Registry repository ids (`<prefix>-<repositoryId>`) also take a part from the
# config; rules.py checks them with the prefix.
ARTIFACT_REGISTRY_ID_MAX = 63


def prefix_problems(name: str, stack: str) -> list[str]:
    """Problems of `<name>-<stack>` as the start of every resource name, at `platform:name`."""
    prefix = f"{name}-{stack}"
    if not PREFIX_SHAPE.match(prefix):
        return [
            f"platform:name: expected platform:name and the stack name to form a lowercase name of letters, "
            f"digits and single hyphens (it starts every resource name), got {prefix!r} (stack {stack!r})"
        ]
    if len(prefix) <= MAX_PREFIX_LENGTH:
        return []
    over = [rule for rule in NAME_RULES if len(prefix) > rule.max_prefix()]
    names = "; ".join(f"the {rule.service} {rule.example(prefix)!r} may have {rule.limit}" for rule in over)
    return [
        f"platform:name: expected platform:name and the stack name together ('<name>-<stack>') in at most "
        f"{MAX_PREFIX_LENGTH} characters ({names}), got {prefix!r} ({len(prefix)} characters)"
    ]
