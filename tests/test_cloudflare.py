"""The Cloudflare front door under mocks: origins, monitor, steering, zone settings, limits."""

import math

import pytest

from components.cloudflare.load_balancer import split_origin_weights
from policy.runner import evaluate
from tests.conftest import STACKS
from tests.policy_fixtures import mutated
from tools.synth import Secret, SynthResult, read_stack_config, synth

POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LB = "cloudflare:index/loadBalancer:LoadBalancer"
MONITOR = "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor"
ZONES = {"dev": "heal7-dev.com", "staging": "heal7-staging.com", "prod": "heal7.com"}
AZS = {
    "dev": ["ap-northeast-2a", "ap-northeast-2c"],
    "staging": ["ap-northeast-2a", "ap-northeast-2c"],
    "prod": ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"],
}


def _zone_id(stack):
    return read_stack_config(stack)["platform:cloudflare"]["zoneId"]


def _pools(result, stack):
    """Pool name (aws-primary, gcp-secondary, split) -> its registration."""
    prefix = f"heal7-{stack}-edge-"
    return {p.inputs["name"].removeprefix(prefix): p for p in result.of_type(POOL)}


def _balancers(result):
    return {lb.inputs["name"]: lb for lb in result.of_type(LB)}


@pytest.mark.parametrize("stack", STACKS)
def test_pool_origins_are_exactly_the_reserved_ingress_addresses(synthed, stack):
    result = synthed(stack)
    eips = [e for e in result.of_type("aws:ec2/eip:Eip") if e.inputs["tags"].get("role") == "ingress"]
    # One Elastic IP per AZ for the ingress NLB, exported for the Kubernetes layer.
    assert sorted(e.name.removeprefix(f"heal7-{stack}-network-ingress-") for e in eips) == AZS[stack]
    assert all(e.inputs["domain"] == "vpc" for e in eips)
    by_zone = {e.name.removeprefix(f"heal7-{stack}-network-ingress-"): e.outputs["publicIp"] for e in eips}
    assert result.outputs["ingressAddresses"] == by_zone
    address = result.one("gcp:compute/address:Address", f"heal7-{stack}-gcp-ingress")
    assert (address.inputs["addressType"], address.inputs["networkTier"], address.inputs["region"]) == (
        "EXTERNAL",
        "PREMIUM",
        "asia-northeast3",
    )
    assert result.outputs["gcpIngressAddress"] == address.outputs["address"]

    pools = _pools(result, stack)
    assert set(pools) == {"aws-primary", "gcp-secondary", "split"}
    aws_origins = pools["aws-primary"].inputs["origins"]
    assert {o["name"]: o["address"] for o in aws_origins} == by_zone
    assert [(o["name"], o["address"]) for o in pools["gcp-secondary"].inputs["origins"]] == [
        ("asia-northeast3", address.outputs["address"])
    ]
    split_addresses = sorted(o["address"] for o in pools["split"].inputs["origins"])
    assert split_addresses == sorted([*by_zone.values(), address.outputs["address"]])
    assert all(o["enabled"] is True for pool in pools.values() for o in pool.inputs["origins"])


@pytest.mark.parametrize("stack", STACKS)
def test_one_https_monitor_with_the_heal7_health_check_guards_every_pool(synthed, stack):
    result = synthed(stack)
    monitor = result.one(MONITOR)
    assert {k: monitor.inputs[k] for k in ("type", "method", "path", "port", "expectedCodes")} == {
        "type": "https",
        "method": "GET",
        "path": "/health",
        "port": 443,
        "expectedCodes": "200",
    }
    # The HEAL7 design's HEALTHCHECK --interval=30s --timeout=3s --retries=3 in prod (Business
    # plan); dev and staging probe every 60 s, the Pro plan's floor.
    interval = 30 if stack == "prod" else 60
    assert (monitor.inputs["interval"], monitor.inputs["timeout"], monitor.inputs["retries"]) == (interval, 3, 3)
    assert monitor.inputs["header"] == {"Host": [ZONES[stack]]}
    assert monitor.inputs["probeZone"] == ZONES[stack]
    assert monitor.inputs["allowInsecure"] is False and monitor.inputs["followRedirects"] is False
    pools = _pools(result, stack)
    assert all(p.inputs["monitor"] == monitor.id for p in pools.values())
    assert all(p.inputs["checkRegions"] == ["NEAS"] for p in pools.values())  # Seoul is Northeast Asia
    minimum = {name: p.inputs["minimumOrigins"] for name, p in pools.items()}
    # The split pool needs both clouds' minimums: a cloud below its own minimum turns it
    # unhealthy, and the single-cloud pools take over.
    aws_minimum = 2 if stack == "prod" else 1
    assert minimum == {"aws-primary": aws_minimum, "gcp-secondary": 1, "split": aws_minimum + 1}


