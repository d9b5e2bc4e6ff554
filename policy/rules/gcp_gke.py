"""CIS GKE Benchmark controls for clusters and node pools: private nodes and endpoint,
authorized networks, Workload Identity and the GKE metadata server, Shielded nodes, network
policy, no legacy ABAC or client certificate, a release channel, secrets encryption, a
dedicated node service account, and auto-repair/auto-upgrade."""

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import Config, ResourceControl, as_list, cis_gke, get, is_true

FAMILY = "gcp-gke"
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
NODES = [CLUSTER, NODE_POOL]


def _node_config(args: ResourceValidationArgs) -> Any:
    """A node pool's nodeConfig, or the cluster's default pool's; None when the cluster
    removes its default pool (or is Autopilot), so node settings live on the node pools."""
    if args.resource_type == CLUSTER and (
        is_true(get(args.props, "removeDefaultNodePool")) or is_true(get(args.props, "enableAutopilot"))
    ):
        return None
    return get(args.props, "nodeConfig") or {}


def _private_nodes(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not is_true(get(args.props, "privateClusterConfig.enablePrivateNodes")):
        yield "nodes get public IPs (privateClusterConfig.enablePrivateNodes)"


def _private_endpoint(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not is_true(get(args.props, "privateClusterConfig.enablePrivateEndpoint")):
        yield "the control plane has a public endpoint (privateClusterConfig.enablePrivateEndpoint)"


def _authorized_networks(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    networks = get(args.props, "masterAuthorizedNetworksConfig")
    if networks is None:
        yield "master authorized networks are off (masterAuthorizedNetworksConfig)"
        return
    if is_true(get(networks, "gcpPublicCidrsAccessEnabled")):
        yield "any Google Cloud public IP may reach the control plane (gcpPublicCidrsAccessEnabled)"
    for block in as_list(get(networks, "cidrBlocks")):
        if get(block, "cidrBlock") in ("0.0.0.0/0", "::/0"):
            yield "an authorized network admits the whole internet"


def _workload_identity(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not get(args.props, "workloadIdentityConfig.workloadPool"):
        yield "Workload Identity is off (workloadIdentityConfig.workloadPool)"


def _metadata_server(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if (node_config := _node_config(args)) is None:
        return
    mode = get(node_config, "workloadMetadataConfig.mode")
    if mode != "GKE_METADATA":
        yield f"pods can read the node's metadata and credentials (workloadMetadataConfig.mode {mode or 'unset'})"


def _shielded_nodes(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if get(args.props, "enableShieldedNodes") is False:
        yield "Shielded GKE nodes are off (enableShieldedNodes)"


def _secure_boot(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if (node_config := _node_config(args)) is not None and not is_true(
        get(node_config, "shieldedInstanceConfig.enableSecureBoot")
    ):
        yield "nodes boot without Secure Boot (nodeConfig.shieldedInstanceConfig.enableSecureBoot)"


def _integrity_monitoring(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if get(_node_config(args) or {}, "shieldedInstanceConfig.enableIntegrityMonitoring") is False:
        yield "integrity monitoring is off (nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring)"


def _network_policy(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    dataplane_v2 = get(args.props, "datapathProvider") == "ADVANCED_DATAPATH"
    if not dataplane_v2 and not is_true(get(args.props, "networkPolicy.enabled")):
        yield "NetworkPolicy is not enforced (datapathProvider ADVANCED_DATAPATH or networkPolicy.enabled)"


def _no_legacy_abac(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if is_true(get(args.props, "enableLegacyAbac")):
        yield "legacy ABAC grants broad rights outside RBAC (enableLegacyAbac)"


def _no_client_certificate(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if is_true(get(args.props, "masterAuth.clientCertificateConfig.issueClientCertificate")):
        yield "a long-lived client certificate is issued (masterAuth.clientCertificateConfig)"


def _release_channel(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    channel = get(args.props, "releaseChannel.channel")
    if channel not in config["allowedChannels"]:
        yield f"release channel is {channel or 'unset'}, not one of {config['allowedChannels']}"


def _database_encryption(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if get(args.props, "databaseEncryption.state") != "ENCRYPTED" or not get(args.props, "databaseEncryption.keyName"):
        yield "Kubernetes secrets are not encrypted with a Cloud KMS key (databaseEncryption)"


def _node_service_account(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if (node_config := _node_config(args)) is None:
        return
    account = get(node_config, "serviceAccount")
    if not account or account == "default" or account.endswith("-compute@developer.gserviceaccount.com"):
        yield "nodes run as the Compute Engine default service account (nodeConfig.serviceAccount)"


def _management(flag: str, problem: str):
    def check(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
        if get(args.props, f"management.{flag}") is False:
            yield f"{problem} (management.{flag})"

    return check


def _control(
    name: str,
    description: str,
    severity: Severity,
    control_id: str,
    types: list[str],
    when_absent: str,
    remediation: str,
    check,
    settings=None,
) -> ResourceControl:
    return ResourceControl(
        name=name,
        description=description,
        severity=severity,
        framework=cis_gke(control_id),
        family=FAMILY,
        resource_types=types,
        when_absent=when_absent,
        remediation=remediation,
        check=check,
        settings=settings,
    )


POLICIES = [
    _control(
        "gke-private-nodes",
        "GKE nodes have only private IPs.",
        Severity.CRITICAL,
        "5.6.5",
        [CLUSTER],
        "insecure: without privateClusterConfig nodes get public IPs",
        "set privateClusterConfig.enablePrivateNodes true",
        _private_nodes,
    ),
    _control(
        "gke-private-endpoint",
        "The GKE control plane is reachable only on its private endpoint.",
        Severity.HIGH,
        "5.6.4",
        [CLUSTER],
        "insecure: the endpoint is public by default",
        "set privateClusterConfig.enablePrivateEndpoint true",
        _private_endpoint,
    ),
    _control(
        "gke-master-authorized-networks",
        "Only authorized networks reach the GKE control plane.",
        Severity.HIGH,
        "5.6.3",
        [CLUSTER],
        "insecure: without masterAuthorizedNetworksConfig any source may try",
        "set masterAuthorizedNetworksConfig with private cidrBlocks and gcpPublicCidrsAccessEnabled false",
        _authorized_networks,
    ),
    _control(
        "gke-workload-identity",
        "GKE workloads authenticate to Google APIs through Workload Identity.",
        Severity.HIGH,
        "5.2.2",
        [CLUSTER],
        "insecure: without a workload pool pods use the node's identity",
        "set workloadIdentityConfig.workloadPool '<project>.svc.id.goog'",
        _workload_identity,
    ),
    _control(
        "gke-metadata-server",
        "GKE nodes run the GKE metadata server, hiding node credentials from pods.",
        Severity.HIGH,
        "5.4.1",
        NODES,
        "insecure for this control: an unset mode follows the cluster, which a node pool cannot show; declare it",
        "set nodeConfig.workloadMetadataConfig.mode 'GKE_METADATA'",
        _metadata_server,
    ),
    _control(
        "gke-shielded-nodes",
        "GKE clusters use Shielded nodes.",
        Severity.HIGH,
        "5.5.5",
        [CLUSTER],
        "secure: enableShieldedNodes defaults to true; only an explicit false fails",
        "set enableShieldedNodes true",
        _shielded_nodes,
    ),
    _control(
        "gke-secure-boot",
        "GKE nodes boot with Secure Boot.",
        Severity.MEDIUM,
        "5.5.7",
        NODES,
        "insecure: enableSecureBoot defaults to false",
        "set nodeConfig.shieldedInstanceConfig.enableSecureBoot true",
        _secure_boot,
    ),
    _control(
        "gke-integrity-monitoring",
        "GKE nodes run with integrity monitoring.",
        Severity.MEDIUM,
        "5.5.6",
        NODES,
        "secure: enableIntegrityMonitoring defaults to true; only an explicit false fails",
        "set nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring true",
        _integrity_monitoring,
    ),
    _control(
        "gke-network-policy",
        "GKE enforces NetworkPolicy (Dataplane V2 or the Calico add-on).",
        Severity.HIGH,
        "4.3.1",
        [CLUSTER],
        "insecure: neither is on by default",
        "set datapathProvider 'ADVANCED_DATAPATH'",
        _network_policy,
    ),
    _control(
        "gke-no-legacy-abac",
        "GKE clusters have legacy ABAC off.",
        Severity.CRITICAL,
        "5.8.3",
        [CLUSTER],
        "secure: enableLegacyAbac defaults to false; only an explicit true fails",
        "set enableLegacyAbac false",
        _no_legacy_abac,
    ),
    _control(
        "gke-no-client-certificate",
        "GKE clusters issue no client certificate.",
        Severity.HIGH,
        "5.8.1",
        [CLUSTER],
        "secure: issueClientCertificate defaults to false; only an explicit true fails",
        "set masterAuth.clientCertificateConfig.issueClientCertificate false",
        _no_client_certificate,
    ),
    _control(
        "gke-release-channel",
        "GKE clusters follow a release channel.",
        Severity.MEDIUM,
        "5.5.4",
        [CLUSTER],
        "insecure for this control: the channel GKE picks when none is set is not reviewable in code",
        "set releaseChannel.channel 'STABLE' or 'REGULAR'",
        _release_channel,
        settings={
            "allowedChannels": {
                "type": "array",
                "items": {"enum": ["RAPID", "REGULAR", "STABLE", "EXTENDED"]},
                "default": ["REGULAR", "STABLE"],
            }
        },
    ),
    _control(
        "gke-secrets-encryption",
        "GKE encrypts Kubernetes secrets with a Cloud KMS key.",
        Severity.HIGH,
        "5.3.1",
        [CLUSTER],
        "insecure: application-layer secrets encryption is off by default",
        "set databaseEncryption {state: 'ENCRYPTED', keyName: <crypto key>}",
        _database_encryption,
    ),
    _control(
        "gke-node-service-account",
        "GKE nodes run as a dedicated least-privilege service account.",
        Severity.HIGH,
        "5.2.1",
        NODES,
        "insecure: without serviceAccount nodes use the Compute default account",
        "set nodeConfig.serviceAccount to a dedicated account with only the logging/monitoring roles",
        _node_service_account,
    ),
    _control(
        "gke-node-auto-repair",
        "GKE node pools repair unhealthy nodes automatically.",
        Severity.MEDIUM,
        "5.5.2",
        [NODE_POOL],
        "secure: the provider defaults management.autoRepair to true",
        "set management.autoRepair true",
        _management("autoRepair", "unhealthy nodes are not repaired"),
    ),
    _control(
        "gke-node-auto-upgrade",
        "GKE node pools upgrade automatically.",
        Severity.MEDIUM,
        "5.5.3",
        [NODE_POOL],
        "secure: the provider defaults management.autoUpgrade to true",
        "set management.autoUpgrade true",
        _management("autoUpgrade", "nodes fall behind the control plane"),
    ),
]
