"""Config of the Cloudflare front door: `platform:cloudflare`.

The zone and account, the health monitor, the steering between the two clouds, one load
balancer per hostname and the zone's rate limits. Everything here is checked before a
resource is registered; rules that also need the AWS or GCP sections (origin counts, the
health-check regions) live in `stacks/config/rules.py`.
"""

import math
from typing import Annotated, Literal, NamedTuple

import pycountry
from pydantic import AfterValidator, EmailStr, Field, StringConstraints, field_validator, model_validator

from stacks.config.types import Count, DnsZone, Fraction, Seconds, Section, Slug, Switch, unique

# The two origin pools: one per cloud. Their names are the HEAL7 design's (cloudflare-config.yaml).
AWS_POOL = "aws-primary"
GCP_POOL = "gcp-secondary"
POOL_NAMES = (AWS_POOL, GCP_POOL)

# Cloudflare account and zone ids are 32 lowercase hex characters.
CloudflareId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
# A hostname the zone serves (the apex or a name under it); same label rules as a zone.
Hostname = DnsZone


def _known_pool(value: str) -> str:
    if value not in POOL_NAMES:
        raise ValueError(f"expected a pool the platform builds ({', '.join(POOL_NAMES)}), got {value!r}")
    return value


def _iso_country(value: str) -> str:
    # Cloudflare's country_pools keys are ISO 3166-1 alpha-2 codes, upper case (pycountry's
    # lookup alone would also accept "kr").
    if not (len(value) == 2 and value.isascii() and value.isupper()) or pycountry.countries.get(alpha_2=value) is None:
        raise ValueError(f"expected an ISO 3166-1 alpha-2 country code such as KR or JP, got {value!r}")
    return value


PoolName = Annotated[str, AfterValidator(_known_pool)]
CountryCode = Annotated[str, AfterValidator(_iso_country)]

# The periods (seconds) Cloudflare's rate-limiting rules take, for counting and for
# mitigation (WAF docs, "Availability"); 0 as a mitigation timeout means throttle.
RATE_LIMIT_PERIODS = (
    10,
    15,
    20,
    30,
    40,
    45,
    60,
    90,
    120,
    180,
    240,
    300,
    480,
    600,
    900,
    1200,
    1800,
    2400,
    3600,
    65535,
    86400,
)
MITIGATION_TIMEOUTS = (0, *RATE_LIMIT_PERIODS)
SECONDS_PER = {"second": 1, "minute": 60, "hour": 3600}
CHALLENGE_ACTIONS = ("challenge", "js_challenge", "managed_challenge")

CloudflarePlan = Literal["pro", "business", "enterprise"]


class PlanLimits(NamedTuple):
    """What a zone plan allows the front door (Cloudflare's plan tables, as of 2026)."""

    monitor_interval_min: int  # Load Balancing monitor settings: 60 / 15 / 10 s
    rate_limit_rules: int  # rate-limiting rules per zone: 2 / 5 / 100
    counting_period_max: int  # up to 1 min / 10 min / 65535 s
    mitigation_timeout_max: int  # up to 1 h / 1 day / 1 day


# Free is absent: its rate-limiting rules cannot match on the host, which these rules need.
PLAN_LIMITS: dict[str, PlanLimits] = {
    "pro": PlanLimits(60, 2, 60, 3600),
    "business": PlanLimits(15, 5, 600, 86400),
    "enterprise": PlanLimits(10, 100, 65535, 86400),
}


class MonitorConfig(Section):
    """The HTTPS health check both clouds' ingress gateways answer."""

    path: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._~/-]*$")] = Field(
        default="/health", description="The HEAL7 design's health endpoint (Dockerfile HEALTHCHECK, probes)."
    )
    host: Hostname | None = Field(
        default=None, description="Host header of the probe; default the zone apex, which both clouds serve."
    )
    expected_codes: Annotated[str, StringConstraints(pattern=r"^[1-5](\d\d|xx)$")] = "200"
    # The HEAL7 design's container health check: --interval=30s --timeout=3s --retries=3. The
    # interval's floor depends on the plan (checked in front_door_problems).
    interval_seconds: Seconds = Field(default=30, ge=10, le=3600)
    timeout_seconds: Seconds = Field(default=3, ge=1, le=10)
    retries: Count = Field(default=3, ge=0, le=5)

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> "MonitorConfig":
        if self.timeout_seconds >= self.interval_seconds:
            raise ValueError(
                f"expected timeoutSeconds < intervalSeconds, got {self.timeout_seconds} >= {self.interval_seconds}"
            )
        return self


