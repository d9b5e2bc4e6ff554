"""GkeNodePool: one hardened, autoscaled GKE node pool.

Every pool gets the same node hardening (the CIS GKE Benchmark's node section): a
dedicated node service account, Shielded VM with secure boot and integrity monitoring,
the GKE metadata server, Container-Optimized OS, no legacy metadata endpoints,
auto-repair and auto-upgrade. `hardened_node_config` writes that set once; the cluster
reuses it for its short-lived default pool.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

# Nodes authorize through their service account's IAM roles, not through scopes: the
# full scope plus a least-privilege account is Google's recommendation (legacy scopes
# are coarse and cannot be narrowed per API).
NODE_OAUTH_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
# CIS GKE 5.4.1: the v0.1/v1beta1 metadata endpoints answer without the
# Metadata-Flavor header, so an SSRF in a pod could read instance credentials.
NODE_METADATA = {"disable-legacy-endpoints": "true"}
# CIS GKE 5.5.1: Container-Optimized OS with containerd (read-only root, verified boot).
NODE_IMAGE_TYPE = "COS_CONTAINERD"
NODE_DISK_TYPE = "pd-balanced"
# CIS GKE 5.4.2 / 5.2.2: pods see the GKE metadata server, which hides the node's own
# identity and hands out Workload Identity tokens instead.
WORKLOAD_METADATA_MODE = "GKE_METADATA"

# GKE's own GPU taint: only pods that request nvidia.com/gpu (and so tolerate it) land on
# GPU nodes; everything else stays off the most expensive machines.
GPU_TAINT = gcp.container.NodePoolNodeConfigTaintArgs(key="nvidia.com/gpu", value="present", effect="NO_SCHEDULE")

_ROLE = re.compile(r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")
_ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")


@dataclass
class NodePoolSpec:
    """One node pool. `role` is its name in the cluster and part of its logical names."""

    role: str
    """Required: the pool's stable key (`general`, `gpu`); it names the pool `<cluster>-<role>`."""
    machine_type: str
    """Required: the Compute Engine machine type, e.g. n2-standard-8."""
    min_nodes_per_zone: int
    """Required: fewest nodes per zone the autoscaler keeps, in nodes."""
    max_nodes_per_zone: int
    """Required: autoscaler ceiling per zone, in nodes: a regional pool runs in each of its zones."""
    disk_size_gb: int = 100
    """Boot disk per node, in GB (Compute Engine's unit). Default 100."""
    node_locations: list[str] = field(default_factory=list)
    """Zones of the pool. Default empty: every zone of the cluster. GPU types exist only in some zones of a region,
    so GPU pools usually list theirs."""
    accelerator_type: str | None = None
    """GPU type, e.g. nvidia-tesla-t4; pools with GPUs get GPU_TAINT automatically. Default None: no GPUs."""
    accelerator_count: int = 0
    """GPUs per node, in GPUs; needed with accelerator_type. Default 0."""
    labels: dict[str, str] = field(default_factory=dict)
    """Kubernetes node labels, e.g. {"workload": "ai-models"} for workload selectors. Default none."""
    taints: list[gcp.container.NodePoolNodeConfigTaintArgs] = field(default_factory=list)
    """Taints that keep all but tolerating pods off the pool (GPU pools get GPU_TAINT besides). Default none."""

    def validate(self, owner: str) -> None:
        """Raise ValueError naming `owner` if the spec cannot make a working pool."""
        where = f"{owner}: node pool {self.role!r}"
        if not _ROLE.match(self.role):
            raise ValueError(f"{where}: role must be a lowercase name of at most 40 characters")
        if self.min_nodes_per_zone < 0 or self.max_nodes_per_zone < 1:
            raise ValueError(f"{where}: need min_nodes_per_zone >= 0 and max_nodes_per_zone >= 1")
        if self.min_nodes_per_zone > self.max_nodes_per_zone:
            raise ValueError(
                f"{where}: min_nodes_per_zone {self.min_nodes_per_zone} > max_nodes_per_zone {self.max_nodes_per_zone}"
            )
        if self.disk_size_gb < 10:
            raise ValueError(f"{where}: disk_size_gb must be at least 10, got {self.disk_size_gb}")
        if (self.accelerator_type is None) != (self.accelerator_count == 0) or self.accelerator_count < 0:
            raise ValueError(
                f"{where}: accelerator_type and a positive accelerator_count go together, got "
                f"{self.accelerator_type!r} x {self.accelerator_count}"
            )
        bad_zones = [z for z in self.node_locations if not _ZONE.match(z)]
        if bad_zones:
            raise ValueError(f"{where}: node_locations must be zones like asia-northeast3-b, got {bad_zones}")

    @property
    def has_gpu(self) -> bool:
        return self.accelerator_type is not None


