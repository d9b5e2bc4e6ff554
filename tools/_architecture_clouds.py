"""One cloud's part of the architecture drawing (tools/architecture.py): its region, network,
cluster with node groups, workloads and platform stacks, data stores and services."""

from collections.abc import Mapping

from tools._architecture_reads import Resources, cloud_of, schedulable_on, value
from tools.architecture_model import (
    AGGREGATES,
    APP,
    AWS_VPN_GATEWAY,
    BUCKET,
    CHART,
    CLOUD_NAMES,
    CLOUD_SQL,
    CLUSTER_COMPONENTS,
    CLUSTER_TYPES,
    GCP_VPN_GATEWAY,
    HPA,
    NETWORK_TYPES,
    NODE_GROUP_TYPES,
    RDS,
    REDIS,
    WORKLOAD_KINDS,
    Architecture,
    Box,
    Edge,
    Resource,
)


def draw_cloud(resources: Resources, drawing: Architecture, cloud: str, versions: Mapping[str, str]) -> str | None:
    """Draw one cloud's box; return the key of its network box (where addresses go), if any."""
    if not any(cloud_of(r["type"]) == cloud for r in resources.all):
        return None
    provider = next(iter(resources.of_type(f"pulumi:providers:{cloud}")), None)
    region = (provider or {}).get("inputs", {}).get("region")
    drawing.boxes.append(Box(cloud, f"{CLOUD_NAMES[cloud]} · {region}" if region else CLOUD_NAMES[cloud], None))
    network = next(iter(resources.of_type(NETWORK_TYPES[cloud])), None)
    inner = cloud
    if network is not None:
        inner = network["name"]
        drawing.boxes.append(Box(inner, _network_label(resources, network), cloud))
    for cluster in resources.of_type(CLUSTER_TYPES[cloud]):
        _cluster(resources, drawing, cloud, cluster, inner, versions)
    _data_stores(resources, drawing, cloud, inner)
    for type_token, (kind, service, counted) in AGGREGATES.items():
        members = resources.of_type(type_token)
        if members and cloud_of(type_token) == cloud:
            drawing.add(f"{cloud}-{kind}", f"{service}\n{_count(len(members), counted)}", kind, cloud, *members)
    for bucket in resources.of_type(BUCKET) if cloud == "aws" else []:
        drawing.add(bucket["name"], f"S3 {value(bucket, 'bucket') or bucket['name']}", "s3", cloud, bucket)
    return inner


def _count(n: int, noun: str) -> str:
    # repository -> repositories, key -> keys.
    plural = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _network_label(resources: Resources, network: Resource) -> str:
    if network["type"] == NETWORK_TYPES["aws"]:
        return f"VPC {network['inputs'].get('cidrBlock', '')}".strip()
    ranges = [s["inputs"].get("ipCidrRange") for s in resources.of_type("gcp:compute/subnetwork:Subnetwork")]
    return f"VPC {value(network, 'name') or network['name']} · " + ", ".join(r for r in ranges if r)


def _cluster(
    resources: Resources, drawing: Architecture, cloud: str, cluster: Resource, box: str, versions: Mapping[str, str]
) -> None:
    name = value(cluster, "name") or cluster["name"]
    version = versions.get(name) or cluster["inputs"].get("version")
    product = "EKS" if cloud == "aws" else "GKE"
    drawing.boxes.append(
        Box(cluster["name"], f"{product} {name}" + (f" · Kubernetes {version}" if version else ""), box)
    )
    groups = [g for g in resources.of_type(NODE_GROUP_TYPES[cloud]) if cluster["urn"] in g.get("dependencies", [])]
    for group in groups:
        drawing.add(
            group["name"],
            _node_group_label(group),
            "node-group" if cloud == "aws" else "node-pool",
            cluster["name"],
            group,
        )
    for app in resources.of_type(APP):
        workload = next((c for c in resources.children(app) if c["type"] in WORKLOAD_KINDS), None)
        if workload is None or (resources.cluster_of(workload) or {}).get("urn") != cluster["urn"]:
            continue
        drawing.add(app["name"], _workload_label(resources, app, workload), "workload", cluster["name"], app, workload)
        pod = workload["inputs"].get("spec", {}).get("template", {}).get("spec", {})
        placed = [g for g in groups if schedulable_on(pod, g)]
        for group in placed:
            drawing.edges.append(Edge(app["name"], group["name"], "placement"))
        if not placed:
            drawing.unmatched.append(f"{app['name']}: its pods fit no node group of {name}")
    for type_token, (kind, runs) in CLUSTER_COMPONENTS.items():
        for component in resources.of_type(type_token):
            if (resources.component_cluster(component) or {}).get("urn") == cluster["urn"]:
                charts = [c["inputs"] for c in resources.descendants(component) if c["type"] == CHART]
                pinned = ", ".join(f"{c.get('chart')} {c.get('version')}" for c in charts)
                drawing.add(
                    component["name"], runs + (f"\n{pinned}" if pinned else ""), kind, cluster["name"], component
                )


