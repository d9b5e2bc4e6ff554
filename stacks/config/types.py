"""Value types shared by the config models: constrained strings, switches, retention.

Each type carries its own rule, so a stack file's mistake is reported at the exact key
that holds it, with what was expected.
"""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

Tier = Literal["dev", "staging", "prod"]

# Lowercase, digits, '_' and '-': the intersection of what AWS tags and GCP labels accept,
# so one value can tag resources on both clouds.
LabelValue = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,63}$")]
# Short workload name; it starts every resource name, so keep it DNS-safe and short.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$")]
AwsRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]
AwsAvailabilityZone = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")]
GcpRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+\d$")]
# GCP project ids: 6-30 chars, lowercase letter first, no trailing hyphen.
GcpProjectId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
DnsZone = Annotated[str, StringConstraints(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")]
# An hh:mm-hh:mm daily window (UTC), as RDS and ElastiCache take them.
DailyWindow = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")]
# A ddd:hh:mm-ddd:hh:mm weekly window (UTC).
WeeklyWindow = Annotated[
    str,
    StringConstraints(
        pattern=r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$"
    ),
]


def _true_or_false(value: object) -> object:
    """Only true/false: pydantic's lax bool would also take 'yes', 'on' or 1 for a switch
    like `platform:protect`. Top-level scalars arrive from the engine as strings."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError(f"expected true or false, got {value!r}")


Switch = Annotated[bool, BeforeValidator(_true_or_false)]

# The only values CloudWatch Logs accepts for retention_in_days.
CLOUDWATCH_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def _cloudwatch_retention(value: int) -> int:
    if value not in CLOUDWATCH_RETENTION_DAYS:
        raise ValueError(
            f"expected one of CloudWatch's retention values {list(CLOUDWATCH_RETENTION_DAYS)}, got {value}"
        )
    return value


RetentionDays = Annotated[int, AfterValidator(_cloudwatch_retention)]


class Section(BaseModel):
    """Base for every nested section: camelCase keys, no unknown keys, immutable."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)