class SteeringConfig(Section):
    """Who goes where when a hostname is served by both clouds."""

    # The HEAL7 design's geo_steering: Korea to AWS Seoul, Japan to GCP.
    country_pools: dict[CountryCode, PoolName] = Field(
        default_factory=lambda: {"KR": AWS_POOL, "JP": GCP_POOL},
        description="Country (ISO 3166-1 alpha-2) to the pool it is served by first; the other pool is its failover.",
    )
    # The HEAL7 design's 70/30 DNS weights for everyone else.
    default_weights: dict[PoolName, Fraction] = Field(
        default_factory=lambda: {AWS_POOL: 0.7, GCP_POOL: 0.3},
        description="Share of the remaining countries' traffic per pool; positive, summing to 1.",
    )

    @field_validator("default_weights")
    @classmethod
    def _normalised(cls, weights: dict[str, float]) -> dict[str, float]:
        if set(weights) != set(POOL_NAMES):
            raise ValueError(f"expected a weight for each pool ({', '.join(POOL_NAMES)}), got {sorted(weights)}")
        for pool, weight in weights.items():
            if weight <= 0:
                raise ValueError(f"expected positive weights, got {pool}: {weight}")
            # Cloudflare takes origin weights in steps of 0.01.
            if not math.isclose(weight * 100, round(weight * 100)):
                raise ValueError(f"expected weights in steps of 0.01 (Cloudflare's granularity), got {pool}: {weight}")
        if not math.isclose(sum(weights.values()), 1.0):
            raise ValueError(f"expected weights that sum to 1, got {sum(weights.values()):g}")
        return weights


class LoadBalancerConfig(Section):
    """One proxied hostname."""

    pools: Annotated[list[PoolName], unique("pools")] = Field(
        min_length=1, description="The pools serving it, in failover order."
    )
    rate_limit: Slug | None = Field(default=None, description="The rateLimits class its clients are held to.")


class RateLimitConfig(Section):
    """A per-client-IP request rate, as the requirement documents state it (e.g. 100 per second)."""

    requests: Count = Field(gt=0, description="Requests each client address may make per `per`.")
    per: Literal["second", "minute", "hour"]

    def as_cloudflare_period(self) -> tuple[int, int]:
        """(period seconds, requests per period) in a period Cloudflare accepts.

        The shortest allowed period that is a whole number of the documents' units, scaled
        exactly: 100 r/s becomes 1000 per 10 s, 100 r/min stays 100 per 60 s. The
        shortest period keeps the limit closest to nginx's per-second limit_req.
        """
        unit = SECONDS_PER[self.per]
        period = next(p for p in RATE_LIMIT_PERIODS if p >= unit and p % unit == 0)
        return period, self.requests * period // unit


def _default_rate_limits() -> dict[str, RateLimitConfig]:
    return {
        # The HEAL7 design's nginx limit_req zones: api 100r/s and web 1000r/s per client address.
        "api": RateLimitConfig(requests=100, per="second"),
        "web": RateLimitConfig(requests=1000, per="second"),
        # The email platform's ingress (nginx rate-limit 100, window 1m).
        "email": RateLimitConfig(requests=100, per="minute"),
    }


