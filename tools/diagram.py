"""Draw an `Architecture` (tools/architecture.py) with the `diagrams` package over Graphviz.

`draw(architecture, out_dir)` writes `architecture.svg` and `architecture.png` (Graphviz's `dot`
lays them out; Debian's `graphviz` package, which `make` installs where missing) and returns
the DOT source. Node ids are the architecture's keys, and every node, edge and box carries an
SVG id that spells what it is (`node|<box>|<kind>|<key>`, `edge|<kind>|<style>|<from>|<to>`,
`box|<parent>|<key>`), so the same inventory always gives the same drawing, and `graph_of_svg`
can read the whole graph back out of a committed SVG whatever Graphviz version laid it out
(`make diagram` writes docs/architecture-prod.svg; a test compares its graph, not its pixels,
with what the program would draw now).

Graphviz writes each icon as a reference to a PNG file inside the installed `diagrams` package;
the SVG is rewritten with those icons inlined as data URIs, so the file shows its icons
wherever it is opened (GitHub renders an SVG in an <img>, which loads nothing external).
"""

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from diagrams import Cluster, Diagram, Edge, Node
from diagrams.aws.compute import ECR, EC2AutoScaling, EC2ElasticIpAddress
from diagrams.aws.database import ElasticacheForRedis, RDSPostgresqlInstance
from diagrams.aws.network import VpnGateway
from diagrams.aws.security import KMS, SecretsManager
from diagrams.aws.storage import S3
from diagrams.elastic.elasticsearch import Elasticsearch
from diagrams.gcp.compute import ComputeEngine
from diagrams.gcp.database import SQL
from diagrams.gcp.devtools import ContainerRegistry
from diagrams.gcp.network import VPN, ExternalIpAddresses
from diagrams.gcp.security import KeyManagementService, SecretManager
from diagrams.generic.network import Router
from diagrams.k8s.compute import Cronjob, Deploy
from diagrams.onprem.monitoring import Prometheus
from diagrams.onprem.network import Istio
from diagrams.saas.cdn import Cloudflare

from tools.architecture_model import Architecture, Box
from tools.architecture_model import Node as ArchitectureNode
from tools.svg_icons import inline_icons

# The clouds' own icons, per node kind of tools/architecture.py. Artifact Registry has no icon
# of its own in `diagrams` 0.25; Container Registry's is its predecessor's.
ICONS: dict[str, type[Node]] = {
    "cloudflare-lb": Cloudflare,
    "cloudflare-pool": Router,
    "aws-address": EC2ElasticIpAddress,
    "gcp-address": ExternalIpAddresses,
    "node-group": EC2AutoScaling,
    "node-pool": ComputeEngine,
    "workload": Deploy,
    "gateway": Istio,
    "monitoring": Prometheus,
    "logging": Elasticsearch,
    "backups": Cronjob,
    "rds": RDSPostgresqlInstance,
    "redis": ElasticacheForRedis,
    "vpn-gateway": VpnGateway,
    "ecr": ECR,
    "kms": KMS,
    "secrets-manager": SecretsManager,
    "s3": S3,
    "cloud-sql": SQL,
    "gcp-vpn": VPN,
    "artifact-registry": ContainerRegistry,
    "cloud-kms": KeyManagementService,
    "secret-manager": SecretManager,
}
EDGE_COLOURS = {
    "steering": "#F38020",  # Cloudflare orange
    "origin": "#F38020",
    "ingress": "#466BB0",  # Istio blue
    "replication": "#1E7E34",
    "vpn": "#6F42C1",
    "metrics": "#E6522C",  # Prometheus orange-red
    "backup": "#1E7E34",
    "placement": "#7B8894",
}
GRAPH = {
    "pad": "0.4",
    "nodesep": "0.9",
    "ranksep": "1.1",
    "fontsize": "20",
    # Graphviz's orthogonal routing (the library's default) cannot place edge labels.
    "splines": "spline",
    "compound": "true",
}
# The library's fixed-size icon nodes (labels below the icon); room between them for the labels.
NODE = {"fontsize": "11"}
# Passed to each Edge: `diagrams.Edge` sets its own font size on every edge, over edge_attr.
EDGE_FONT_SIZE = "10"


class GraphvizMissing(RuntimeError):
    """`dot` is not on the PATH."""


def graphviz_dot() -> str | None:
    """Where Graphviz's `dot` is, if installed."""
    return shutil.which("dot")


@dataclass(frozen=True)
class DrawnGraph:
    """A drawing's graph as read back from its SVG: what the comparison with a fresh drawing uses."""

    boxes: frozenset[tuple[str, str, str]]
    """(key, enclosing box key or "", label)."""
    nodes: frozenset[tuple[str, str, str, str]]
    """(key, box key or "", kind, label with its lines joined by " / ")."""
    edges: frozenset[tuple[str, str, str, str, str]]
    """(source key, target key, kind, "dashed" or "solid", label)."""


