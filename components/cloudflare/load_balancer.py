"""CloudflareLB: the global front door's load balancers, pools and health monitor.

One HTTPS monitor, one origin pool per cloud (its ingress addresses), and one proxied load
balancer per hostname. Pool health alerts go to the ops address through Cloudflare's
notification service.

How "Korea to AWS, Japan to GCP, everyone else 70/30, fail over on health" is built, and
why (Cloudflare Load Balancing docs, checked against pulumi_cloudflare 6.23's schema):

- `steering_policy="geo"` with `country_pools`: KR -> [aws, gcp], JP -> [gcp, aws]. Within
  an area Cloudflare uses the listed pools in failover order, so each country fails over
  to the other cloud on health.
- Under geo steering, countries without an entry use `default_pools`, and those are a
  failover order too: geo steering "cannot split traffic across pools within one
  location", and `random_steering` weights apply only to the random and
  least-outstanding/least-connections policies. A 70/30 pool weight is therefore not
  expressible next to country pools.
- Custom load-balancing rules could override the policy per request, but they cannot
  match a country (their proxied fields are host, path, headers, cookies, method, ip.src)
  and Cloudflare documents them as incompatible with geo steering. Pool sets (per-area
  weights) exist in the API for Enterprise Traffic Steering but not in this provider.
- So the split lives one level down: the first default pool is a "split" pool holding
  both clouds' ingress addresses with origin weights in the 70/30 ratio, and random
  origin steering (traffic per origin = weight / sum of healthy weights). An unhealthy
  origin leaves the rotation. The split pool needs as many healthy origins as the
  single-cloud pools' minimums together, so when one cloud degrades below its own minimum
  the split pool turns unhealthy and the single-cloud pools take over in failover order
  (a degraded AWS hands its share to GCP instead of piling it on its last AZ).
- The fallback pool (used only when every pool is unhealthy) is the hostname's first pool.

Cookie session affinity keeps a client on one origin, so the 70/30 split is per client,
not per request (a session's state lives in one cloud), and `zero_downtime_failover =
"sticky"` moves the client, and its cookie, to a healthy origin when its origin fails.
Adaptive routing's failover across pools retries a failed request (521/522/523/525/526)
on the next pool instead of waiting for the monitor to notice.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_cloudflare as cloudflare

# Cloudflare takes origin weights between 0 and 1 in steps of 0.01.
WEIGHT_DECIMALS = 2


@dataclass
class OriginPoolArgs:
    """One cloud's ingress: its addresses and where its health is checked from."""

    origins: dict[str, pulumi.Input[str]]
    """Required: origin name (the stable key, e.g. the AZ) -> public IPv4 of the ingress load balancer there."""
    check_regions: list[str]
    """Required: Cloudflare regions whose probes check the pool, the ones nearest the cloud (no default fits both
    clouds)."""
    minimum_origins: int = 1
    """Healthy origins the pool needs to take traffic, in origins; below it the pool fails over. Default 1."""


@dataclass
class CloudflareLBArgs:
    """Inputs of CloudflareLB. Defaults: the HEAL7 design's health check, proxied, sticky sessions."""

    account_id: str
    """Required: the Cloudflare account (32 hex characters) that owns monitors, pools and notifications."""
    zone_id: str
    """Required: the zone (32 hex characters) the load-balanced hostnames live in."""
    zone: str
    """Required: the zone's name; probes carry its settings (authenticated origin pulls' certificate)."""
    pools: dict[str, OriginPoolArgs]
    """Required: pool name (the stable key, e.g. aws-primary) -> its origins."""
    load_balancers: dict[str, list[str]]
    """Required: hostname -> the pools that serve it, in failover order."""
    notification_email: str
    """Required: receives an email whenever a pool or origin turns healthy or unhealthy; nobody else would know."""
    monitor_host: str
    """Required: Host header of the health probe; every pool's gateway must serve it."""
    country_pools: dict[str, str] = field(default_factory=dict)
    """Country (ISO 3166-1 alpha-2) -> the pool it uses first, on multi-pool hostnames. Default none (every country
    takes the default order)."""
    default_weights: dict[str, float] = field(default_factory=dict)
    """Pool -> share of the other countries' traffic on multi-pool hostnames, fractions summing to 1. Default none
    (failover order only)."""
    monitor_path: str = "/health"
    """Path the health probe requests. Default /health (the HEAL7 design's health endpoint)."""
    expected_codes: str = "200"
    """HTTP status the probe accepts as healthy. Default "200"."""
    # The HEAL7 design's container HEALTHCHECK: --interval=30s --timeout=3s --retries=3.
    interval_seconds: int = 30
    """Time between probes from each region, in seconds; the plan sets the floor (Pro 60, Business 15). Default 30."""
    timeout_seconds: int = 3
    """Time a probe waits for the answer, in seconds; below the interval. Default 3."""
    retries: int = 3
    """Failed probes in a row before an origin is marked down, in probes. Default 3."""
    session_affinity_ttl_seconds: int = 1800
    """Lifetime of the affinity cookie that keeps a client on one cloud, in seconds. Default 1800 (30 min)."""
    enabled: bool = True
    """Serve traffic. An enabled load balancer takes over its hostname's DNS, so keep it off until the origins
    answer the monitor. Default true."""
    origins_ready: list[pulumi.Input[pulumi.Resource]] = field(default_factory=list)
    """What the load balancers wait for before they take their hostnames: the resources that make the origins
    answer (the ingress gateways' Services). Monitors and pools do not wait. Default none."""