@pytest.mark.parametrize("stack", STACKS)
def test_korea_goes_to_aws_japan_to_gcp_the_rest_70_30_with_failover(synthed, stack):
    result = synthed(stack)
    pools = {name: pool.id for name, pool in _pools(result, stack).items()}
    aws, gcp, split = pools["aws-primary"], pools["gcp-secondary"], pools["split"]
    zone = ZONES[stack]
    balancers = _balancers(result)
    assert set(balancers) == {zone, f"www.{zone}", f"api.{zone}", f"ai.{zone}"}
    for hostname in (zone, f"www.{zone}", f"api.{zone}"):
        lb = balancers[hostname].inputs
        assert lb["steeringPolicy"] == "geo"
        # Each country's first pool, then the other cloud as its failover.
        assert lb["countryPools"] == {"KR": [aws, gcp], "JP": [gcp, aws]}
        # Everyone else: the weighted split pool, then each cloud in failover order.
        assert lb["defaultPools"] == [split, aws, gcp]
        assert lb["fallbackPool"] == aws
        assert lb["proxied"] is True
        # On in the committed stacks: the ingress gateways answer the monitor.
        assert lb["enabled"] is True
        assert lb["sessionAffinity"] == "cookie" and lb["sessionAffinityTtl"] == 1800
        assert lb["sessionAffinityAttributes"]["zeroDowntimeFailover"] == "sticky"
        assert lb["adaptiveRouting"] == {"failoverAcrossPools": True}
        assert lb["zoneId"] == _zone_id(stack)

    # The split pool's origin weights give AWS 70 % and GCP 30 % of the other countries.
    cloud_of = {address: "aws" for address in result.outputs["ingressAddresses"].values()}
    cloud_of[result.outputs["gcpIngressAddress"]] = "gcp"
    share = {"aws": 0.0, "gcp": 0.0}
    origins = _pools(result, stack)["split"].inputs["origins"]
    for origin in origins:
        assert 0 < origin["weight"] <= 1 and math.isclose(origin["weight"] * 100, round(origin["weight"] * 100))
        share[cloud_of[origin["address"]]] += origin["weight"]
    total = sum(share.values())
    assert abs(share["aws"] / total - 0.7) < 0.005 and abs(share["gcp"] / total - 0.3) < 0.005


@pytest.mark.parametrize("stack", STACKS)
def test_ai_is_served_by_gcp_only(synthed, stack):
    result = synthed(stack)
    pools = _pools(result, stack)
    ai = _balancers(result)[f"ai.{ZONES[stack]}"].inputs
    gcp = pools["gcp-secondary"].id
    assert (ai["steeringPolicy"], ai["defaultPools"], ai["fallbackPool"]) == ("off", [gcp], gcp)
    assert "countryPools" not in ai and ai["proxied"] is True
    # No AWS pool anywhere in its routing: AWS runs no GPU models to fall back to.
    assert pools["aws-primary"].id not in str(ai) and pools["split"].id not in str(ai)


@pytest.mark.parametrize("stack", STACKS)
def test_pool_health_alerts_reach_the_ops_address(synthed, stack):
    result = synthed(stack)
    policy = result.one("cloudflare:index/notificationPolicy:NotificationPolicy")
    assert policy.inputs["alertType"] == "load_balancing_health_alert"
    assert sorted(policy.inputs["filters"]["poolIds"]) == sorted(p.id for p in _pools(result, stack).values())
    assert policy.inputs["filters"]["newHealths"] == ["Healthy", "Unhealthy"]
    assert policy.inputs["mechanisms"] == {"emails": [{"id": "ops@heal7.com"}]}
    account = {r.inputs["accountId"] for r in [policy, result.one(MONITOR), *result.of_type(POOL)]}
    assert account == {"9ed4e8358180f11cc7b9b0805aad4a69"}


