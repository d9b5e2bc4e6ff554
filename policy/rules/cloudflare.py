"""Cloudflare front-door controls: full strict TLS to the origins, TLS 1.2 or newer at the
edge, HTTPS only, HSTS (full strength once the zone's load balancers serve), proxied
load-balancer hostnames, and a health monitor on every pool."""

from collections.abc import Iterator

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from .framework import (
    UNKNOWN,
    Config,
    ResourceControl,
    StackControl,
    StackFinding,
    cloudflare_guide,
    get,
    get_or_unknown,
    is_true,
    known,
)

FAMILY = "cloudflare"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
LOAD_BALANCER = "cloudflare:index/loadBalancer:LoadBalancer"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
TLS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
# About six months (180 days): OWASP ASVS 14.4.5 shows max-age=15724800 (182 days). The browsers' preload list
# asks more (hstspreload.org: a year, includeSubDomains, preload), which the zone sends once it serves, as the
# email-platform ops guide's nginx header does.
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


def _hsts(args: StackValidationArgs, config: Config) -> Iterator[StackFinding]:
    """HSTS on in every zone; its full strength (max-age floor, subdomains) once the zone's
    load balancers serve. Before that the zone may send a short staged header: the settings
    reach whatever the zone serves today, and a long HSTS cannot be taken back."""
    serving_zones = {
        get_or_unknown(lb.props, "zoneId")
        for lb in args.resources
        if lb.resource_type == LOAD_BALANCER and get_or_unknown(lb.props, "enabled") in (True, UNKNOWN)
    }

    def problems(setting: PolicyResource) -> list[str]:
        if get(setting.props, "settingId") != "security_header":
            return []
        # ZoneSetting's `value` is a free-form object, so its keys keep Cloudflare's snake_case.
        hsts = get(setting.props, "value.strict_transport_security") or {}
        if not is_true(get(hsts, "enabled")):
            return ["HSTS is off (security_header.strict_transport_security.enabled)"]
        if UNKNOWN not in serving_zones and get(setting.props, "zoneId") not in serving_zones:
            return []  # staged: no load balancer of this zone serves yet
        found = []
        max_age = get(hsts, "max_age") or 0  # the engine hands numbers over as floats
        if max_age < config["minimumMaxAgeSeconds"]:
            found.append(
                f"HSTS max_age {int(max_age)} is below {int(config['minimumMaxAgeSeconds'])} seconds while the "
                "zone's load balancers serve"
            )
        if not is_true(get(hsts, "include_subdomains")):
            found.append("HSTS does not cover subdomains (include_subdomains) while the zone's load balancers serve")
        return found

    yield from known([r for r in args.resources if r.resource_type == ZONE_SETTING], problems)


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
    StackControl(
        name="cloudflare-hsts",
        description="The zone sends HSTS, for at least six months with subdomains once its load balancers serve.",
        severity=Severity.MEDIUM,
        framework=cloudflare_guide("HTTP Strict Transport Security (OWASP ASVS 14.4.5)"),
        family=FAMILY,
        when_absent="insecure: HSTS is off by default; cloudflare-zone-baseline catches a missing setting",
        remediation="set security_header.strict_transport_security {enabled, and once a load balancer of the zone "
        "is enabled: max_age >= 15552000, include_subdomains} (components/cloudflare/zone_security.py stages it "
        "on serveTraffic)",
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