def split_origin_weights(pool_weights: dict[str, float], origin_counts: dict[str, int]) -> dict[str, float]:
    """Per-origin weight of each pool's origins in the split pool.

    A pool's share is divided evenly over its origins, then every weight is scaled so the
    largest is 1 (Cloudflare's maximum) and rounded to Cloudflare's 0.01 steps. For 0.7 / 0.3:
    three AWS addresses (prod) get 0.78 each and the GCP address 1.0, so AWS takes
    2.34 / 3.34 = 70.1 % and GCP 29.9 %; two AWS addresses (dev, staging) get 1.0 each and
    GCP 0.86, so AWS takes 2 / 2.86 = 69.9 % and GCP 30.1 %.
    """
    per_origin = {pool: weight / origin_counts[pool] for pool, weight in pool_weights.items()}
    scale = 1 / max(per_origin.values())
    return {pool: round(weight * scale, WEIGHT_DECIMALS) for pool, weight in per_origin.items()}


class CloudflareLB(pulumi.ComponentResource):
    """Monitor, per-cloud pools, a weighted split pool and one proxied LB per hostname."""

    monitor_id: pulumi.Output[str]
    pool_ids: dict[str, pulumi.Output[str]]
    """Pool name -> Cloudflare pool id (including the split pool, under "split")."""
    load_balancer_ids: dict[str, pulumi.Output[str]]
    """Hostname -> load balancer id."""

    def __init__(self, name: str, args: CloudflareLBArgs, opts: pulumi.ResourceOptions | None = None):
        _check(name, args)
        super().__init__("platform:cloudflare:CloudflareLB", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # HTTPS with certificate verification (allow_insecure off): the probe proves the
        # gateway's TLS works as clients will see it. Redirects are not followed, so a
        # misrouted /health that redirects is unhealthy rather than "200 elsewhere".
        monitor = cloudflare.LoadBalancerMonitor(
            f"{name}-monitor",
            account_id=args.account_id,
            type="https",
            method="GET",
            path=args.monitor_path,
            port=443,
            header={"Host": [args.monitor_host]},
            expected_codes=args.expected_codes,
            interval=args.interval_seconds,
            timeout=args.timeout_seconds,
            retries=args.retries,
            allow_insecure=False,
            follow_redirects=False,
            # Probe as the zone does: with authenticated origin pulls on, the probe presents
            # Cloudflare's client certificate like real traffic, so an origin that demands
            # it still reads healthy.
            probe_zone=args.zone,
            description=f"{name}: GET https://{args.monitor_host}{args.monitor_path} expects {args.expected_codes}",
            opts=child,
        )

        def origin_pool(
            pool_name: str,
            origins: list[cloudflare.LoadBalancerPoolOriginArgs],
            check_regions: list[str],
            minimum_origins: int,
            description: str,
        ) -> cloudflare.LoadBalancerPool:
            return cloudflare.LoadBalancerPool(
                f"{name}-{pool_name}",
                account_id=args.account_id,
                # Pools are account-wide: the stack's prefix keeps two stacks apart.
                name=f"{name}-{pool_name}",
                description=description,
                origins=origins,
                monitor=monitor.id,
                minimum_origins=minimum_origins,
                check_regions=check_regions,
                # Random origin steering honours the origin weights exactly.
                origin_steering=cloudflare.LoadBalancerPoolOriginSteeringArgs(policy="random"),
                enabled=True,
                opts=child,
            )

        pools = {
            pool_name: origin_pool(
                pool_name,
                [
                    cloudflare.LoadBalancerPoolOriginArgs(name=origin, address=address, enabled=True, weight=1)
                    for origin, address in pool.origins.items()
                ],
                pool.check_regions,
                pool.minimum_origins,
                f"{pool_name}: its cloud's ingress addresses",
            )
            for pool_name, pool in args.pools.items()
        }
        pool_ids = {pool_name: pool.id for pool_name, pool in pools.items()}

        if any(len(balanced) > 1 for balanced in args.load_balancers.values()):
            weights = split_origin_weights(
                args.default_weights, {p: len(args.pools[p].origins) for p in args.default_weights}
            )
            split = origin_pool(
                "split",
                [
                    cloudflare.LoadBalancerPoolOriginArgs(
                        name=f"{pool_name}-{origin}", address=address, enabled=True, weight=weights[pool_name]
                    )
                    for pool_name in args.default_weights
                    for origin, address in args.pools[pool_name].origins.items()
                ],
                sorted({region for pool in args.pools.values() for region in pool.check_regions}),
                sum(args.pools[p].minimum_origins for p in args.default_weights),
                "Both clouds, weighted " + " / ".join(f"{p} {w:.0%}" for p, w in args.default_weights.items()),
            )
            pool_ids["split"] = split.id

        balancers = {
            hostname: self._load_balancer(name, hostname, served, pool_ids, args)
            for hostname, served in args.load_balancers.items()
        }

        # Pool-level notification_email is deprecated in favour of notification policies.
        cloudflare.NotificationPolicy(
            f"{name}-health-alerts",
            account_id=args.account_id,
            name=f"{name}: origin pool health",
            description="A pool or origin of the front door changed health",
            alert_type="load_balancing_health_alert",
            enabled=True,
            filters=cloudflare.NotificationPolicyFiltersArgs(
                pool_ids=list(pool_ids.values()),
                event_sources=["pool", "origin"],
                new_healths=["Healthy", "Unhealthy"],
            ),
            mechanisms=cloudflare.NotificationPolicyMechanismsArgs(
                emails=[cloudflare.NotificationPolicyMechanismsEmailArgs(id=args.notification_email)]
            ),
            opts=child,
        )

        self.monitor_id = monitor.id
        self.pool_ids = pool_ids
        self.load_balancer_ids = {hostname: balancer.id for hostname, balancer in balancers.items()}
        self.register_outputs(
            {
                "monitor_id": self.monitor_id,
                "pool_ids": self.pool_ids,
                "load_balancer_ids": self.load_balancer_ids,
            }
        )

    def _load_balancer(
        self,
        name: str,
        hostname: str,
        served: list[str],
        pool_ids: dict[str, pulumi.Output[str]],
        args: CloudflareLBArgs,
    ) -> cloudflare.LoadBalancer:
        failover = [pool_ids[p] for p in served]
        if len(served) > 1:
            # See the module docstring: geo for the mapped countries, the weighted split
            # pool first for everyone else, each list a failover order.
            steering = "geo"
            country_pools = {
                country: [pool_ids[first]] + [pool_ids[p] for p in served if p != first]
                for country, first in sorted(args.country_pools.items())
                if first in served
            }
            default_pools = [pool_ids["split"], *failover]
        else:
            # One cloud serves it (ai: the GPU models run only on GCP); nothing to steer.
            steering, country_pools, default_pools = "off", None, failover
        return cloudflare.LoadBalancer(
            f"{name}-lb-{hostname.replace('.', '-')}",
            zone_id=args.zone_id,
            name=hostname,
            description=f"{hostname}: " + " then ".join(served),
            # Orange-clouded: clients see Cloudflare's addresses, never the origins'.
            proxied=True,
            enabled=args.enabled,
            steering_policy=steering,
            country_pools=country_pools,
            default_pools=default_pools,
            fallback_pool=pool_ids[served[0]],
            session_affinity="cookie",
            session_affinity_ttl=args.session_affinity_ttl_seconds,
            session_affinity_attributes=cloudflare.LoadBalancerSessionAffinityAttributesArgs(
                secure="Always",
                samesite="Lax",
                zero_downtime_failover="sticky",
            ),
            adaptive_routing=cloudflare.LoadBalancerAdaptiveRoutingArgs(failover_across_pools=True),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.origins_ready),
        )


def _check(name: str, args: CloudflareLBArgs) -> None:
    """Reject inputs Cloudflare would accept but that would not route as intended."""
    for hostname, served in args.load_balancers.items():
        unknown = [p for p in served if p not in args.pools]
        if not served or unknown:
            raise ValueError(f"CloudflareLB {name}: {hostname} needs pools from {sorted(args.pools)}, got {served}")
        if len(served) > 1 and set(args.default_weights) != set(served):
            raise ValueError(
                f"CloudflareLB {name}: {hostname} is served by {served} but weights name {sorted(args.default_weights)}"
            )
    if any(weight <= 0 for weight in args.default_weights.values()):
        raise ValueError(f"CloudflareLB {name}: weights must be positive, got {args.default_weights}")
    for pool_name, pool in args.pools.items():
        if not 1 <= pool.minimum_origins <= len(pool.origins):
            raise ValueError(f"CloudflareLB {name}: pool {pool_name} needs 1..{len(pool.origins)} minimum origins")
    if args.timeout_seconds >= args.interval_seconds:
        raise ValueError(f"CloudflareLB {name}: the monitor timeout must be shorter than its interval")
