"""The architecture drawing (tools/architecture.py, tools/diagram.py) is true to the inventory.

The graph is checked against the synth itself (registrations and their provider outputs), not
against the drawing's own reading of the inventory: the pools' origins are joined to addresses
by value here, the clusters are found from the providers' names, the weights from the stack file.
"""

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.architecture import build_architecture
from tools.architecture_model import Architecture, Box
from tools.capacity import stack_config
from tools.diagram import draw, graph_of, graph_of_svg
from tools.inventory import build_inventory
from tools.svg_icons import inline_icons
from tools.synth import PROJECT_ROOT, SynthResult

STACKS = ("dev", "staging", "prod")
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LB = "cloudflare:index/loadBalancer:LoadBalancer"
ADDRESS_OUTPUTS = {"aws:ec2/eip:Eip": "publicIp", "gcp:compute/address:Address": "address"}
COMMITTED = PROJECT_ROOT / "docs" / "architecture-prod.svg"

_ARCHITECTURES: dict[str, Architecture] = {}


@pytest.fixture
def architecture(synthed: Callable[[str], SynthResult]) -> Callable[[str], Architecture]:
    def get(stack: str) -> Architecture:
        if stack not in _ARCHITECTURES:
            _ARCHITECTURES[stack] = build_architecture(build_inventory(synthed(stack)))
        return _ARCHITECTURES[stack]

    return get


def _drawn(architecture: Architecture, *urns: str) -> set[str]:
    """Keys of the nodes that stand for any of `urns`."""
    return {n.key for n in architecture.nodes if set(n.urns) & set(urns)}


def _targets(architecture: Architecture, source: str, kind: str) -> dict[str, str]:
    return {e.target: e.label for e in architecture.edges if e.source == source and e.kind == kind}


