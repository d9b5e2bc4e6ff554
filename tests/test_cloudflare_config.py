"""`platform:cloudflare` validation, the token rule and the conversions behind the front door."""

from collections.abc import Callable
from typing import Any

import pytest

from components.cloudflare.load_balancer import split_origin_weights
from stacks.config.cloudflare_models import RateLimitConfig, check_region_of
from tests.conftest import assert_rejected_before_any_resource

Mutation = Callable[[dict[str, Any]], None]


def _cloudflare(**values: Any) -> Mutation:
    return lambda config: config["platform:cloudflare"].update(values)


def _steering(**values: Any) -> Mutation:
    return lambda config: config["platform:cloudflare"].setdefault("steering", {}).update(values)


def _balancer(hostname: str, **values: Any) -> Mutation:
    return lambda config: config["platform:cloudflare"]["loadBalancers"].setdefault(hostname, {}).update(values)


BAD_CLOUDFLARE_CONFIGS: list[tuple[str, Mutation, str]] = [
    (
        "unknown country code",
        _steering(countryPools={"KR": "aws-primary", "XX": "gcp-secondary"}),
        "platform:cloudflare.steering.countryPools.XX: expected an ISO 3166-1 alpha-2 country code such as KR or JP, "
        "got 'XX'",
    ),
    (
        "lowercase country code",
        _steering(countryPools={"kr": "aws-primary"}),
        "platform:cloudflare.steering.countryPools.kr: expected an ISO 3166-1 alpha-2 country code",
    ),
    (
        "country mapped to a pool that does not exist",
        _steering(countryPools={"KR": "azure-tertiary"}),
        "platform:cloudflare.steering.countryPools.KR: expected a pool the platform builds (aws-primary, "
        "gcp-secondary), got 'azure-tertiary'",
    ),
    (
        "negative weight",
        _steering(defaultWeights={"aws-primary": 1.3, "gcp-secondary": -0.3}),
        "platform:cloudflare.steering.defaultWeights: expected positive weights, got gcp-secondary: -0.3",
    ),
    (
        "weights that do not add up",
        _steering(defaultWeights={"aws-primary": 0.6, "gcp-secondary": 0.3}),
        "platform:cloudflare.steering.defaultWeights: expected weights that sum to 1, got 0.9",
    ),
    (
        "weight for one pool only",
        _steering(defaultWeights={"aws-primary": 1.0}),
        "platform:cloudflare.steering.defaultWeights: expected a weight for each pool (aws-primary, gcp-secondary), "
        "got ['aws-primary']",
    ),
    (
        "weight finer than Cloudflare's 0.01",
        _steering(defaultWeights={"aws-primary": 0.705, "gcp-secondary": 0.295}),
        "platform:cloudflare.steering.defaultWeights: expected weights in steps of 0.01",
    ),
    (
        "load balancer on a pool that does not exist",
        _balancer("api.heal7.com", pools=["aws-primary", "azure"]),
        "platform:cloudflare.loadBalancers.api.heal7.com.pools[1]: expected a pool the platform builds",
    ),
    (
        "hostname outside the zone",
        _balancer("shop.example.com", pools=["aws-primary"]),
        "platform:cloudflare.loadBalancers.shop.example.com: expected a hostname in zone heal7.com, got 'shop.example.com'",
    ),
    (
        "unknown rate-limit class",
        _balancer("api.heal7.com", rateLimit="apii"),
        "platform:cloudflare.loadBalancers.api.heal7.com.rateLimit: expected one of the rateLimits (api, email, web), "
        "got 'apii'",
    ),
    (
        "monitor host only one cloud serves",
        _cloudflare(monitor={"host": "ai.heal7.com"}),
        "platform:cloudflare.monitor.host: expected a load-balanced hostname that both pools serve",
    ),
    (
        "monitor timeout not shorter than its interval",
        _cloudflare(monitor={"intervalSeconds": 10, "timeoutSeconds": 10}),
        "platform:cloudflare.monitor: expected timeoutSeconds < intervalSeconds, got 10 >= 10",
    ),
    (
        "more minimum origins than AZs",
        _cloudflare(minimumOrigins={"aws-primary": 4, "gcp-secondary": 1}),
        "platform:cloudflare.minimumOrigins.aws-primary: expected at most the pool's 3 origin(s)",
    ),
    (
        "mitigation timeout Cloudflare does not offer",
        _cloudflare(mitigationTimeoutSeconds=50),
        "platform:cloudflare.mitigationTimeoutSeconds: expected one of Cloudflare's mitigation timeouts",
    ),
    (
        "challenge with a ban duration below Enterprise",
        _cloudflare(rateLimitAction="managed_challenge"),
        "platform:cloudflare.mitigationTimeoutSeconds: expected 0 with the 'managed_challenge' action on the business plan",
    ),
    (
        "HEAL7 design's 30 s probe interval on Pro",
        _cloudflare(plan="pro"),
        "platform:cloudflare.monitor.intervalSeconds: expected at least 60 on the pro plan, got 30",
    ),
    (
        "third rate-limit rule on Pro",
        lambda config: (
            config["platform:cloudflare"].update(plan="pro", monitor={"intervalSeconds": 60}),
            config["platform:cloudflare"]["loadBalancers"]["www.heal7.com"].update(rateLimit="email"),
        ),
        "platform:cloudflare.rateLimits: the pro plan allows 2 rate-limiting rules, got 3 in use (api, email, web)",
    ),
    (
        "hourly counting below Enterprise",
        lambda config: config["platform:cloudflare"].update(rateLimits={"api": {"requests": 100, "per": "hour"}}),
        "platform:cloudflare.rateLimits.api.per: the business plan counts over at most 600 s, got hour",
    ),
    (
        "log action below Enterprise",
        _cloudflare(rateLimitAction="log"),
        "platform:cloudflare.rateLimitAction: 'log' needs Enterprise, got it on the business plan",
    ),
    (
        "unknown plan",
        _cloudflare(plan="free"),
        "platform:cloudflare.plan: Input should be 'pro', 'business' or 'enterprise'",
    ),
    (
        "zone id that is not an id",
        _cloudflare(zoneId="heal7.com"),
        "platform:cloudflare.zoneId: String should match pattern '^[0-9a-f]{32}$'",
    ),
    (
        "ops address without a domain",
        _cloudflare(notificationEmail="ops"),
        "platform:cloudflare.notificationEmail: value is not a valid email address",
    ),
    (
        "API token in plain text",
        lambda config: config.update({"cloudflare:apiToken": "v1.0-abcdef"}),
        "cloudflare:apiToken: stored in plain text; remove it and run `pulumi config set --secret cloudflare:apiToken`",
    ),
    (
        "Cloudflare key the explicit provider ignores",
        lambda config: config.update({"cloudflare:email": "ops@heal7.com"}),
        "cloudflare:email: explicit providers do not read this key",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [(m, e) for _, m, e in BAD_CLOUDFLARE_CONFIGS],
    ids=[case for case, _, _ in BAD_CLOUDFLARE_CONFIGS],
)
def test_bad_front_door_config_is_rejected_before_any_resource(stack_config, mutation: Mutation, expected: str):
    config = stack_config("prod")
    mutation(config)
    assert_rejected_before_any_resource("prod", config, expected)


@pytest.mark.parametrize(
    ("requests", "per", "period", "per_period"),
    [
        (100, "second", 10, 1000),  # the HEAL7 design's api zone: Cloudflare's shortest period is 10 s
        (1000, "second", 10, 10000),  # the HEAL7 design's web zone
        (100, "minute", 60, 100),  # the email platform's ingress
        (5, "hour", 3600, 5),
    ],
)
def test_document_rates_convert_exactly_to_cloudflare_periods(requests, per, period, per_period):
    assert RateLimitConfig(requests=requests, per=per).as_cloudflare_period() == (period, per_period)


@pytest.mark.parametrize("aws_origins", [1, 2, 3, 4, 6])
def test_split_pool_weights_keep_the_70_30_share_within_half_a_percent(aws_origins):
    weights = split_origin_weights({"aws": 0.7, "gcp": 0.3}, {"aws": aws_origins, "gcp": 1})
    assert max(weights.values()) == 1.0 and all(0 < w <= 1 for w in weights.values())
    aws_total = weights["aws"] * aws_origins
    assert abs(aws_total / (aws_total + weights["gcp"]) - 0.7) < 0.005


def test_health_checks_run_from_the_region_nearest_each_cloud():
    regions = (
        "ap-northeast-2",
        "asia-northeast3",
        "ap-southeast-2",
        "europe-west1",
        "europe-southwest1",
        "europe-central2",
        "eu-central-1",
        "us-east-1",
        "ca-west-1",
        "me-central1",
    )
    assert [check_region_of(r) for r in regions] == [
        "NEAS",
        "NEAS",
        "OC",
        "WEU",
        "WEU",
        "EEU",
        "WEU",
        "ENAM",
        "WNAM",
        "ME",
    ]
    assert check_region_of("mars-north1") is None
