"""GkeCluster: a regional, private, hardened GKE Standard cluster with its node pools.

The bar is terraform-google-modules' private-cluster module: private nodes, a private
control-plane endpoint behind authorized networks, Workload Identity, Shielded nodes,
Dataplane V2, a release channel, secrets encrypted with a customer key, and node pools
run by a dedicated least-privilege service account. Node pools live in
`gke_node_pool.py`.
"""

import ipaddress
import re
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp._kubeconfig import gke_kubeconfig
from components.gcp.gke_node_pool import (
    WORKLOAD_METADATA_MODE,
    GkeNodePool,
    GkeNodePoolArgs,
    NodePoolSpec,
    hardened_node_config,
)

RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED")
# Google's least-privilege role for node service accounts (logging, monitoring, metadata
# writes); CIS GKE 5.2.1 names it instead of the older four-role set.
NODE_SERVICE_ACCOUNT_ROLE = "roles/container.defaultNodeServiceAccount"
# 90 days, in seconds: how often Cloud KMS makes a new primary version of the secrets key.
KEY_ROTATION_PERIOD = f"{90 * 24 * 3600}s"
_START_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_CLUSTER_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")


# Ports of admission webhooks and aggregated APIs served by pods, which the control plane must
# reach: istiod's sidecar injector and config validation (Istio's ports reference), and
# prometheus-adapter's custom.metrics.k8s.io (its chart's listenPort 6443), which the HPAs'
# requests_per_second goes through. The other webhooks (cert-manager, External Secrets, the
# Prometheus operator) listen on 10250, which GKE's own rule opens.
WEBHOOK_PORTS = (15017, 6443)


@dataclass
class AuthorizedNetwork:
    """A range allowed to reach the control plane (CIS GKE 5.6.3)."""

    cidr_block: str
    """Required: an IPv4 range in network form allowed to the control plane (never 0.0.0.0/0)."""
    display_name: str
    """Required: who this range is (shown in the console and audit logs)."""


@dataclass
class GkeClusterArgs:
    """Inputs of GkeCluster. Defaults: private endpoint, no authorized outside ranges,
    protected, REGULAR channel, maintenance at 18:00 UTC (03:00 in Seoul and Tokyo)."""

    region: str
    """Required: the cluster's location. Regional, not zonal: the control plane and every pool are replicated
    across the region's zones, so a zone loss leaves the cluster serving."""
    network_id: pulumi.Input[str]
    """Required: the VPC the cluster joins."""
    subnet_id: pulumi.Input[str]
    """Required: the subnet of the nodes, with the pod and service secondary ranges."""
    pods_range_name: pulumi.Input[str]
    """Required: the subnet's secondary range for pod IPs (VPC-native)."""
    services_range_name: pulumi.Input[str]
    """Required: the subnet's secondary range for Service ClusterIPs."""
    master_cidr: str
    """Required: the /28 of the control plane (the HEAL7 design's 172.16.0.0/28); must not overlap the VPC."""
    node_pools: list[NodePoolSpec]
    """Required: the cluster's pools, each named by its role; the default pool is removed."""
    master_authorized_networks: list[AuthorizedNetwork] = field(default_factory=list)
    """Ranges allowed to the control plane. Default empty: only the cluster's own nodes reach it. With a private
    endpoint only, they must be private ranges inside (or routed to) the VPC."""
    public_endpoint: bool = False
    """Also expose a public endpoint; then master_authorized_networks must be non-empty (CIS GKE 5.6.3). Default
    false."""
    release_channel: str = "REGULAR"
    """GKE release channel (RAPID, REGULAR or STABLE) that upgrades the control plane and nodes. Default REGULAR."""
    maintenance_start_time: str = "18:00"
    """Start of the daily four-hour maintenance window, "HH:MM" UTC. Default 18:00 (03:00 KST, the quietest hour in
    Korea)."""
    protect: bool = True
    """`protect` the cluster and its key, and turn on GKE deletion protection. Default true."""
    network_dependencies: list[pulumi.Resource] = field(default_factory=list)
    """Other peering operations on the VPC (private services access). The control plane's own peering must not run
    at the same time: GCP refuses a second concurrent one. Default none."""
    labels: dict[str, str] = field(default_factory=dict)
    """GCP labels on the cluster (cost attribution). Default none."""
    security_group: str | None = None
    """Google Groups for RBAC: the `gke-security-groups@<domain>` group under which GKE resolves a user's Google
    Groups, so RoleBindings may name them. Default None: RBAC sees users only, never their groups."""

    def validate(self, owner: str) -> None:
        if not self.node_pools:
            raise ValueError(f"{owner}: at least one node pool is needed (the default pool is removed)")
        roles = [spec.role for spec in self.node_pools]
        if len(set(roles)) != len(roles):
            raise ValueError(f"{owner}: node pool roles must be unique, got {roles}")
        for spec in self.node_pools:
            spec.validate(owner)
        master = ipaddress.ip_network(self.master_cidr)
        if master.prefixlen != 28 or not master.is_private:
            raise ValueError(f"{owner}: master_cidr must be a private /28, got {self.master_cidr}")
        for network in self.master_authorized_networks:
            if ipaddress.ip_network(network.cidr_block).prefixlen == 0:
                raise ValueError(f"{owner}: CIS GKE 5.6.3: {network.cidr_block} would open the control plane to all")
            if not self.public_endpoint and not ipaddress.ip_network(network.cidr_block).is_private:
                raise ValueError(
                    f"{owner}: {network.cidr_block} is public, but a private-only endpoint admits only private ranges"
                )
            if not network.display_name:
                raise ValueError(f"{owner}: authorized network {network.cidr_block} needs a display_name")
        if self.public_endpoint and not self.master_authorized_networks:
            raise ValueError(f"{owner}: a public endpoint needs master_authorized_networks (CIS GKE 5.6.3)")
        if self.release_channel not in RELEASE_CHANNELS:
            raise ValueError(
                f"{owner}: release_channel must be one of {RELEASE_CHANNELS}, got {self.release_channel!r}"
            )
        if self.security_group is not None and not self.security_group.startswith("gke-security-groups@"):
            # GKE accepts only this name for the group (Google Groups for RBAC).
            raise ValueError(
                f"{owner}: security_group must be gke-security-groups@<domain>, got {self.security_group!r}"
            )
        if not _START_TIME.match(self.maintenance_start_time):
            raise ValueError(
                f"{owner}: maintenance_start_time must be HH:MM (UTC), got {self.maintenance_start_time!r}"
            )


class GkeCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    ca_certificate: pulumi.Output[str]
    node_service_account_email: pulumi.Output[str]
    workload_pool: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        if not _CLUSTER_NAME.match(name):
            raise ValueError(f"GkeCluster {name}: the name becomes the cluster name (lowercase, at most 40 characters)")
        args.validate(f"GkeCluster {name}")
        super().__init__("platform:gcp:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = gcp.organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=self))
        workload_pool = pulumi.Output.concat(project.project_id, ".svc.id.goog")

        # CIS GKE 5.2.1: nodes run as their own account, never the Compute Engine default
        # (Editor on the project in many projects). Workloads get their own identities
        # through Workload Identity; this one only ships node logs and metrics.
        node_account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            account_id=_account_id(name, "nodes"),
            display_name=f"GKE nodes of {name}",
            description=f"Least-privilege identity of the nodes of GKE cluster {name}",
            opts=child,
        )
        node_role = gcp.projects.IAMMember(
            f"{name}-nodes-role",
            project=project.project_id,
            role=NODE_SERVICE_ACCOUNT_ROLE,
            member=pulumi.Output.concat("serviceAccount:", node_account.email),
            opts=child,
        )

        # CIS GKE 5.3.1: Kubernetes secrets envelope-encrypted in etcd with a key we own.
        # The key must live in the cluster's own location.
        key_ring = gcp.kms.KeyRing(
            f"{name}-keyring",
            location=args.region,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        key = gcp.kms.CryptoKey(
            f"{name}-secrets-key",
            key_ring=key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=KEY_ROTATION_PERIOD,
            labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        # GKE's service agent does the encrypting; without this grant cluster creation fails.
        key_grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-key-gke",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=pulumi.Output.concat(
                "serviceAccount:service-", project.number, "@container-engine-robot.iam.gserviceaccount.com"
            ),
            opts=child,
        )

        cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=name,
            location=args.region,
            network=args.network_id,
            subnetwork=args.subnet_id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=args.pods_range_name,
                services_secondary_range_name=args.services_range_name,
            ),
            # CIS GKE 5.6.5 / 5.6.4: nodes get no external IPs; the API server answers on a
            # private IP in master_cidr unless a public endpoint is asked for explicitly.
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=not args.public_endpoint,
                master_ipv4_cidr_block=args.master_cidr,
                # Off: admins and the Pulumi deployer reach the endpoint from a host in this
                # region's VPC (an authorized network); no other region needs it.
                master_global_access_config=gcp.container.ClusterPrivateClusterConfigMasterGlobalAccessConfigArgs(
                    enabled=False
                ),
            ),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=n.cidr_block, display_name=n.display_name
                    )
                    for n in args.master_authorized_networks
                ],
                # Any Compute Engine VM of any customer has a Google public IP: never trust them.
                gcp_public_cidrs_access_enabled=False,
                # Authorized networks bind the private endpoint too, not just a public one:
                # with no ranges listed, only the cluster's nodes reach the API server.
                private_endpoint_enforcement_enabled=True,
            ),
            # CIS GKE 5.2.2: pods authenticate to Google APIs as mapped Kubernetes service accounts.
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(workload_pool=workload_pool),
            # CIS GKE 5.5.5: only Shielded VMs may join the cluster.
            enable_shielded_nodes=True,
            # Dataplane V2 (eBPF/Cilium) enforces NetworkPolicy itself, so the platform's
            # default-deny policies hold; the Calico `network_policy` add-on must stay off.
            datapath_provider="ADVANCED_DATAPATH",
            # CIS GKE 5.5.4: Google upgrades control plane and nodes along the channel.
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=args.release_channel),
            # A daily 4-hour window gives ~128 h per 32 days, well above GKE's floor of
            # 48 h of availability per rolling 32 days in windows of at least 4 h.
            maintenance_policy=gcp.container.ClusterMaintenancePolicyArgs(
                daily_maintenance_window=gcp.container.ClusterMaintenancePolicyDailyMaintenanceWindowArgs(
                    start_time=args.maintenance_start_time
                ),
            ),
            database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=key.id),
            # Google Groups for RBAC: viewers are bound by their Google Group, not one by one
            # (https://cloud.google.com/kubernetes-engine/docs/how-to/google-groups-rbac). It
            # updates in place (terraform-provider-google since magic-modules#6755), so adding
            # it to a running cluster replaces nothing.
            authenticator_groups_config=(
                gcp.container.ClusterAuthenticatorGroupsConfigArgs(security_group=args.security_group)
                if args.security_group
                else None
            ),
            # CIS GKE 5.8.3: RBAC only, no legacy ABAC.
            enable_legacy_abac=False,
            # CIS GKE 5.8.2: no client certificate (it could never be revoked); kubectl
            # authenticates with short-lived Google tokens (gke-gcloud-auth-plugin).
            master_auth=gcp.container.ClusterMasterAuthArgs(
                client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False
                ),
            ),
            # CIS GKE 5.7.1: system and control-plane logs in Cloud Logging (audit logs are
            # always on); workload logs go to ELK as well, but these survive a broken cluster.
            logging_config=gcp.container.ClusterLoggingConfigArgs(
                enable_components=["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"]
            ),
            # System metrics for GKE's own dashboards. Workload metrics are kube-prometheus-
            # stack's job, so Managed Prometheus would only collect them twice.
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                enable_components=["SYSTEM_COMPONENTS"],
                managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=False),
            ),
            # The apps' optional VerticalPodAutoscalers need GKE's VPA.
            vertical_pod_autoscaling=gcp.container.ClusterVerticalPodAutoscalingArgs(enabled=True),
            # Node pools are managed separately (gke_node_pool.py), so the default pool goes.
            # GKE still boots it (one node per zone) for a few minutes while the cluster is
            # created, running kube-system pods; it gets the same hardening so that window
            # has no Compute Engine default account, no exposed node metadata and no
            # unshielded VM - and projects that disable the default account still work.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=gcp.container.ClusterNodeConfigArgs(
                **hardened_node_config(node_account.email),
                shielded_instance_config=gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                workload_metadata_config=gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs(
                    mode=WORKLOAD_METADATA_MODE
                ),
            ),
            # pulumi-gcp defaults this to true; set from the tier so dev can be torn down.
            deletion_protection=args.protect,
            resource_labels=args.labels,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=[key_grant, node_role, *args.network_dependencies],
                # The name is fixed (it is the cluster's name), so a replacement must delete
                # the old cluster first; prod's protect makes any replacement a preview error.
                delete_before_replace=True,
                # Both describe only the default pool, which is gone after creation; the
                # API then reports no node config, and a diff would recreate the cluster.
                ignore_changes=["nodeConfig", "initialNodeCount"],
            ),
        )

        # A private cluster's control plane reaches the nodes only on 443 and 10250 (GKE's
        # own rule). Webhooks and aggregated APIs served by pods need their ports opened too
        # (WEBHOOK_PORTS: istiod's 15017, Istio's GKE platform guide; prometheus-adapter's 6443).
        gcp.compute.Firewall(
            f"{name}-allow-webhooks",
            network=args.network_id,
            description="The control plane to webhooks and aggregated APIs on the nodes (istiod 15017, adapter 6443)",
            direction="INGRESS",
            priority=1000,
            source_ranges=[args.master_cidr],
            target_service_accounts=[node_account.email],
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(port) for port in WEBHOOK_PORTS])],
            log_config=gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA"),
            opts=child,
        )

        for spec in args.node_pools:
            GkeNodePool(
                f"{name}-{spec.role}",
                GkeNodePoolArgs(
                    cluster_id=cluster.id,
                    region=args.region,
                    service_account_email=node_account.email,
                    spec=spec,
                    labels=args.labels,
                ),
                opts=child,
            )

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.ca_certificate = cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate or "")
        self.node_service_account_email = node_account.email
        self.workload_pool = workload_pool
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, self.ca_certificate, args.region).apply(
                lambda v: gke_kubeconfig(*v)
            )
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "ca_certificate": self.ca_certificate,
                "node_service_account_email": self.node_service_account_email,
                "workload_pool": self.workload_pool,
                "kubeconfig": self.kubeconfig,
            }
        )


def _account_id(name: str, suffix: str) -> str:
    """A service-account id (6-30 characters, no trailing hyphen) from the component name."""
    return f"{name[: 29 - len(suffix)].rstrip('-')}-{suffix}"