@pytest.mark.parametrize("stack", STACKS)
def test_every_cluster_is_a_box_with_its_node_groups_and_workloads(synthed, architecture, stack):
    result, drawing = synthed(stack), architecture(stack)
    boxes = {b.key: b for b in drawing.boxes}
    for cluster_type, group_type, product in (
        ("aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "EKS"),
        ("gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool", "GKE"),
    ):
        (cluster,) = result.of_type(cluster_type)
        assert boxes[cluster.name].label.startswith(f"{product} {cluster.outputs.get('name', cluster.inputs['name'])}")
        groups = result.of_type(group_type)
        assert len(groups) == 2
        for group in groups:
            assert drawing.node(group.name).box == cluster.name
    # Each workload sits in the box of the cluster its provider applies it to.
    providers = {r.urn: r.name for r in result.of_type("pulumi:providers:kubernetes")}
    apps = result.of_type("platform:kubernetes:AppDeployment")
    assert apps
    for app in apps:
        (workload,) = [c for c in result.children_of(app) if c.type.endswith((":Deployment", ":Rollout"))]
        provider = providers[workload.provider or ""]
        cloud_cluster = "aws:eks/cluster:Cluster" if provider.endswith("-eks-k8s") else "gcp:container/cluster:Cluster"
        assert drawing.node(app.name).box == result.one(cloud_cluster).name
        assert drawing.node(app.name).label.startswith(workload.inputs["metadata"]["name"] + "\n")


@pytest.mark.parametrize("stack", STACKS)
def test_every_data_store_pool_and_balancer_is_a_node(synthed, architecture, stack):
    result, drawing = synthed(stack), architecture(stack)
    for type_token, kind in (
        ("aws:rds/instance:Instance", "rds"),
        ("aws:elasticache/replicationGroup:ReplicationGroup", "redis"),
        ("gcp:sql/databaseInstance:DatabaseInstance", "cloud-sql"),
        (POOL, "cloudflare-pool"),
        (LB, "cloudflare-lb"),
        ("aws:s3/bucket:Bucket", "s3"),
    ):
        registered = result.of_type(type_token)
        assert registered, type_token
        assert {n.key for n in drawing.of_kind(kind)} == {r.name for r in registered}
    # Registries and key management are one node per cloud with their count.
    assert drawing.node("aws-ecr").label == f"ECR\n{len(result.of_type('aws:ecr/repository:Repository'))} repositories"
    keys = result.of_type("aws:kms/key:Key")
    assert drawing.node("aws-kms").label == f"KMS\n{len(keys)} keys"
    assert len(drawing.node("aws-kms").urns) == len(keys) > 1
    assert drawing.node("gcp-artifact-registry").kind == "artifact-registry"
    assert drawing.node("gcp-cloud-kms").urns == tuple(r.urn for r in result.of_type("gcp:kms/cryptoKey:CryptoKey"))
    for component, kind in (("MonitoringStack", "monitoring"), ("LoggingStack", "logging")):
        stacks = result.of_type(f"platform:kubernetes:{component}")
        assert len(stacks) == 2  # one per cluster
        assert {n.key for n in drawing.of_kind(kind)} == {s.name for s in stacks}


@pytest.mark.parametrize("stack", STACKS)
def test_each_pool_points_at_the_addresses_its_origins_name(synthed, architecture, stack):
    result, drawing = synthed(stack), architecture(stack)
    by_address = {r.outputs[key]: r.name for t, key in ADDRESS_OUTPUTS.items() for r in result.of_type(t)}
    pools = result.of_type(POOL)
    for pool in pools:
        origins = pool.inputs["origins"]
        edges = _targets(drawing, pool.name, "origin")
        assert set(edges) == {by_address[o["address"]] for o in origins}, pool.name
        total = sum(o["weight"] for o in origins)
        for origin in origins:
            assert edges[by_address[origin["address"]]] == f"{origin['weight'] / total * 100:.0f} %"
    # The split pool carries the stack file's 70/30 (the HEAL7 design's weights for everyone else).
    weights = stack_config(stack).cloudflare.steering.default_weights
    (split,) = [p for p in pools if p.name.endswith("-split")]
    shares = " · ".join(
        f"{cloud} {weights[pool] * 100:.0f} %" for cloud, pool in (("AWS", "aws-primary"), ("GCP", "gcp-secondary"))
    )
    assert drawing.node(split.name).label.endswith("\n" + shares)


@pytest.mark.parametrize("stack", STACKS)
def test_the_balancers_steer_as_the_stack_file_says(synthed, architecture, stack):
    result, drawing = synthed(stack), architecture(stack)
    config = stack_config(stack).cloudflare
    pool_names = {p.name.rsplit("-edge-", 1)[1]: p.name for p in result.of_type(POOL)}
    balancers = {b.inputs["name"]: b.name for b in result.of_type(LB)}
    assert set(balancers) == set(config.load_balancers)
    pool_by_id = {p.id: p.name for p in result.of_type(POOL)}
    for hostname, balancer in config.load_balancers.items():
        steering = _targets(drawing, balancers[hostname], "steering")
        # The pool of last resort is the first of the stack file's failover order.
        fallback = pool_by_id[result.one(LB, balancers[hostname]).inputs["fallbackPool"]]
        assert fallback == pool_names[balancer.pools[0]]
        if len(balancer.pools) == 1:
            # ai: the GCP pool only, for every country.
            assert steering == {pool_names[balancer.pools[0]]: "all, fallback"}
            continue
        expected = {pool_names[pool]: country for country, pool in config.steering.country_pools.items()}
        expected[fallback] += ", fallback"
        assert steering == {**expected, pool_names["split"]: "rest"}
    ai = next(b for h, b in balancers.items() if h.startswith("ai."))
    assert set(_targets(drawing, ai, "steering")) == {pool_names["gcp-secondary"]}


@pytest.mark.parametrize("stack", STACKS)
def test_each_address_leads_to_the_gateway_of_its_cloud(synthed, architecture, stack):
    result, drawing = synthed(stack), architecture(stack)
    gateways = {g.name: g for g in result.of_type("platform:kubernetes:IngressGateway")}
    eips = [e.name for e in result.of_type("aws:ec2/eip:Eip") if "-ingress-" in e.name]
    (aws_pool,) = [p for p in result.of_type(POOL) if p.name.endswith("-aws-primary")]
    assert len(eips) == len(aws_pool.inputs["origins"]) >= 2  # one per AZ the stack spans
    for eip in eips:
        assert set(_targets(drawing, eip, "ingress")) == {g for g in gateways if "-eks-" in g}
    (gcp_ingress,) = [a for a in result.of_type("gcp:compute/address:Address") if a.name.endswith("-gcp-ingress")]
    assert set(_targets(drawing, gcp_ingress.name, "ingress")) == {g for g in gateways if "-gke-" in g}
    # NAT and internal addresses are not on the ingress path: not drawn.
    assert not _drawn(drawing, *(e.urn for e in result.of_type("aws:ec2/eip:Eip") if "-nat-" in e.name))


@pytest.mark.parametrize("stack", STACKS)
def test_replication_vpn_and_cross_cloud_edges(synthed, architecture, stack):
    result, drawing = synthed(stack), architecture(stack)
    rds, replica = result.one("aws:rds/instance:Instance"), result.one("gcp:sql/databaseInstance:DatabaseInstance")
    (replication,) = drawing.edges_of("replication")
    assert (replication.source, replication.target) == (rds.name, replica.name)
    source = result.one("gcp:sql/sourceRepresentationInstance:SourceRepresentationInstance")
    assert replication.label == f"replication from {source.inputs['host']}"
    (vpn,) = drawing.edges_of("vpn")
    assert (vpn.source, vpn.target) == (
        result.one("aws:ec2/vpnGateway:VpnGateway").name,
        result.one("gcp:compute/haVpnGateway:HaVpnGateway").name,
    )
    assert vpn.label == f"HA VPN · {len(result.of_type('gcp:compute/vPNTunnel:VPNTunnel'))} tunnels · BGP"
    (metrics,) = drawing.edges_of("metrics")
    monitoring = result.one("gcp:compute/address:Address", f"heal7-{stack}-gcp-monitoring")
    assert (metrics.source, metrics.target) == (f"heal7-{stack}-eks-monitoring", f"heal7-{stack}-gke-monitoring")
    assert monitoring.outputs["address"] in metrics.label
    backup_edges = {(e.source, e.target) for e in drawing.edges_of("backup")}
    bucket = result.one("aws:s3/bucket:Bucket")
    assert backup_edges == {(rds.name, f"heal7-{stack}-eks-backups"), (f"heal7-{stack}-eks-backups", bucket.name)}


@pytest.mark.parametrize("stack", STACKS)
def test_workloads_are_placed_on_the_groups_their_pods_select(synthed, architecture, stack):
    drawing = architecture(stack)
    placement = {e.source: e.target for e in drawing.edges_of("placement")}
    assert len(placement) == len(drawing.edges_of("placement")) == len(drawing.of_kind("workload"))
    # The tainted pools take only the workload that tolerates them (the HEAL7 design's placement).
    assert placement[f"heal7-{stack}-eks-heal7-saju-engine"] == f"heal7-{stack}-eks-high-cpu-nodes"
    assert placement[f"heal7-{stack}-gke-heal7-ai-models"] == f"heal7-{stack}-gke-gpu-nodes"
    assert placement[f"heal7-{stack}-eks-heal7-web-main"] == f"heal7-{stack}-eks-general-nodes"
    assert placement[f"heal7-{stack}-gke-heal7-web-main"] == f"heal7-{stack}-gke-general-nodes"


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_is_drawn_that_the_inventory_lacks(synthed, architecture, stack):
    drawing = architecture(stack)
    urns = {r.urn for r in synthed(stack).resources}
    keys = {n.key for n in drawing.nodes}
    assert len(keys) == len(drawing.nodes)  # keys are unique
    for node in drawing.nodes:
        assert node.urns and set(node.urns) <= urns, node.key
    for edge in drawing.edges:
        assert {edge.source, edge.target} <= keys, edge
    assert {n.box for n in drawing.nodes} <= {b.key for b in drawing.boxes}
    assert drawing.unmatched == []


def test_an_origin_on_an_unregistered_address_is_left_out_and_reported(synthed):
    inventory = copy.deepcopy(build_inventory(synthed("dev")))
    pool = next(r for r in inventory["resources"] if r["type"] == POOL and r["name"].endswith("-gcp-secondary"))
    pool["inputs"]["origins"][0]["address"] = "198.51.100.7"
    drawing = build_architecture(inventory)
    assert _targets(drawing, pool["name"], "origin") == {}
    assert drawing.unmatched == [
        f"{pool['name']}: origin {pool['inputs']['origins'][0]['name']} at 198.51.100.7 is no address the program "
        "registers"
    ]


def _balancer(inventory: dict[str, Any], hostname: str) -> dict[str, Any]:
    return next(r for r in inventory["resources"] if r["type"] == LB and r["inputs"]["name"] == hostname)


def test_country_pools_steer_only_under_geo(synthed):
    """Cloudflare ignores country pools unless the policy is geo (an empty one is geo when they are set)."""
    inventory = copy.deepcopy(build_inventory(synthed("dev")))
    pools = {r["id"]: r["name"] for r in inventory["resources"] if r["type"] == POOL}
    apex = _balancer(inventory, "heal7-dev.com")
    default = apex["inputs"]["defaultPools"]
    assert apex["inputs"]["steeringPolicy"] == "geo"
    geo = _targets(build_architecture(inventory), apex["name"], "steering")
    assert "KR" in geo.values() or any(v.startswith("KR,") for v in geo.values())
    apex["inputs"]["steeringPolicy"] = "off"
    steering = _targets(build_architecture(inventory), apex["name"], "steering")
    assert steering[pools[default[0]]] == "all"
    assert all(steering[pools[p]].startswith("failover: ") for p in default[1:] if p != apex["inputs"]["fallbackPool"])
    apex["inputs"]["steeringPolicy"] = "random"  # spreads over every default pool
    drawing = build_architecture(inventory)
    assert drawing.node(apex["name"]).label == "heal7-dev.com\nrandom steering"
    assert {pools[p] for p in default} == {
        k for k, v in _targets(drawing, apex["name"], "steering").items() if "all" in v
    }
    apex["inputs"]["steeringPolicy"] = ""  # empty, with country pools set: geo
    assert _targets(build_architecture(inventory), apex["name"], "steering") == geo


def test_a_replica_whose_source_is_no_registered_primary_is_reported(synthed):
    inventory = copy.deepcopy(build_inventory(synthed("dev")))
    source = next(r for r in inventory["resources"] if r["type"].endswith(":SourceRepresentationInstance"))
    source["inputs"]["host"] = "db.example.net"
    drawing = build_architecture(inventory)
    assert drawing.edges_of("replication") == []
    assert drawing.unmatched == [
        "heal7-dev-postgres-replica-db: its source db.example.net is no RDS instance the program registers"
    ]


def test_a_workload_no_group_admits_is_reported(synthed):
    inventory: dict[str, Any] = copy.deepcopy(build_inventory(synthed("dev")))
    rollout = next(r for r in inventory["resources"] if r["name"] == "heal7-dev-eks-heal7-web-main-rollout")
    rollout["inputs"]["spec"]["template"]["spec"]["nodeSelector"] = {"node-class": "high-cpu"}  # tainted, not tolerated
    drawing = build_architecture(inventory)
    assert _targets(drawing, "heal7-dev-eks-heal7-web-main", "placement") == {}
    assert drawing.unmatched == ["heal7-dev-eks-heal7-web-main: its pods fit no node group of heal7-dev-eks"]


def test_the_drawing_svg_carries_the_graph_and_its_icons(architecture, tmp_path: Path):
    drawing = architecture("dev")
    dot = draw(drawing, tmp_path)
    svg = (tmp_path / "architecture.svg").read_text()
    assert graph_of_svg(svg) == graph_of(drawing)
    # Each icon is inlined: the file references nothing outside itself.
    hrefs = re.findall(r'xlink:href="([^"]*)"', svg)
    assert len(hrefs) == len(drawing.nodes)
    assert all(h.startswith("data:image/png;base64,") for h in hrefs)
    assert (tmp_path / "architecture.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(f'"{n.key}"' in dot or f"\t{n.key} " in dot for n in drawing.nodes)


def test_boxes_of_one_label_are_refused(architecture, tmp_path: Path):
    drawing = copy.deepcopy(architecture("dev"))
    first, second = drawing.boxes[0], drawing.boxes[1]
    drawing.boxes[1] = Box(second.key, first.label, second.parent)
    with pytest.raises(ValueError, match=f"boxes share a label, which would merge them: {re.escape(first.label)}"):
        draw(drawing, tmp_path)


def test_inline_icons_leaves_no_file_reference(tmp_path: Path):
    icon = tmp_path / "icon.png"
    icon.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    svg = f'<svg><image xlink:href="{icon}" width="10"/><image xlink:href="https://example.com/x.png"/></svg>'
    icons = inline_icons(svg, tmp_path)
    assert icons.svg == '<svg><image xlink:href="data:image/png;base64,iVBORw0KGgpmYWtl" width="10"/><image/></svg>'
    assert icons.inlined == (str(icon),) and icons.dropped == ("https://example.com/x.png",)


def test_the_committed_prod_picture_is_what_the_program_draws(architecture):
    committed = graph_of_svg(COMMITTED.read_text())
    now = graph_of(architecture("prod"))
    hint = "docs/architecture-prod.svg is stale: run `make diagram` and commit it"
    assert committed.boxes == now.boxes, hint
    assert committed.nodes == now.nodes, f"{hint}; differs in {sorted(committed.nodes ^ now.nodes)[:5]}"
    assert committed.edges == now.edges, f"{hint}; differs in {sorted(committed.edges ^ now.edges)[:5]}"


def test_the_readme_shows_the_generated_picture():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "](docs/architecture-prod.svg)" in readme
    assert "make diagram" in readme
    assert "```mermaid" not in readme  # the hand-drawn one is gone
