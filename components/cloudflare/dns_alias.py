"""DnsAlias: a DNS-only CNAME in the stack's Cloudflare zone that names a host elsewhere.

For a name that something outside both VPCs must resolve, shorter than the target's own
name. Its first user is the Cloud SQL replica: Cloud SQL limits its external source's
host name, and the RDS endpoint name is longer (see components/gcp/cloudsql_replica.py).
A CNAME, not an A record: it follows the target's own record, so an RDS Multi-AZ failover
(RDS repoints its endpoint at the new primary's private IP) needs no change here.
"""

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

CNAME_TTL_SECONDS = 300
"""The CNAME itself never changes (the target's own record carries failovers with its own
TTL), so five minutes of caching costs nothing; Cloudflare accepts 60-86400 (1 = automatic)."""


@dataclass
class DnsAliasArgs:
    """Inputs of DnsAlias. Every field is required; the record is never proxied."""

    zone_id: pulumi.Input[str]
    """Required: the Cloudflare zone (32-hex id) that holds `hostname`."""
    hostname: str
    """Required: fully qualified name to create, inside the zone, e.g. heal7-prod-postgres.heal7.com."""
    target: pulumi.Input[str]
    """Required: the name the alias points at, e.g. the RDS endpoint address."""
    purpose: str
    """Required: why the record exists; becomes the record's comment in the Cloudflare dashboard."""


class DnsAlias(pulumi.ComponentResource):
    hostname: pulumi.Output[str]
    """The alias's name, available once the record exists (depend on it through this)."""

    def __init__(self, name: str, args: DnsAliasArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:cloudflare:DnsAlias", name, None, opts)
        record = cloudflare.DnsRecord(
            f"{name}-record",
            zone_id=args.zone_id,
            name=args.hostname,
            type="CNAME",
            content=args.target,
            ttl=CNAME_TTL_SECONDS,
            # DNS-only: the target is not an HTTP origin (PostgreSQL on 5432); proxying
            # would answer with Cloudflare's edge addresses instead of the target's.
            proxied=False,
            comment=args.purpose,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.hostname = record.name
        self.register_outputs({"hostname": self.hostname})
