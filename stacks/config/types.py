"""Value types shared by the config models: constrained strings, switches, retention.

Each type carries its own rule, so a stack file's mistake is reported at the exact key
that holds it, with what was expected. The rules come in classes, one per kind of value:

- numbers: `StrictInt`-based kinds (node counts, sizes in GiB, days, seconds, counts, ASNs)
  that refuse booleans, floats and strings and carry the kind's hard ceiling; fields add
  their own service bounds with `Field(ge=..., le=...)`;
- networks: `Ipv4Cidr`, an IPv4 network written as `a.b.c.d/n` with no host bits;
- names of cloud things: regions, zones, instance and machine types, each checked for shape
  (and regions against a known list);
- lists that are sets: `unique(...)` refuses a repeated entry;
- time windows: a start and an end that differ, at least as long as the service requires.
"""

import ipaddress
import math
import re
from collections.abc import Callable, Hashable
from typing import Annotated, Any, Literal

from pulumi_aws._enums import Region as _AwsRegionEnum
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Strict, StringConstraints
from pydantic.alias_generators import to_camel

Tier = Literal["dev", "staging", "prod"]


class KeyedValueError(ValueError):
    """A rule of a section that belongs to one key below it.

    Model-level validators see every key of their section, but pydantic reports their
    errors at the section itself. Raising this instead makes the loader report the key the
    user wrote: `key` is the path below the section, camelCase as in the stack file
    (`masterAuthorizedNetworks[0].cidrBlock`).
    """

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


# -- numbers -------------------------------------------------------------------------

# Only real integers: pydantic's lax int would also take true (as 1), 3.0 or "3", and a
# YAML `.inf` would reach arithmetic. Nested config values arrive JSON-decoded, so a
# number in the stack file is an int here.
StrictInt = Annotated[int, Strict()]


def _at_most(limit: int, what: str) -> AfterValidator:
    def check(value: int) -> int:
        if value > limit:
            raise ValueError(f"expected at most {limit} ({what}), got {value}")
        return value

    return AfterValidator(check)


# GKE allows 1000 nodes per node pool and zone; EKS 450 per managed node group (its
# service quota), which the node-group fields enforce on top.
NodeCount = Annotated[StrictInt, _at_most(1000, "GKE's nodes per node pool and zone")]
# 64 TiB: the largest RDS gp3 volume and the largest Persistent Disk.
SizeGib = Annotated[StrictInt, _at_most(65536, "64 TiB, the largest RDS gp3 volume or Persistent Disk")]
# Ten years: CloudWatch's longest finite retention; nothing in the platform keeps data longer.
Days = Annotated[StrictInt, _at_most(3653, "ten years")]
# One week: Cloudflare's longest session-affinity TTL, the longest duration set here.
Seconds = Annotated[StrictInt, _at_most(604800, "one week")]
# Connections, images, versions, origins, retries, GPUs, requests: each field bounds its
# own; one million is above every service limit among them.
Count = Annotated[StrictInt, _at_most(1_000_000, "above any service limit of these counts")]
# A PostgreSQL major version.
MajorVersion = Annotated[StrictInt, _at_most(99, "a PostgreSQL major version")]
# BGP ASNs are 32-bit.
Asn = Annotated[StrictInt, _at_most(4294967295, "32-bit ASNs")]
# An IPv4 prefix length.
PrefixLength = Annotated[StrictInt, _at_most(32, "an IPv4 prefix length")]


def _finite(value: float) -> float:
    # YAML's .inf and .nan are floats too; pydantic's allow_inf_nan=False would say only
    # "finite number" without the value.
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


# A share between 0 and 1 (a steering weight); booleans and strings refused.
Fraction = Annotated[float, Strict(), AfterValidator(_finite)]


# -- networks ------------------------------------------------------------------------

_NETWORK_FORM = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")


def _network_form(value: object) -> object:
    """`a.b.c.d/n` only: pydantic would take a bare address or an integer as a /32."""
    if isinstance(value, ipaddress.IPv4Network):
        return value
    if not isinstance(value, str) or not _NETWORK_FORM.match(value):
        raise ValueError(f"expected an IPv4 network as address/prefix such as 10.30.0.0/16, got {value!r}")
    try:
        return ipaddress.IPv4Network(value)
    except ValueError:
        raise ValueError(
            f"Input is not a valid IPv4 network; expected address/prefix with the host bits zero, such as "
            f"10.30.0.0/16, got {value!r}"
        ) from None


Ipv4Cidr = Annotated[ipaddress.IPv4Network, BeforeValidator(_network_form)]


# -- lists that are sets -------------------------------------------------------------


