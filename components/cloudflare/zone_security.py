"""CloudflareZoneSecurity: the zone's TLS settings, HSTS and per-client rate limits.

Settings are zone-wide, and a zone has one entrypoint ruleset per phase, so exactly one
stack owns a zone (each stack has its own zone).

HSTS is staged on the front door. Zone settings apply to whatever the zone serves today
from the first `pulumi up`, while the load balancers may still be off. The TLS settings
(strict origin checks, the TLS floor, HTTPS redirects) are undone by the next `up`; an HSTS
header is not: browsers keep it for its max-age, includeSubDomains extends it to hosts this
stack does not run, and a preloaded domain stays in browsers for months after it leaves the
list. So until the front door serves, HSTS goes out for a day, without subdomains or
preload; the year with subdomains and preload (the email-platform ops guide's nginx header) follows once it serves.
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare

# Rate counters are kept per client address and per Cloudflare data centre; cf.colo.id
# is mandatory in every rate-limiting rule.
RATE_LIMIT_CHARACTERISTICS = ["ip.src", "cf.colo.id"]
STAGED_HSTS_MAX_AGE_SECONDS = 86_400
"""HSTS before the front door serves: a day, so a browser forgets it a day after it is dropped."""


@dataclass
class RateLimitRuleArgs:
    """One limit: clients of `hostnames` may send `requests_per_period` per `period_seconds`."""

    name: str
    """Required: the rule's class (api, web, email); it names the rule in the ruleset."""
    hostnames: list[str]
    """Required: the hostnames the limit applies to."""
    period_seconds: int
    """Required: one of Cloudflare's counting periods, in seconds: 10, 60, 120, 300, 600 or 3600."""
    requests_per_period: int
    """Required: requests per client IP and data centre allowed in one period, in requests."""


@dataclass
class CloudflareZoneSecurityArgs:
    """Inputs of CloudflareZoneSecurity. Defaults are the secure ones; loosen explicitly."""

    zone_id: str
    """Required: the zone (32 hex characters) whose settings and rate-limit ruleset these are."""
    front_door_serving: bool
    """Required: no default, on purpose. True once the load balancers serve (the stack's serveTraffic), which turns
    on the year-long HSTS with subdomains and preload; False sends the staged header
    (STAGED_HSTS_MAX_AGE_SECONDS, no subdomains, no preload), which a day undoes."""
    rate_limits: list[RateLimitRuleArgs] = field(default_factory=list)
    """One rule per rate-limit class in use. Default none (no ruleset)."""
    rate_limit_action: str = "block"
    """What a client over its limit gets: block (429), a challenge, or log (Enterprise). Default block."""
    mitigation_timeout_seconds: int = 60
    """How long the action lasts once a client trips a limit, in seconds (0: throttle only). Default 60."""
    ssl_mode: str = "strict"
    """Edge-to-origin TLS mode. Default strict: Cloudflare verifies the origin's certificate and hostname, so a
    man-in-the-middle between the edge and the clouds cannot pose as the origin."""
    min_tls_version: str = "1.2"
    """Lowest TLS version clients may use. Default 1.2: TLS 1.0/1.1 are deprecated (RFC 8996) and fail PCI DSS."""
    tls_1_3: str = "on"
    """Offer TLS 1.3 to clients (on/off). Default on."""
    hsts_max_age_seconds: int = 31536000
    """HSTS max-age once the front door serves, in seconds. Default 31536000 (a year, the email-platform ops guide's nginx
    header, moved to the edge so every hostname sends it whichever cloud answers)."""
    hsts_include_subdomains: bool = True
    """HSTS includeSubDomains once the front door serves. Default true (the email-platform ops guide's nginx header)."""
    hsts_preload: bool = True
    """HSTS preload once the front door serves (hard to undo: browsers ship the preload list). Default true (the
    HEAL7 design's header)."""


class CloudflareZoneSecurity(pulumi.ComponentResource):
    """Zone settings (SSL strict, TLS floor, HTTPS only, HSTS) and the rate-limit ruleset."""

    ruleset_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: CloudflareZoneSecurityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:cloudflare:CloudflareZoneSecurity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        serving = args.front_door_serving
        settings: dict[str, Any] = {
            "ssl": args.ssl_mode,
            "min_tls_version": args.min_tls_version,
            "tls_1_3": args.tls_1_3,
            # Plain HTTP gets a redirect, and http:// links in pages are rewritten, so no
            # request or sub-resource travels unencrypted.
            "always_use_https": "on",
            "automatic_https_rewrites": "on",
            # Authenticated origin pulls: Cloudflare presents its client certificate to the
            # origins, so the ingress gateways can refuse any connection that bypasses the
            # edge (and with it these settings and the rate limits).
            "tls_client_auth": "on",
            "security_header": {
                "strict_transport_security": {
                    "enabled": True,
                    "max_age": args.hsts_max_age_seconds if serving else STAGED_HSTS_MAX_AGE_SECONDS,
                    "include_subdomains": args.hsts_include_subdomains and serving,
                    "preload": args.hsts_preload and serving,
                    # X-Content-Type-Options: nosniff, the header's usual companion.
                    "nosniff": True,
                },
            },
        }
        for setting_id, value in settings.items():
            cloudflare.ZoneSetting(
                f"{name}-{setting_id.replace('_', '-')}",
                zone_id=args.zone_id,
                setting_id=setting_id,
                value=value,
                opts=child,
            )

        self.ruleset_id = None
        if args.rate_limits:
            ruleset = cloudflare.Ruleset(
                f"{name}-rate-limits",
                zone_id=args.zone_id,
                kind="zone",
                # The zone's entrypoint for rate limiting: one per zone and phase.
                phase="http_ratelimit",
                name=f"{name} rate limits",
                description="Per-client request rates (the HEAL7 design's nginx limit_req zones)",
                rules=[self._rule(limit, args) for limit in args.rate_limits],
                opts=child,
            )
            self.ruleset_id = ruleset.id
        self.register_outputs({"ruleset_id": self.ruleset_id})

    @staticmethod
    def _rule(limit: RateLimitRuleArgs, args: CloudflareZoneSecurityArgs) -> cloudflare.RulesetRuleArgs:
        hosts = " ".join(f'"{host}"' for host in limit.hostnames)
        return cloudflare.RulesetRuleArgs(
            # A stable ref keeps the rule's identity (and its counters) across edits.
            ref=f"rate-limit-{limit.name}",
            description=f"{limit.name}: {limit.requests_per_period} requests per {limit.period_seconds}s per client IP",
            expression=f"http.host in {{{hosts}}}",
            action=args.rate_limit_action,
            enabled=True,
            ratelimit=cloudflare.RulesetRuleRatelimitArgs(
                characteristics=RATE_LIMIT_CHARACTERISTICS,
                period=limit.period_seconds,
                requests_per_period=limit.requests_per_period,
                mitigation_timeout=args.mitigation_timeout_seconds,
                # Cached responses count too: a flood of cache hits is still a flood.
                requests_to_origin=False,
            ),
        )