class CloudflareConfig(Section):
    zone: DnsZone = Field(description="The Cloudflare zone (apex domain) of the front door.")
    plan: CloudflarePlan = Field(description="The zone's plan; it bounds the monitor interval and the rate limits.")
    serve_traffic: Switch = Field(
        description="Enable the load balancers. Until the ingress gateways answer the monitor, keep false: an "
        "enabled load balancer takes over its hostname's DNS."
    )
    zone_id: CloudflareId = Field(description="The zone's id (dashboard: the zone's Overview page, API section).")
    account_id: CloudflareId = Field(description="The account owning the zone; monitors and pools live there.")
    notification_email: EmailStr = Field(description="Where pool health alerts go (the HEAL7 design's ops address).")
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    steering: SteeringConfig = Field(default_factory=SteeringConfig)
    load_balancers: dict[Hostname, LoadBalancerConfig] = Field(
        min_length=1, description="One load balancer per hostname, keyed by the full hostname."
    )
    minimum_origins: dict[PoolName, Count] = Field(
        description="Healthy origins a pool needs to take traffic; below it, traffic fails over."
    )
    # Cookie affinity keeps a client on one cloud (its session lives in that cloud's Redis)
    # until that origin fails. 1800 s is the shortest Cloudflare allows for cookies, so
    # clients drift back soon after a failback.
    session_affinity_ttl_seconds: Seconds = Field(default=1800, ge=1800, le=604800)
    rate_limits: dict[Slug, RateLimitConfig] = Field(default_factory=_default_rate_limits)
    rate_limit_action: Literal["block", "managed_challenge", "js_challenge", "challenge", "log"] = "block"
    # A minute's block: long enough to stop a flood, short enough that a client behind a
    # shared address is not locked out for long.
    mitigation_timeout_seconds: Seconds = 60

    @field_validator("mitigation_timeout_seconds")
    @classmethod
    def _allowed_timeout(cls, seconds: int) -> int:
        if seconds not in MITIGATION_TIMEOUTS:
            raise ValueError(
                f"expected one of Cloudflare's mitigation timeouts {list(MITIGATION_TIMEOUTS)}, got {seconds}"
            )
        return seconds

    @field_validator("minimum_origins")
    @classmethod
    def _every_pool(cls, minimums: dict[str, int]) -> dict[str, int]:
        if set(minimums) != set(POOL_NAMES) or any(m < 1 for m in minimums.values()):
            raise ValueError(f"expected a count of at least 1 for each pool ({', '.join(POOL_NAMES)}), got {minimums}")
        return minimums

    @property
    def monitor_host(self) -> str:
        return self.monitor.host or self.zone


def _plan_problems(cloudflare: CloudflareConfig) -> list[str]:
    """What the zone's plan would refuse at `pulumi up`, reported before anything is built."""
    key, plan = "platform:cloudflare", cloudflare.plan
    limits, enterprise = PLAN_LIMITS[plan], plan == "enterprise"
    problems = []
    if cloudflare.monitor.interval_seconds < limits.monitor_interval_min:
        problems.append(
            f"{key}.monitor.intervalSeconds: expected at least {limits.monitor_interval_min} on the "
            f"{plan} plan, got {cloudflare.monitor.interval_seconds}"
        )
    in_use = sorted({lb.rate_limit for lb in cloudflare.load_balancers.values() if lb.rate_limit})
    if len(in_use) > limits.rate_limit_rules:
        problems.append(
            f"{key}.rateLimits: the {plan} plan allows {limits.rate_limit_rules} rate-limiting rules, "
            f"got {len(in_use)} in use ({', '.join(in_use)})"
        )
    for name in in_use:
        limit = cloudflare.rate_limits.get(name)
        if limit is not None and limit.as_cloudflare_period()[0] > limits.counting_period_max:
            problems.append(
                f"{key}.rateLimits.{name}.per: the {plan} plan counts over at most "
                f"{limits.counting_period_max} s, got {limit.per}"
            )
    action, timeout = cloudflare.rate_limit_action, cloudflare.mitigation_timeout_seconds
    if timeout > limits.mitigation_timeout_max:
        problems.append(
            f"{key}.mitigationTimeoutSeconds: expected at most {limits.mitigation_timeout_max} on the "
            f"{plan} plan, got {timeout}"
        )
    if not enterprise and action in CHALLENGE_ACTIONS and timeout != 0:
        # Below Enterprise, Cloudflare only throttles challenges: the API wants a timeout of 0.
        problems.append(
            f"{key}.mitigationTimeoutSeconds: expected 0 with the {action!r} action on the {plan} "
            f"plan (Cloudflare throttles challenges), got {timeout}"
        )
    if not enterprise and action == "block" and timeout == 0:
        problems.append(
            f"{key}.mitigationTimeoutSeconds: throttling a block (timeout 0) needs Enterprise, got 0 on the {plan} plan"
        )
    if not enterprise and action == "log":
        problems.append(f"{key}.rateLimitAction: 'log' needs Enterprise, got it on the {plan} plan")
    return problems


