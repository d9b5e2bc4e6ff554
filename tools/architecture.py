"""The platform's architecture as a graph, read from a plan's inventory (tools/inventory.py).

`build_architecture(inventory)` returns the boxes (clouds, networks, clusters), the nodes and
the edges that tools/diagram.py draws and the tests check. Everything comes from what the
program registered: a node exists only for a resource (or a group of resources) in the
inventory, and an edge only for a reference the program made (an input value, a dependency).
A value that names nothing registered (a pool origin on an unknown address, a workload that
fits no node group) is not drawn; it is listed in `Architecture.unmatched` and the plan prints it.

Node and box keys are resource names (stable, unique in a stack), never positions, so the
committed drawing of prod (docs/architecture-prod.svg) can be compared with a fresh one.
"""

from collections.abc import Mapping
from typing import Any

from tools import manifests
from tools._architecture_clouds import draw_cloud
from tools._architecture_reads import Resources, cloud_of, value
from tools.architecture_model import (
    ADDRESS_OUTPUT,
    AWS_VPN_CONNECTION,
    AWS_VPN_GATEWAY,
    BUCKET,
    CLOUD_NAMES,
    CLOUD_SQL,
    DNS_RECORD,
    GATEWAY,
    GCP_ADDRESS,
    GCP_VPN_GATEWAY,
    GEO_POOL_KEYS,
    LB,
    MONITORING,
    POOL,
    RDS,
    ROUTER_PEER,
    SOURCE_REPRESENTATION,
    STEERING,
    VPN_TUNNEL,
    Architecture,
    Box,
    Edge,
)

__all__ = ["Architecture", "build_architecture"]


def build_architecture(inventory: Mapping[str, Any]) -> Architecture:
    resources = Resources(inventory)
    drawing = Architecture(stack=str(inventory.get("stack", "")))
    versions = {c.cluster: c.version for c in manifests.collect(inventory).values()}
    network_box: dict[str, str] = {}
    for cloud in ("aws", "gcp"):
        box = draw_cloud(resources, drawing, cloud, versions)
        if box:
            network_box[cloud] = box
    _front_door(resources, drawing)
    _addresses(resources, drawing, network_box)
    _cross_cloud(resources, drawing)
    return drawing


# --- the front door -------------------------------------------------------------------------


def _front_door(resources: Resources, drawing: Architecture) -> None:
    balancers, pools = resources.of_type(LB), resources.of_type(POOL)
    if not balancers and not pools:
        return
    drawing.boxes.append(Box("cloudflare", "Cloudflare · global front door (proxied)", None))
    addresses = {value(a, ADDRESS_OUTPUT[a["type"]]): a for a in resources.of_type(*ADDRESS_OUTPUT)}
    for pool in pools:
        origins = [o for o in pool["inputs"].get("origins") or [] if o.get("enabled", True)]
        total = sum(float(o.get("weight", 1)) for o in origins) or 1.0
        shares: dict[str, float] = {}
        for origin in origins:
            address = addresses.get(origin.get("address"))
            if address is None:
                drawing.unmatched.append(
                    f"{pool['name']}: origin {origin.get('name')} at {origin.get('address')} is no address "
                    "the program registers"
                )
                continue
            share = float(origin.get("weight", 1)) / total
            cloud = CLOUD_NAMES[cloud_of(address["type"])]
            shares[cloud] = shares.get(cloud, 0.0) + share
            drawing.edges.append(Edge(pool["name"], address["name"], "origin", _percent(share)))
        split = " · ".join(f"{cloud} {_percent(share)}" for cloud, share in sorted(shares.items()))
        drawing.add(
            pool["name"],
            f"pool {pool['inputs'].get('name', pool['name'])}\n{split}",
            "cloudflare-pool",
            "cloudflare",
            pool,
        )
    pool_by_id = {p["id"]: p for p in pools}
    for balancer in balancers:
        inputs = balancer["inputs"]
        policy = _steering_policy(inputs)
        steering = STEERING.get(policy, f"{policy} steering")
        drawing.add(
            balancer["name"],
            f"{inputs.get('name', balancer['name'])}\n{steering}",
            "cloudflare-lb",
            "cloudflare",
            balancer,
        )
        for pool_id, (first, then) in _steering_roles(inputs, policy).items():
            pool = pool_by_id.get(pool_id)
            if pool is None:
                drawing.unmatched.append(f"{balancer['name']}: pool {pool_id} is no pool the program registers")
                continue
            label = ", ".join(first) if first else "failover: " + ", ".join(then)
            drawing.edges.append(Edge(balancer["name"], pool["name"], "steering", label, dashed=not first))


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def _steering_policy(inputs: Mapping[str, Any]) -> str:
    """Cloudflare's rule: an empty steering policy is `geo` when country, region or PoP pools are set, else `off`."""
    policy = inputs.get("steeringPolicy") or ""
    if policy:
        return policy
    return "geo" if any(inputs.get(k) for k in GEO_POOL_KEYS) else "off"