def draw(architecture: Architecture, out_dir: Path, basename: str = "architecture") -> str:
    """Write `<basename>.svg` and `<basename>.png` under out_dir; return the DOT source."""
    if graphviz_dot() is None:
        raise GraphvizMissing("Graphviz's `dot` is not installed: run `make graphviz` (Debian package graphviz)")
    labels = [b.label for b in architecture.boxes]
    # `diagrams` names a box's subgraph by its label: two boxes of one label would merge.
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    if duplicated:
        raise ValueError(f"boxes share a label, which would merge them: {', '.join(duplicated)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / basename
    title = f"{architecture.stack}: the platform as the program registers it"
    diagram = Diagram(
        title, filename=str(target), outformat=["svg", "png"], show=False, direction="LR",
        graph_attr=GRAPH, node_attr=NODE,
    )  # fmt: skip
    with diagram:
        drawn = {}
        for box in (b for b in architecture.boxes if b.parent is None):
            _draw_box(architecture, box, drawn)
        for node in (n for n in architecture.nodes if n.box is None):
            drawn[node.key] = _draw_node(node)
        for edge in architecture.edges:
            source = drawn[edge.source]
            graphviz = _attributes(
                fontsize=EDGE_FONT_SIZE, id=f"edge|{edge.kind}|{_style(edge.dashed)}|{edge.source}|{edge.target}"
            )
            line = Edge(
                source, forward=True, label=edge.label, color=EDGE_COLOURS.get(edge.kind, ""),
                style="dashed" if edge.dashed else "", **graphviz,
            )  # fmt: skip
            source.connect(drawn[edge.target], line)
        dot_source = diagram.dot.source
    svg = target.with_suffix(".svg")
    icons = inline_icons(svg.read_text(), svg.parent)
    if icons.dropped:  # the `diagrams` package ships every icon ICONS names
        raise RuntimeError(f"{svg}: icons that could not be put inline: {', '.join(icons.dropped)}")
    svg.write_text(icons.svg)
    return dot_source


def _attributes(**attributes: str) -> dict[str, Any]:
    """Graphviz attributes for a `diagrams` call, whose `**attrs: Dict` annotation is wrong (they are strings)."""
    return attributes


def _style(dashed: bool) -> str:
    return "dashed" if dashed else "solid"


def _draw_node(node: ArchitectureNode) -> Node:
    graphviz = _attributes(id=f"node|{node.box or ''}|{node.kind}|{node.key}")
    return ICONS[node.kind](node.label, nodeid=node.key, **graphviz)


def _draw_box(architecture: Architecture, box: Box, drawn: dict[str, Node]) -> None:
    with Cluster(box.label, graph_attr={"id": f"box|{box.parent or ''}|{box.key}"}):
        for node in (n for n in architecture.nodes if n.box == box.key):
            drawn[node.key] = _draw_node(node)
        for child in (b for b in architecture.boxes if b.parent == box.key):
            _draw_box(architecture, child, drawn)


SVG = "{http://www.w3.org/2000/svg}"


def graph_of_svg(svg: str) -> DrawnGraph:
    """Boxes, nodes and edges of an SVG that `draw` wrote, from the ids it gave them and their texts."""
    root = ElementTree.fromstring(svg)
    boxes, nodes, edges = set(), set(), set()
    for group in root.iter(f"{SVG}g"):
        what, _, ident = (group.get("id") or "").partition("|")
        text = " / ".join(t.text or "" for t in group.iter(f"{SVG}text"))
        if what == "box":
            parent, key = ident.split("|")
            boxes.add((key, parent, text))
        elif what == "node":
            box, kind, key = ident.split("|")
            nodes.add((key, box, kind, text))
        elif what == "edge":
            kind, style, source, target = ident.split("|")
            edges.add((source, target, kind, style, text))
    return DrawnGraph(frozenset(boxes), frozenset(nodes), frozenset(edges))


def graph_of(architecture: Architecture) -> DrawnGraph:
    """The graph `draw` would write for `architecture`, in `graph_of_svg`'s terms."""
    return DrawnGraph(
        frozenset((b.key, b.parent or "", b.label) for b in architecture.boxes),
        frozenset((n.key, n.box or "", n.kind, n.label.replace("\n", " / ")) for n in architecture.nodes),
        frozenset((e.source, e.target, e.kind, _style(e.dashed), e.label) for e in architecture.edges),
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.diagram [STACK] [--out FILE]` (`make diagram`): the stack's drawing as an SVG,
    by default docs/architecture-<stack>.svg, the picture the README shows."""
    import argparse
    import tempfile

    from tools.architecture import build_architecture
    from tools.inventory import build_inventory
    from tools.synth import PROJECT_ROOT, synth

    parser = argparse.ArgumentParser(prog="python -m tools.diagram", description=main.__doc__)
    parser.add_argument("stack", nargs="?", default="prod", help="stack to draw (default: prod)")
    parser.add_argument("--out", type=Path, help="SVG to write (default: docs/architecture-<stack>.svg)")
    args = parser.parse_args(argv)
    out = args.out or PROJECT_ROOT / "docs" / f"architecture-{args.stack}.svg"
    architecture = build_architecture(build_inventory(synth(args.stack)))
    with tempfile.TemporaryDirectory() as scratch:
        draw(architecture, Path(scratch))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(scratch) / "architecture.svg", out)
    print(f"wrote {out}: {len(architecture.nodes)} nodes, {len(architecture.edges)} edges")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