def hardened_node_config(service_account_email: pulumi.Input[str]) -> dict[str, Any]:
    """Node-config keyword arguments every pool shares (the default pool included)."""
    return dict(
        service_account=service_account_email,
        oauth_scopes=NODE_OAUTH_SCOPES,
        image_type=NODE_IMAGE_TYPE,
        disk_type=NODE_DISK_TYPE,
        metadata=NODE_METADATA,
    )


@dataclass
class GkeNodePoolArgs:
    """Inputs of GkeNodePool. The hardening is fixed; the spec sets size and hardware."""

    cluster_id: pulumi.Input[str]
    """Required: `projects/<p>/locations/<region>/clusters/<name>`, which pins the pool to its cluster."""
    region: str
    """Required: the cluster's region (a regional pool's location)."""
    service_account_email: pulumi.Input[str]
    """Required: the cluster's dedicated node service account (never the Compute Engine default, CIS GKE 5.2.1)."""
    spec: NodePoolSpec
    """Required: machine type, size range, zones, GPUs, labels and taints."""
    max_surge: int = 1
    """Extra nodes during an upgrade, in nodes; max_unavailable is 0, so capacity never dips. Default 1."""
    labels: dict[str, str] = field(default_factory=dict)
    """GCP labels for the pool's VMs and disks (cost attribution). Default none."""


class GkeNodePool(pulumi.ComponentResource):
    node_pool_name: pulumi.Output[str]

    def __init__(self, name: str, args: GkeNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        spec = args.spec
        spec.validate(f"GkeNodePool {name}")
        if args.max_surge < 1:
            raise ValueError(f"GkeNodePool {name}: max_surge must be at least 1 with max_unavailable 0")
        super().__init__("platform:gcp:GkeNodePool", name, None, opts)

        taints = list(spec.taints)
        if spec.has_gpu and not any(t.key == GPU_TAINT.key for t in taints):
            taints.append(GPU_TAINT)
        guest_accelerators = None
        if spec.accelerator_type is not None:
            guest_accelerators = [
                gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                    type=spec.accelerator_type,
                    count=spec.accelerator_count,
                    # GKE installs the driver it tested with the node version, so no
                    # privileged installer DaemonSet runs on the nodes.
                    gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                        gpu_driver_version="DEFAULT",
                    ),
                )
            ]

        node_pool = gcp.container.NodePool(
            f"{name}-nodes",
            # A fixed name inside the cluster: GKE caps pool names at 40 characters, which
            # an auto-name suffix on a long stack prefix would overflow. A fixed name
            # cannot coexist with its replacement, hence delete_before_replace below.
            name=spec.role,
            cluster=args.cluster_id,
            location=args.region,
            node_locations=spec.node_locations or None,
            # No `version`: the cluster's release channel upgrades the nodes (auto_upgrade).
            initial_node_count=spec.min_nodes_per_zone,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                min_node_count=spec.min_nodes_per_zone,
                max_node_count=spec.max_nodes_per_zone,
                # GPUs are often short in a zone: ANY lets a scale-up use whichever zone
                # has capacity. Other pools stay balanced so a zone loss hurts evenly.
                location_policy="ANY" if spec.has_gpu else "BALANCED",
            ),
            # CIS GKE 5.5.2 / 5.5.3: GKE replaces unhealthy nodes and keeps them patched.
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            # The HEAL7 design's rolling-update rule: add a node before removing one, never go
            # below the serving capacity (maxUnavailable 0).
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(
                strategy="SURGE",
                max_surge=args.max_surge,
                max_unavailable=0,
            ),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                **hardened_node_config(args.service_account_email),
                machine_type=spec.machine_type,
                disk_size_gb=spec.disk_size_gb,
                # CIS GKE 5.5.5 / 5.5.6: Shielded VM with secure boot and integrity monitoring.
                shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True,
                    enable_integrity_monitoring=True,
                ),
                workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                    mode=WORKLOAD_METADATA_MODE,
                ),
                guest_accelerators=guest_accelerators,
                labels=spec.labels,
                taints=taints,
                resource_labels=args.labels,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                # The autoscaler owns the size after creation; initial_node_count only
                # seeds it, and changing it would otherwise recreate the pool.
                ignore_changes=["initialNodeCount"],
            ),
        )

        self.node_pool_name = node_pool.name
        self.register_outputs(
            {
                "node_pool_name": self.node_pool_name,
            }
        )