def _steering_roles(inputs: Mapping[str, Any], policy: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per pool id: the traffic it takes first (`KR`, `rest`, `all`) and where it is only a later choice
    (`fallback` is listed either way: the pool of last resort when every other is down)."""
    roles: dict[str, tuple[list[str], list[str]]] = {}

    def note(pool_id: str, first: bool, what: str) -> None:
        primary, later = roles.setdefault(pool_id, ([], []))
        (primary if first else later).append(what)

    # Country, region and PoP pools steer only under `geo`; otherwise Cloudflare ignores them.
    steered = False
    for key in GEO_POOL_KEYS if policy == "geo" else ():
        for where, pool_ids in sorted((inputs.get(key) or {}).items()):
            steered = True
            for rank, pool_id in enumerate(pool_ids):
                note(pool_id, rank == 0, where)
    # `off` and `geo` take the default pools in order; the other policies (random, proximity,
    # dynamic_latency, least_*) spread over all of them.
    spread = policy not in ("off", "geo")
    for rank, pool_id in enumerate(inputs.get("defaultPools") or []):
        note(pool_id, spread or rank == 0, "rest" if steered else "all")
    if inputs.get("fallbackPool"):
        pool_id = inputs["fallbackPool"]
        note(pool_id, bool(roles.get(pool_id, ([], []))[0]), "fallback")
    return roles


# --- what joins the clouds and the front door ---------------------------------------------------


def _addresses(resources: Resources, drawing: Architecture, network_box: Mapping[str, str]) -> None:
    """The reserved addresses the pools name and the gateways bind, each edged to the gateway bound to it."""
    named = {e.target for e in drawing.edges_of("origin")}
    gateways = [(g, resources.descendants(g)) for g in resources.of_type(GATEWAY)]
    for address in resources.of_type(*ADDRESS_OUTPUT):
        bound_by = [g for g, parts in gateways if resources.depends_on_any(parts, [address])]
        if address["name"] not in named and not bound_by:
            continue  # a NAT or internal address: not on the ingress path
        cloud = cloud_of(address["type"])
        ip = value(address, ADDRESS_OUTPUT[address["type"]])
        drawing.add(
            address["name"], f"{ip}\n{address['name']}", f"{cloud}-address", network_box.get(cloud, cloud), address
        )
        for gateway in bound_by:
            drawing.edges.append(Edge(address["name"], gateway["name"], "ingress"))


def _cross_cloud(resources: Resources, drawing: Architecture) -> None:
    aws_gateways, gcp_gateways = resources.of_type(AWS_VPN_GATEWAY), resources.of_type(GCP_VPN_GATEWAY)
    peers = resources.of_type(ROUTER_PEER)
    for gcp_gateway in gcp_gateways:
        tunnels = [t for t in resources.of_type(VPN_TUNNEL) if gcp_gateway["urn"] in t.get("dependencies", [])]
        for aws_gateway in aws_gateways:
            # A GCP tunnel ends on an AWS VPN connection, which ends on this AWS gateway.
            joined = [
                t for t in tunnels if (resources.reach(t, AWS_VPN_GATEWAY, max_hops=2) or ({},))[0] is aws_gateway
            ]
            if not joined:
                continue
            # BGP: a Cloud Router peer on the same AWS connections as the tunnels.
            connections = {u for t in joined for u in t.get("dependencies", [])} & {
                c["urn"] for c in resources.of_type(AWS_VPN_CONNECTION)
            }
            bgp = " · BGP" if any(connections & set(p.get("dependencies", [])) for p in peers) else ""
            drawing.edges.append(
                Edge(aws_gateway["name"], gcp_gateway["name"], "vpn", f"HA VPN · {len(joined)} tunnels{bgp}")
            )
    # Replication, joined by values: the replica names its source representation, whose host is
    # RDS's address or a CNAME of it.
    sources = {value(s, "name"): s for s in resources.of_type(SOURCE_REPRESENTATION)}
    cnames = {value(r, "name"): r["inputs"].get("content") for r in resources.of_type(DNS_RECORD)}
    primaries = {value(db, "address"): db for db in resources.of_type(RDS)}
    for replica in resources.of_type(CLOUD_SQL):
        source = sources.get(replica["inputs"].get("masterInstanceName"))
        host = (source or {}).get("inputs", {}).get("host")
        primary = primaries.get(host) or primaries.get(cnames.get(host))
        if primary is not None:
            drawing.edges.append(Edge(primary["name"], replica["name"], "replication", f"replication from {host}"))
        elif source is not None:
            drawing.unmatched.append(f"{replica['name']}: its source {host} is no RDS instance the program registers")
    # Grafana on one cluster reads the other cloud's Prometheus on a reserved internal address: the
    # stack that runs in the address's cloud serves it, any other stack naming it reads it.
    internal = [a for a in resources.of_type(GCP_ADDRESS) if a["inputs"].get("addressType") == "INTERNAL"]
    for address in internal:
        users = [
            m for m in resources.of_type(MONITORING) if resources.depends_on_any(resources.descendants(m), [address])
        ]
        cluster_cloud = {m["urn"]: cloud_of((resources.component_cluster(m) or {"type": ""})["type"]) for m in users}
        for server in (m for m in users if cluster_cloud[m["urn"]] == cloud_of(address["type"])):
            for reader in (m for m in users if m is not server):
                ip = value(address, "address")
                drawing.edges.append(
                    Edge(reader["name"], server["name"], "metrics", f"Grafana reads Prometheus at {ip} (VPN)")
                )
    for backups in resources.of_type("platform:kubernetes:DatabaseBackups"):
        parts = resources.descendants(backups)
        for db in resources.depends_on_any(parts, resources.of_type(RDS)):
            drawing.edges.append(Edge(db["name"], backups["name"], "backup", "pg_dump"))
        for bucket in resources.depends_on_any(parts, resources.of_type(BUCKET)):
            drawing.edges.append(Edge(backups["name"], bucket["name"], "backup", "dumps"))