def unique(noun: str, key: Callable[[Any], Hashable] = lambda item: item) -> AfterValidator:
    """A list validator: each entry once (by `key`). `noun` names the entries in the error."""

    def check(items: list[Any]) -> list[Any]:
        seen: set[Hashable] = set()
        for item in items:
            identity = key(item)
            if identity in seen:
                raise ValueError(f"expected distinct {noun}, got {str(identity)!r} more than once")
            seen.add(identity)
        return items

    return AfterValidator(check)


# -- names ---------------------------------------------------------------------------

# Lowercase, digits, '_' and '-': the intersection of what AWS tags and GCP labels accept,
# so one value can tag resources on both clouds.
LabelValue = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,63}$")]
# Short workload name; it starts every resource name, so keep it DNS-safe and short: no
# '--' either, which RDS identifiers refuse.
Slug = Annotated[str, StringConstraints(max_length=16, pattern=r"^[a-z](-?[a-z0-9])+$")]

# The regions the AWS provider SDK knows (pulumi_aws.Region, from the provider's own list).
AWS_REGIONS = frozenset(region.value for region in _AwsRegionEnum)
# Google Cloud regions as `gcloud compute regions list` shows them (maintained here: the
# provider SDK ships no list). Add a region here when Google opens it.
GCP_REGIONS = frozenset(
    {
        "africa-south1",
        "asia-east1",
        "asia-east2",
        "asia-northeast1",
        "asia-northeast2",
        "asia-northeast3",
        "asia-south1",
        "asia-south2",
        "asia-southeast1",
        "asia-southeast2",
        "australia-southeast1",
        "australia-southeast2",
        "europe-central2",
        "europe-north1",
        "europe-north2",
        "europe-southwest1",
        "europe-west1",
        "europe-west2",
        "europe-west3",
        "europe-west4",
        "europe-west6",
        "europe-west8",
        "europe-west9",
        "europe-west10",
        "europe-west12",
        "me-central1",
        "me-central2",
        "me-west1",
        "northamerica-northeast1",
        "northamerica-northeast2",
        "northamerica-south1",
        "southamerica-east1",
        "southamerica-west1",
        "us-central1",
        "us-east1",
        "us-east4",
        "us-east5",
        "us-south1",
        "us-west1",
        "us-west2",
        "us-west3",
        "us-west4",
    }
)


