"""Per-type mock outputs for Cloudflare resources: what each type returns after create.

Cloudflare ids are 32 lowercase hex characters (notification policies use UUIDs); a zone
setting's id is the setting's own name, as the provider reports it.
"""

from typing import Any

from tools.mock_resources import Builder
from tools.mock_values import hex_of, uuid_of

CREATED_ON = "2026-01-01T00:00:00Z"


def _hex_id(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return hex_of(name, 32), {"createdOn": CREATED_ON, "modifiedOn": CREATED_ON}


def _notification_policy(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return uuid_of(name), {"created": CREATED_ON, "modified": CREATED_ON}


def _zone_setting(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return str(inputs["settingId"]), {"editable": True, "modifiedOn": CREATED_ON}


def _ruleset(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return hex_of(name, 32), {"lastUpdated": CREATED_ON, "version": "1"}


CLOUDFLARE_RESOURCE_OUTPUTS: dict[str, Builder] = {
    "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor": _hex_id,
    "cloudflare:index/loadBalancerPool:LoadBalancerPool": _hex_id,
    "cloudflare:index/loadBalancer:LoadBalancer": _hex_id,
    "cloudflare:index/notificationPolicy:NotificationPolicy": _notification_policy,
    "cloudflare:index/zoneSetting:ZoneSetting": _zone_setting,
    "cloudflare:index/ruleset:Ruleset": _ruleset,
    "cloudflare:index/dnsRecord:DnsRecord": _hex_id,
}