def front_door_problems(cloudflare: CloudflareConfig, aws_origin_count: int) -> list[str]:
    """Rules across the section's keys (and the AWS origin count), with full key paths."""
    key = "platform:cloudflare"
    problems = []
    for hostname, balancer in cloudflare.load_balancers.items():
        if hostname != cloudflare.zone and not hostname.endswith(f".{cloudflare.zone}"):
            problems.append(
                f"{key}.loadBalancers.{hostname}: expected a hostname in zone {cloudflare.zone}, got {hostname!r}"
            )
        if balancer.rate_limit is not None and balancer.rate_limit not in cloudflare.rate_limits:
            problems.append(
                f"{key}.loadBalancers.{hostname}.rateLimit: expected one of the rateLimits "
                f"({', '.join(sorted(cloudflare.rate_limits))}), got {balancer.rate_limit!r}"
            )
    probed = cloudflare.load_balancers.get(cloudflare.monitor_host)
    if probed is None or set(probed.pools) != set(POOL_NAMES):
        # The one monitor probes every origin of both pools with this Host header.
        problems.append(
            f"{key}.monitor.host: expected a load-balanced hostname that both pools serve (default: the zone "
            f"apex), got {cloudflare.monitor_host!r}"
        )
    problems.extend(_plan_problems(cloudflare))
    origins = {AWS_POOL: aws_origin_count, GCP_POOL: 1}
    for pool, minimum in cloudflare.minimum_origins.items():
        if minimum > origins[pool]:
            problems.append(
                f"{key}.minimumOrigins.{pool}: expected at most the pool's {origins[pool]} origin(s) "
                f"(one ingress address per AWS AZ, one for GCP), got {minimum}"
            )
    return problems


# Cloudflare's health-check regions nearest each AWS/GCP region family, more specific
# prefixes first. Seoul and Tokyo (both clouds' regions here) are Northeast Asia.
CHECK_REGION_BY_PREFIX = (
    ("ap-northeast-", "NEAS"),
    ("asia-northeast", "NEAS"),
    ("ap-east-", "NEAS"),
    ("asia-east", "NEAS"),
    ("ap-southeast-2", "OC"),
    ("ap-southeast-4", "OC"),
    ("ap-southeast-6", "OC"),
    ("ap-southeast-", "SEAS"),
    ("asia-southeast", "SEAS"),
    ("ap-south-", "SAS"),
    ("asia-south", "SAS"),
    ("australia-", "OC"),
    ("us-west", "WNAM"),
    ("us-east", "ENAM"),
    ("us-central", "ENAM"),
    ("us-south", "ENAM"),
    ("ca-west-", "WNAM"),
    ("ca-", "ENAM"),
    ("northamerica-", "ENAM"),
    ("sa-", "SSAM"),
    ("southamerica-", "SSAM"),
    ("eu-north-", "EEU"),
    ("eu-", "WEU"),
    ("europe-central", "EEU"),
    ("europe-north", "EEU"),
    ("europe-", "WEU"),
    ("me-", "ME"),
    ("il-", "ME"),
    ("af-", "SAF"),
    ("africa-", "SAF"),
)


def check_region_of(cloud_region: str) -> str | None:
    """The Cloudflare region whose probes sit nearest `cloud_region`, if known."""
    return next((region for prefix, region in CHECK_REGION_BY_PREFIX if cloud_region.startswith(prefix)), None)


def check_region(cloud_region: str) -> str:
    """check_region_of for a region the config layer has already accepted."""
    region = check_region_of(cloud_region)
    if region is None:
        raise ValueError(f"no Cloudflare health-check region is known near {cloud_region!r}")
    return region