def _known(regions: frozenset[str], cloud: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in regions:
            raise ValueError(f"expected an {cloud} region such as {min(regions)}, got {value!r}")
        return value

    return check


def _zone_of(regions: frozenset[str], cloud: str, letters: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        region, _, letter = value.rpartition("-") if cloud == "GCP" else (value[:-1], "", value[-1:])
        if region not in regions or len(letter) != 1 or letter not in letters:
            raise ValueError(
                f"expected a zone of a known {cloud} region (region + letter {letters[0]}-{letters[-1]}), got {value!r}"
            )
        return value

    return check


AwsRegion = Annotated[str, StringConstraints(max_length=32), AfterValidator(_known(AWS_REGIONS, "AWS"))]
# AZ names map to different physical zones per account, and which letters exist differs
# by account and region (ap-northeast-1b is closed to new accounts), so only the region is
# checked against a list; the letter must be one of the subnet slots a-f.
AwsAvailabilityZone = Annotated[
    str, StringConstraints(max_length=33), AfterValidator(_zone_of(AWS_REGIONS, "AWS", "abcdef"))
]
GcpRegion = Annotated[str, StringConstraints(max_length=32), AfterValidator(_known(GCP_REGIONS, "GCP"))]
# A zone of a GCP region, e.g. asia-northeast3-b.
GcpZone = Annotated[str, StringConstraints(max_length=34), AfterValidator(_zone_of(GCP_REGIONS, "GCP", "abcdefg"))]
# GCP project ids: 6-30 chars, lowercase letter first, no trailing hyphen.
GcpProjectId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
# A DNS name: labels of at most 63, the whole name at most 253 characters.
DnsZone = Annotated[
    str, StringConstraints(max_length=253, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
]

# The size names EC2, RDS and ElastiCache share: nano ... 48xlarge (u-6tb1.112xlarge), metal, metal-24xl.
_SIZE = r"(nano|micro|small|medium|large|([1-9][0-9]{0,2})?xlarge|metal(-[1-9][0-9]{1,2}xl)?)"
# An instance family: letters, a generation digit, then letters/digits/'-' (m6i, c7gn,
# r6idn, u-6tb1, inf2, mac2-m2pro).
_FAMILY = r"[a-z]{1,4}-?[0-9][a-z0-9-]{0,10}"
# EC2 instance types, e.g. m6i.2xlarge, c7g.metal, u-6tb1.56xlarge.
Ec2InstanceType = Annotated[str, StringConstraints(pattern=rf"^{_FAMILY}\.{_SIZE}$")]
# RDS instance classes: db.<family>.<size>, e.g. db.r6g.xlarge, db.t4g.medium.
DbInstanceClass = Annotated[str, StringConstraints(pattern=rf"^db\.{_FAMILY}\.{_SIZE}$")]
# ElastiCache node types: cache.<family>.<size>, e.g. cache.r6g.large.
CacheNodeType = Annotated[str, StringConstraints(pattern=rf"^cache\.{_FAMILY}\.{_SIZE}$")]
# Compute Engine machine types: predefined (<family>-<class>-<vCPUs>[g|-lssd|-metal], e.g.
# n2-standard-8, a3-highgpu-8g, x4-megamem-1920-metal, TPU ct5lp-hightpu-4t), shared-core (e2-medium,
# f1-micro, g1-small) or custom ([<family>-]custom-<vCPUs>-<MiB>[-ext], e2-custom-medium-4096).
MachineType = Annotated[
    str,
    StringConstraints(
        pattern=r"^([a-z]{1,2}[0-9][a-z]{0,2}-[a-z]+-[0-9]{1,4}(g|t|-lssd|-nolssd|-metal)?"
        r"|e2-(micro|small|medium)|f1-micro|g1-small"
        r"|([a-z][0-9][a-z]?-)?custom-(micro-|small-|medium-|[0-9]{1,3}-)[0-9]{3,7}(-ext)?)$"
    ),
]


# -- windows -------------------------------------------------------------------------

_HHMM = r"([01]\d|2[0-3]):[0-5]\d"
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY, MINUTES_PER_WEEK = 24 * 60, 7 * 24 * 60


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def daily_span(window: str) -> tuple[int, int]:
    """`03:00-04:00` -> (180, 60): start minute of the day and length in minutes."""
    start, end = (_minutes(part) for part in window.split("-"))
    return start, (end - start) % MINUTES_PER_DAY


def weekly_span(window: str) -> tuple[int, int]:
    """`sun:04:00-sun:05:00` -> start minute of the week (Monday 00:00 = 0) and length."""
    start, end = (DAYS.index(part[:3]) * MINUTES_PER_DAY + _minutes(part[4:]) for part in window.split("-"))
    return start, (end - start) % MINUTES_PER_WEEK


def _long_enough(span: Callable[[str], tuple[int, int]], minimum: int, service: str) -> AfterValidator:
    def check(window: str) -> str:
        length = span(window)[1]
        if length == 0:
            raise ValueError(f"expected a window whose end differs from its start, got {window!r}")
        if length < minimum:
            raise ValueError(f"expected a window of at least {minimum} minutes ({service}), got {window!r}")
        return window

    return AfterValidator(check)


# An hh:mm-hh:mm daily window (UTC), as RDS and ElastiCache take them.
DailyWindow = Annotated[str, StringConstraints(pattern=rf"^{_HHMM}-{_HHMM}$")]
# A ddd:hh:mm-ddd:hh:mm weekly window (UTC).
WeeklyWindow = Annotated[str, StringConstraints(pattern=rf"^{_DAY}:{_HHMM}-{_DAY}:{_HHMM}$")]
# RDS: backup and maintenance windows of at least 30 minutes (CreateDBInstance's
# PreferredBackupWindow / PreferredMaintenanceWindow constraints).
RdsBackupWindow = Annotated[DailyWindow, _long_enough(daily_span, 30, "RDS's minimum")]
RdsMaintenanceWindow = Annotated[WeeklyWindow, _long_enough(weekly_span, 30, "RDS's minimum")]
# ElastiCache: snapshot and maintenance windows of at least 60 minutes.
CacheSnapshotWindow = Annotated[DailyWindow, _long_enough(daily_span, 60, "ElastiCache's minimum")]
CacheMaintenanceWindow = Annotated[WeeklyWindow, _long_enough(weekly_span, 60, "ElastiCache's minimum")]


def windows_overlap(daily: str, weekly: str) -> bool:
    """Whether a daily window meets a weekly one on any day of the week."""
    daily_start, daily_length = daily_span(daily)
    weekly_start, weekly_length = weekly_span(weekly)
    for day in range(7):
        start = day * MINUTES_PER_DAY + daily_start
        # Compare on a circle of one week: either interval may wrap past Sunday midnight.
        if (start - weekly_start) % MINUTES_PER_WEEK < weekly_length:
            return True
        if (weekly_start - start) % MINUTES_PER_WEEK < daily_length:
            return True
    return False


# -- switches and retention ----------------------------------------------------------


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


RetentionDays = Annotated[StrictInt, AfterValidator(_cloudwatch_retention)]


class Section(BaseModel):
    """Base for every nested section: camelCase keys, no unknown keys, immutable."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)