@pytest.mark.parametrize("stack", STACKS)
def test_zone_settings_enforce_strict_tls_https_and_hsts(synthed, stack):
    result = synthed(stack)
    settings = {s.inputs["settingId"]: s for s in result.of_type("cloudflare:index/zoneSetting:ZoneSetting")}
    assert {setting_id: s.inputs["value"] for setting_id, s in settings.items() if setting_id != "security_header"} == {
        "ssl": "strict",
        "min_tls_version": "1.2",
        "tls_1_3": "on",
        "always_use_https": "on",
        "automatic_https_rewrites": "on",
        "tls_client_auth": "on",
    }
    # Every stack file serves (serveTraffic: true), so HSTS is the full header: a year, with
    # subdomains and preload. The value is free-form JSON sent as is, so its keys are the
    # Cloudflare API's own snake_case.
    assert all(lb.inputs["enabled"] is True for lb in result.of_type(LB))
    assert settings["security_header"].inputs["value"] == SERVING_HSTS
    zone_ids = {r.inputs["zoneId"] for r in [*settings.values(), *result.of_type(LB)]}
    assert zone_ids == {_zone_id(stack)}


@pytest.mark.parametrize("stack", STACKS)
def test_rate_limits_are_the_documents_limits_per_client_ip(synthed, stack):
    result = synthed(stack)
    ruleset = result.one("cloudflare:index/ruleset:Ruleset")
    assert (ruleset.inputs["kind"], ruleset.inputs["phase"]) == ("zone", "http_ratelimit")
    assert ruleset.inputs["zoneId"] == _zone_id(stack)
    zone = ZONES[stack]
    rules = {rule["ref"]: rule for rule in ruleset.inputs["rules"]}
    # 100 r/s and 1000 r/s in Cloudflare's shortest period (10 s); the email class has no
    # hostname in these stacks, so it deploys no rule.
    assert {
        ref: (r["expression"], r["ratelimit"]["period"], r["ratelimit"]["requestsPerPeriod"])
        for ref, r in rules.items()
    } == {
        "rate-limit-api": (f'http.host in {{"ai.{zone}" "api.{zone}"}}', 10, 1000),
        "rate-limit-web": (f'http.host in {{"{zone}" "www.{zone}"}}', 10, 10000),
    }
    for rule in rules.values():
        assert rule["action"] == "block" and rule["enabled"] is True
        assert rule["ratelimit"]["characteristics"] == ["ip.src", "cf.colo.id"]
        assert rule["ratelimit"]["mitigationTimeout"] == 60
    assert result.outputs["cloudflareRateLimitRulesetId"] == ruleset.id


def test_not_serving_traffic_disables_every_load_balancer(stack_config):
    config = stack_config("staging")
    config["platform:cloudflare"]["serveTraffic"] = False
    assert {lb.inputs["enabled"] for lb in synth("staging", config).of_type(LB)} == {False}


def test_a_hostname_in_the_email_class_gets_100_requests_per_minute(stack_config):
    config = stack_config("prod")
    config["platform:cloudflare"]["loadBalancers"]["mail.heal7.com"] = {
        "pools": ["aws-primary", "gcp-secondary"],
        "rateLimit": "email",
    }
    # Every load-balanced hostname has its ingress routes.
    config["platform:kubernetes"]["ingress"]["routes"]["mail.heal7.com"] = [
        {"pathPrefix": "/", "service": "heal7-production/heal7-web-main"}
    ]
    # Business allows a third rule; below Enterprise a challenge only throttles (timeout 0).
    config["platform:cloudflare"]["rateLimitAction"] = "managed_challenge"
    config["platform:cloudflare"]["mitigationTimeoutSeconds"] = 0
    rules = {r["ref"]: r for r in synth("prod", config).one("cloudflare:index/ruleset:Ruleset").inputs["rules"]}
    email = rules["rate-limit-email"]
    assert email["expression"] == 'http.host in {"mail.heal7.com"}'
    assert (email["ratelimit"]["period"], email["ratelimit"]["requestsPerPeriod"]) == (60, 100)
    assert {r["action"] for r in rules.values()} == {"managed_challenge"}
    assert {r["ratelimit"]["mitigationTimeout"] for r in rules.values()} == {0}