def _node_group_label(group: Resource) -> str:
    inputs = group["inputs"]
    if group["type"] == NODE_GROUP_TYPES["aws"]:
        scaling = inputs.get("scalingConfig") or {}
        size = f"{scaling.get('minSize', 0):g} to {scaling.get('maxSize', 0):g} nodes"
        return f"{group['name']}\n{', '.join(inputs.get('instanceTypes') or [])}, {size}"
    scaling, config = inputs.get("autoscaling") or {}, inputs.get("nodeConfig") or {}
    size = f"{scaling.get('minNodeCount', 0):g} to {scaling.get('maxNodeCount', 0):g} nodes per zone"
    gpus = "".join(f"\n{a.get('count', 1):g} x {a.get('type')} per node" for a in config.get("guestAccelerators") or [])
    return f"{group['name']}\n{config.get('machineType', '')}, {size}{gpus}"


def _workload_label(resources: Resources, app: Resource, workload: Resource) -> str:
    metadata = workload["inputs"].get("metadata", {})
    kind = workload["type"].rsplit(":", 1)[-1]
    label = f"{metadata.get('name', app['name'])}\n{kind} in {metadata.get('namespace', 'default')}"
    for hpa in resources.children(app):
        spec = hpa["inputs"].get("spec", {}) if hpa["type"] == HPA else {}
        if spec.get("scaleTargetRef", {}).get("name") == metadata.get("name"):
            label += f" · HPA {spec.get('minReplicas', 1):g} to {spec.get('maxReplicas', 0):g}"
    return label


def _data_stores(resources: Resources, drawing: Architecture, cloud: str, box: str) -> None:
    if cloud == "aws":
        for db in resources.of_type(RDS):
            i = db["inputs"]
            zones = " · Multi-AZ" if i.get("multiAz") else " · single AZ"
            drawing.add(
                db["name"],
                f"RDS {i.get('identifier', db['name'])}\nPostgreSQL {i.get('engineVersion')} · "
                f"{i.get('instanceClass')}{zones}",
                "rds",
                box,
                db,
            )
        for redis in resources.of_type(REDIS):
            i = redis["inputs"]
            drawing.add(
                redis["name"],
                f"ElastiCache {value(redis, 'replicationGroupId') or redis['name']}\n"
                f"Redis {i.get('engineVersion')} · {i.get('numCacheClusters', 1):g} x {i.get('nodeType')}",
                "redis",
                box,
                redis,
            )
        for gateway in resources.of_type(AWS_VPN_GATEWAY):
            drawing.add(gateway["name"], "VPN gateway", "vpn-gateway", box, gateway)
        return
    for db in resources.of_type(CLOUD_SQL):
        i = db["inputs"]
        role = "replica" if i.get("masterInstanceName") else "primary"
        tier = (i.get("settings") or {}).get("tier")
        drawing.add(
            db["name"],
            f"Cloud SQL {value(db, 'name') or db['name']}\n{i.get('databaseVersion')} {role} · {tier}",
            "cloud-sql",
            box,
            db,
        )
    for gateway in resources.of_type(GCP_VPN_GATEWAY):
        drawing.add(gateway["name"], "HA VPN gateway", "gcp-vpn", box, gateway)
