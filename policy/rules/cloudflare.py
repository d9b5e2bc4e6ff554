"""Cloudflare front-door controls: full strict TLS to the origins, TLS 1.2 or newer at the
edge, HTTPS only, HSTS, proxied load-balancer hostnames, and a health monitor on every pool."""

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import Config, ResourceControl, cloudflare_guide, get, is_true

FAMILY = "cloudflare"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
LOAD_BALANCER = "cloudflare:index/loadBalancer:LoadBalancer"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
TLS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
# Six months is the floor browsers' HSTS preload list accepts; the seeds' zone uses a year.
HSTS_MIN_AGE_SECONDS = 15_552_000


def _setting_is(setting_id: str, allowed: tuple[str, ...], problem: str):
    def check(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
        if get(args.props, "settingId") == setting_id and get(args.props, "value") not in allowed:
            yield f"{problem} ({setting_id} is {get(args.props, 'value')!r})"

    return check


def _min_tls(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if get(args.props, "settingId") != "min_tls_version":
        return
    value = get(args.props, "value")
    if value not in TLS_VERSIONS or TLS_VERSIONS.index(value) < TLS_VERSIONS.index(config["minimumVersion"]):
        yield f"clients may connect with TLS {value} (min_tls_version below {config['minimumVersion']})"


def _hsts(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if get(args.props, "settingId") != "security_header":
        return
    # ZoneSetting's `value` is a free-form object, so its keys keep Cloudflare's snake_case.
    hsts = get(args.props, "value.strict_transport_security") or {}
    if not is_true(get(hsts, "enabled")):
        yield "HSTS is off (security_header.strict_transport_security.enabled)"
        return
    if (get(hsts, "max_age") or 0) < config["minimumMaxAgeSeconds"]:
        yield f"HSTS max_age {get(hsts, 'max_age')} is below {config['minimumMaxAgeSeconds']} seconds"
    if not is_true(get(hsts, "include_subdomains")):
        yield "HSTS does not cover subdomains (include_subdomains)"


def _lb_proxied(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not is_true(get(args.props, "proxied")):
        yield "the hostname is DNS-only, exposing origin addresses and skipping TLS settings and rate limits (proxied)"


def _pool_monitored(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not get(args.props, "monitor"):
        yield "the pool has no health monitor, so failover never triggers (monitor)"


POLICIES = [
    ResourceControl(
        name="cloudflare-always-use-https",
        description="The zone redirects every plain-HTTP request to HTTPS.",
        severity=Severity.MEDIUM,
        framework=cloudflare_guide("Always Use HTTPS"),
        family=FAMILY,
        resource_types=[ZONE_SETTING],
        when_absent="insecure: the zone serves plain HTTP by default; cloudflare-zone-baseline catches a missing "
        "setting",
        remediation="set the zone's always_use_https setting to 'on'",
        check=_setting_is("always_use_https", ("on",), "plain HTTP is served"),
    ),
    ResourceControl(
        name="cloudflare-ssl-strict",
        description="Cloudflare verifies the origin's certificate (SSL mode Full strict).",
        severity=Severity.HIGH,
        framework=cloudflare_guide("SSL/TLS encryption modes: Full (strict)"),
        family=FAMILY,
        resource_types=[ZONE_SETTING],
        when_absent="insecure: a zone with no ssl setting keeps Cloudflare's default (flexible or full); "
        "cloudflare-zone-baseline catches a missing setting",
        remediation="set the zone's ssl setting to 'strict'",
        check=_setting_is("ssl", ("strict",), "origin certificates are not verified"),
    ),
    ResourceControl(
        name="cloudflare-min-tls-1-2",
        description="The zone refuses TLS older than 1.2.",
        severity=Severity.HIGH,
        framework=cloudflare_guide("Minimum TLS version (PCI DSS 4.0 req. 4.2.1)"),
        family=FAMILY,
        resource_types=[ZONE_SETTING],
        when_absent="insecure: the zone default is TLS 1.0; cloudflare-zone-baseline catches a missing setting",
        remediation="set the zone's min_tls_version to '1.2'",
        settings={"minimumVersion": {"enum": list(TLS_VERSIONS), "default": "1.2"}},
        check=_min_tls,
    ),
    ResourceControl(
        name="cloudflare-hsts",
        description="The zone sends HSTS for at least six months, subdomains included.",
        severity=Severity.MEDIUM,
        framework=cloudflare_guide("HTTP Strict Transport Security (OWASP ASVS 14.4.5)"),
        family=FAMILY,
        resource_types=[ZONE_SETTING],
        when_absent="insecure: HSTS is off by default; cloudflare-zone-baseline catches a missing setting",
        remediation="set security_header.strict_transport_security {enabled, max_age >= 15552000, include_subdomains}",
        settings={"minimumMaxAgeSeconds": {"type": "integer", "minimum": 0, "default": HSTS_MIN_AGE_SECONDS}},
        check=_hsts,
    ),
    ResourceControl(
        name="cloudflare-lb-proxied",
        description="Load-balanced hostnames are proxied through Cloudflare.",
        severity=Severity.HIGH,
        framework=cloudflare_guide("Load Balancing: proxied hostnames"),
        family=FAMILY,
        resource_types=[LOAD_BALANCER],
        when_absent="insecure: proxied defaults to false (DNS-only)",
        remediation="set proxied true",
        check=_lb_proxied,
    ),
    ResourceControl(
        name="cloudflare-pool-monitored",
        description="Every load-balancer pool has a health monitor.",
        severity=Severity.HIGH,
        framework=cloudflare_guide("Load Balancing: monitors"),
        family=FAMILY,
        resource_types=[POOL],
        when_absent="insecure: a pool without a monitor is always considered healthy",
        remediation="attach the /health monitor to the pool (monitor)",
        check=_pool_monitored,
    ),
]
