"""The architecture drawing's model (boxes, nodes, edges) and the resource types it reads.

tools/architecture.py builds it from a plan's inventory; tools/diagram.py draws it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Resource = Mapping[str, Any]
"""One resource of the inventory (tools/inventory.py)."""

LB = "cloudflare:index/loadBalancer:LoadBalancer"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
EIP = "aws:ec2/eip:Eip"
GCP_ADDRESS = "gcp:compute/address:Address"
ADDRESS_OUTPUT = {EIP: "publicIp", GCP_ADDRESS: "address"}
NODE_GROUP_TYPES = {"aws": "aws:eks/nodeGroup:NodeGroup", "gcp": "gcp:container/nodePool:NodePool"}
CLUSTER_TYPES = {"aws": "aws:eks/cluster:Cluster", "gcp": "gcp:container/cluster:Cluster"}
NETWORK_TYPES = {"aws": "aws:ec2/vpc:Vpc", "gcp": "gcp:compute/network:Network"}
RDS = "aws:rds/instance:Instance"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
CLOUD_SQL = "gcp:sql/databaseInstance:DatabaseInstance"
BUCKET = "aws:s3/bucket:Bucket"
AWS_VPN_GATEWAY = "aws:ec2/vpnGateway:VpnGateway"
GCP_VPN_GATEWAY = "gcp:compute/haVpnGateway:HaVpnGateway"
VPN_TUNNEL = "gcp:compute/vPNTunnel:VPNTunnel"
AWS_VPN_CONNECTION = "aws:ec2/vpnConnection:VpnConnection"
ROUTER_PEER = "gcp:compute/routerPeer:RouterPeer"
SOURCE_REPRESENTATION = "gcp:sql/sourceRepresentationInstance:SourceRepresentationInstance"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
GEO_POOL_KEYS = ("countryPools", "regionPools", "popPools")
APP = "platform:kubernetes:AppDeployment"
WORKLOAD_KINDS = ("kubernetes:apps/v1:Deployment", "kubernetes:argoproj.io/v1alpha1:Rollout")
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CHART = "kubernetes:helm.sh/v4:Chart"
GATEWAY = "platform:kubernetes:IngressGateway"
MONITORING = "platform:kubernetes:MonitoringStack"
# Components drawn as one node on their cluster: type -> (icon kind, what it runs).
CLUSTER_COMPONENTS = {
    GATEWAY: ("gateway", "Istio ingress gateway"),
    MONITORING: ("monitoring", "Prometheus · Alertmanager · Grafana"),
    "platform:kubernetes:LoggingStack": ("logging", "Elasticsearch · Kibana · Fluent Bit"),
    "platform:kubernetes:DatabaseBackups": ("backups", "nightly pg_dump · weekly restore drill"),
}
# Services drawn as one node per cloud with their count: type -> (icon kind, service, what one is).
AGGREGATES = {
    "aws:ecr/repository:Repository": ("ecr", "ECR", "repository"),
    "aws:kms/key:Key": ("kms", "KMS", "key"),
    "aws:secretsmanager/secret:Secret": ("secrets-manager", "Secrets Manager", "secret"),
    "gcp:artifactregistry/repository:Repository": ("artifact-registry", "Artifact Registry", "repository"),
    "gcp:kms/cryptoKey:CryptoKey": ("cloud-kms", "Cloud KMS", "key"),
    "gcp:secretmanager/secret:Secret": ("secret-manager", "Secret Manager", "secret"),
}
CLOUD_NAMES = {"aws": "AWS", "gcp": "GCP"}
STEERING = {"geo": "geo steering", "off": "failover order"}


@dataclass(frozen=True)
class Box:
    """A box drawn around nodes: a cloud, a network, a cluster. `parent` is the enclosing box."""

    key: str
    label: str
    parent: str | None


@dataclass(frozen=True)
class Node:
    key: str
    label: str
    kind: str
    """Which icon tools/diagram.py draws (`rds`, `cloudflare-pool`, `workload`…)."""
    box: str | None
    urns: tuple[str, ...]
    """The inventory resources this node stands for."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str
    """`steering`, `origin`, `ingress`, `placement`, `replication`, `vpn`, `metrics`, `backup`."""
    label: str = ""
    dashed: bool = False


@dataclass
class Architecture:
    stack: str
    boxes: list[Box] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    """References the drawing leaves out because they name nothing registered."""

    def node(self, key: str) -> Node:
        return next(n for n in self.nodes if n.key == key)

    def of_kind(self, *kinds: str) -> list[Node]:
        return [n for n in self.nodes if n.kind in kinds]

    def edges_of(self, kind: str) -> list[Edge]:
        return [e for e in self.edges if e.kind == kind]

    def add(self, key: str, label: str, kind: str, box: str | None, *resources: Resource) -> None:
        self.nodes.append(Node(key, label, kind, box, tuple(r["urn"] for r in resources)))
