"""The Cloudflare front door: load balancers over both clouds' ingress addresses, and the
zone's TLS settings and rate limits."""

from typing import Any

import pulumi

from components.aws.network import AwsNetwork
from components.cloudflare.load_balancer import CloudflareLB, CloudflareLBArgs, OriginPoolArgs
from components.cloudflare.zone_security import (
    CloudflareZoneSecurity,
    CloudflareZoneSecurityArgs,
    RateLimitRuleArgs,
)
from components.gcp.network import GcpNetwork
from stacks.config.cloudflare_models import AWS_POOL, GCP_POOL, check_region
from stacks.config.models import PlatformConfig


def build_cloudflare(
    config: PlatformConfig,
    opts: pulumi.ResourceOptions,
    aws_network: AwsNetwork,
    gcp_network: GcpNetwork,
    origins_ready: list[pulumi.Output[Any]],
) -> dict[str, Any]:
    """Register the front door; return the values the stack exports. The load balancers wait
    for `origins_ready` (the ingress gateways' Services)."""
    prefix = config.resource_prefix
    cloudflare = config.cloudflare

    def pool(origins: dict[str, pulumi.Input[str]], cloud_region: str, pool_name: str) -> OriginPoolArgs:
        return OriginPoolArgs(
            origins=origins,
            check_regions=[check_region(cloud_region)],
            minimum_origins=cloudflare.minimum_origins[pool_name],
        )

    front_door = CloudflareLB(
        f"{prefix}-edge",
        CloudflareLBArgs(
            account_id=cloudflare.account_id,
            zone_id=cloudflare.zone_id,
            pools={
                # One origin per AZ: the ingress NLB's Elastic IPs.
                AWS_POOL: pool(dict(aws_network.ingress_addresses), config.aws_region, AWS_POOL),
                GCP_POOL: pool({config.gcp_region: gcp_network.ingress_address}, config.gcp_region, GCP_POOL),
            },
            load_balancers={host: list(lb.pools) for host, lb in cloudflare.load_balancers.items()},
            zone=cloudflare.zone,
            enabled=cloudflare.serve_traffic,
            notification_email=str(cloudflare.notification_email),
            monitor_host=cloudflare.monitor_host,
            country_pools=dict(cloudflare.steering.country_pools),
            default_weights=dict(cloudflare.steering.default_weights),
            monitor_path=cloudflare.monitor.path,
            expected_codes=cloudflare.monitor.expected_codes,
            interval_seconds=cloudflare.monitor.interval_seconds,
            timeout_seconds=cloudflare.monitor.timeout_seconds,
            retries=cloudflare.monitor.retries,
            session_affinity_ttl_seconds=cloudflare.session_affinity_ttl_seconds,
            # The load balancers take the hostnames only once the gateways can answer.
            origins_ready=list(origins_ready),
        ),
        opts=opts,
    )

    # One rule per rate-limit class in use, over the hostnames that use it. A class no
    # hostname references (the email platform's, until it has a hostname) deploys nothing.
    rate_limits = []
    for class_name, limit in sorted(cloudflare.rate_limits.items()):
        hostnames = sorted(host for host, lb in cloudflare.load_balancers.items() if lb.rate_limit == class_name)
        if hostnames:
            period, requests = limit.as_cloudflare_period()
            rate_limits.append(RateLimitRuleArgs(class_name, hostnames, period, requests))
    zone = CloudflareZoneSecurity(
        f"{prefix}-zone",
        CloudflareZoneSecurityArgs(
            zone_id=cloudflare.zone_id,
            # HSTS with subdomains and preload only once the load balancers serve.
            front_door_serving=cloudflare.serve_traffic,
            rate_limits=rate_limits,
            rate_limit_action=cloudflare.rate_limit_action,
            mitigation_timeout_seconds=cloudflare.mitigation_timeout_seconds,
        ),
        opts=opts,
    )

    return {
        "cloudflarePoolIds": front_door.pool_ids,
        "cloudflareLoadBalancerIds": front_door.load_balancer_ids,
        "cloudflareRateLimitRulesetId": zone.ruleset_id,
    }