def test_the_api_token_reaches_the_provider_only_as_a_secret(stack_config):
    config = stack_config("dev")
    config["cloudflare:apiToken"] = {"secure": "v1:AAABAHh0b2tlbg=="}
    provider = synth("dev", config).one("pulumi:providers:cloudflare")
    assert isinstance(provider.inputs["apiToken"], Secret)


STAGED_HSTS = {
    "strict_transport_security": {
        "enabled": True,
        "max_age": 86400,
        "include_subdomains": False,
        "preload": False,
        "nosniff": True,
    }
}
# The email-platform ops guide's nginx header: max-age=31536000; includeSubDomains; preload.
SERVING_HSTS = {
    "strict_transport_security": {
        "enabled": True,
        "max_age": 31536000,
        "include_subdomains": True,
        "preload": True,
        "nosniff": True,
    }
}


@pytest.mark.parametrize(("serve", "hsts"), [(False, STAGED_HSTS), (True, SERVING_HSTS)])
def test_hsts_preload_and_subdomains_only_once_the_front_door_serves(stack_config, serve, hsts):
    config = stack_config("prod")
    config["platform:cloudflare"]["serveTraffic"] = serve
    result = synth("prod", config)
    assert {lb.inputs["enabled"] for lb in result.of_type(LB)} == {serve}
    header = result.one("cloudflare:index/zoneSetting:ZoneSetting", "heal7-prod-zone-security-header")
    assert header.inputs["value"] == hsts
    # Either stage passes the policy pack (the staged header only while nothing serves).
    assert evaluate(result).violations == []


def test_the_policy_refuses_the_staged_header_once_a_load_balancer_serves(stack_config):
    config = stack_config("prod")
    config["platform:cloudflare"]["serveTraffic"] = False
    staged = synth("prod", config)
    # A load balancer switched on behind the program's back (or a future code path) while
    # the zone still sends the one-day header without subdomains.
    lb = staged.one(LB, "heal7-prod-edge-lb-heal7-com")
    resources = [mutated(r, {"enabled": True}) if r is lb else r for r in staged.resources]
    report = evaluate(SynthResult(staged.stack, resources, {}, []))
    assert {(v.policy, v.resource_name) for v in report.violations} == {
        ("cloudflare-hsts", "heal7-prod-zone-security-header")
    }
    messages = sorted(v.message for v in report.violations)
    assert len(messages) == 2
    assert "HSTS does not cover subdomains (include_subdomains)" in messages[0]
    assert "HSTS max_age 86400 is below 15552000 seconds" in messages[1]


@pytest.mark.parametrize(
    ("aws_origins", "aws_weight", "gcp_weight", "aws_percent"),
    # The figures split_origin_weights's docstring gives: prod (3 AZs), dev and staging (2).
    [(3, 0.78, 1.0, 70.1), (2, 1.0, 0.86, 69.9)],
)
def test_split_pool_shares_are_the_ones_the_docstring_states(aws_origins, aws_weight, gcp_weight, aws_percent):
    weights = split_origin_weights(
        {"aws-primary": 0.7, "gcp-secondary": 0.3}, {"aws-primary": aws_origins, "gcp-secondary": 1}
    )
    assert weights == {"aws-primary": aws_weight, "gcp-secondary": gcp_weight}
    aws_total = aws_weight * aws_origins
    assert round(100 * aws_total / (aws_total + gcp_weight), 1) == aws_percent
    assert f"{aws_percent} %" in split_origin_weights.__doc__
    assert f"{round(100 - aws_percent, 1)} %" in split_origin_weights.__doc__
