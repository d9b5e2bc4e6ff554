"""CIS Amazon EKS controls that infrastructure code can enforce: control-plane logging,
secrets encryption, a private endpoint, and hardened worker nodes (IMDSv2, no SSH)."""

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import Config, ResourceControl, as_list, aws_fsbp, checkov, cis_eks, get, is_true

FAMILY = "aws-eks"
CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"

# Every control-plane log type EKS offers (CIS EKS 2.1.1 asks for audit; the rest is what
# an incident review needs).
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def _control_plane_logging(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    enabled = set(as_list(get(args.props, "enabledClusterLogTypes")))
    missing = [t for t in config["requiredLogTypes"] if t not in enabled]
    if missing:
        yield f"control-plane log types {missing} are not enabled"


def _secrets_encryption(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    encryption = get(args.props, "encryptionConfig")
    if "secrets" not in as_list(get(encryption or {}, "resources")) or not get(encryption or {}, "provider.keyArn"):
        yield "Kubernetes secrets are not envelope-encrypted with a KMS key (encryptionConfig)"


def _private_endpoint(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    vpc = get(args.props, "vpcConfig") or {}
    # Provider defaults: endpointPrivateAccess false, endpointPublicAccess true, open to 0.0.0.0/0.
    if not is_true(get(vpc, "endpointPrivateAccess")):
        yield "the private API endpoint is off (vpcConfig.endpointPrivateAccess)"
    public = get(vpc, "endpointPublicAccess")
    if public is None or is_true(public):
        cidrs = as_list(get(vpc, "publicAccessCidrs")) or ["0.0.0.0/0"]
        if "0.0.0.0/0" in cidrs or "::/0" in cidrs:
            yield "the public API endpoint is open to the internet (vpcConfig.endpointPublicAccess)"


def _imdsv2(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    metadata = get(args.props, "metadataOptions") or {}
    if get(metadata, "httpTokens") != "required":
        yield "instance metadata accepts IMDSv1 (metadataOptions.httpTokens is not 'required')"
    hop_limit = get(metadata, "httpPutResponseHopLimit")
    if hop_limit is not None and hop_limit > config["maxHopLimit"]:
        yield f"the IMDS hop limit {hop_limit:g} lets pods reach node credentials (max {config['maxHopLimit']})"


def _no_ssh(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if get(args.props, "remoteAccess"):
        yield "the node group opens SSH (remoteAccess)"


def _node_volumes_encrypted(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    for mapping in as_list(get(args.props, "blockDeviceMappings")):
        ebs = get(mapping, "ebs")
        # Without `encrypted` a volume follows the account's EBS default, which is off unless set.
        if ebs is not None and not is_true(get(ebs, "encrypted")):
            yield f"volume {get(mapping, 'deviceName')} is not encrypted (ebs.encrypted)"


POLICIES = [
    ResourceControl(
        name="eks-control-plane-logging",
        description="EKS clusters send every control-plane log type, audit included, to CloudWatch.",
        severity=Severity.HIGH,
        framework=cis_eks("2.1.1"),
        family=FAMILY,
        resource_types=[CLUSTER],
        when_absent="insecure: without enabledClusterLogTypes EKS sends no control-plane logs",
        remediation="set enabledClusterLogTypes to api, audit, authenticator, controllerManager and scheduler",
        settings={
            "requiredLogTypes": {
                "type": "array",
                "items": {"enum": list(CONTROL_PLANE_LOG_TYPES)},
                "default": list(CONTROL_PLANE_LOG_TYPES),
            }
        },
        check=_control_plane_logging,
    ),
    ResourceControl(
        name="eks-secrets-encryption",
        description="EKS envelope-encrypts Kubernetes secrets with a customer-managed KMS key.",
        severity=Severity.HIGH,
        framework=cis_eks("5.3.1"),
        family=FAMILY,
        resource_types=[CLUSTER],
        when_absent="insecure: without encryptionConfig secrets are only disk-encrypted by AWS-owned keys",
        remediation="set encryptionConfig with resources ['secrets'] and provider.keyArn of a rotating KMS key",
        check=_secrets_encryption,
    ),
    ResourceControl(
        name="eks-private-endpoint",
        description="The EKS API endpoint is private; any public endpoint is restricted to known CIDRs.",
        severity=Severity.CRITICAL,
        framework=cis_eks("5.4.2"),
        family=FAMILY,
        resource_types=[CLUSTER],
        when_absent="insecure: the provider defaults to a public endpoint open to 0.0.0.0/0 and no private one",
        remediation="set vpcConfig.endpointPrivateAccess true and endpointPublicAccess false "
        "(or publicAccessCidrs to the operators' ranges)",
        check=_private_endpoint,
    ),
    ResourceControl(
        name="eks-node-imdsv2",
        description="Worker-node launch templates require IMDSv2 and keep the hop limit low.",
        severity=Severity.HIGH,
        framework=aws_fsbp("EC2.170"),
        family=FAMILY,
        resource_types=[LAUNCH_TEMPLATE],
        when_absent="insecure: without metadataOptions.httpTokens instances accept IMDSv1",
        remediation="set metadataOptions.httpTokens 'required' and httpPutResponseHopLimit at most 2",
        settings={
            "maxHopLimit": {
                "type": "integer",
                "minimum": 1,
                "maximum": 64,
                "default": 2,
                "description": "2 lets the VPC CNI reach IMDS from its host-network pod",
            }
        },
        check=_imdsv2,
    ),
    ResourceControl(
        name="eks-node-no-ssh",
        description="EKS managed node groups do not open SSH; use SSM Session Manager instead.",
        severity=Severity.HIGH,
        framework=checkov("CKV_AWS_100"),
        family=FAMILY,
        resource_types=[NODE_GROUP],
        when_absent="secure: without remoteAccess the node group opens no SSH port",
        remediation="remove remoteAccess from the node group",
        check=_no_ssh,
    ),
    ResourceControl(
        name="eks-node-volumes-encrypted",
        description="Worker-node EBS volumes declared in launch templates are encrypted.",
        severity=Severity.HIGH,
        framework=aws_fsbp("EC2.3"),
        family=FAMILY,
        resource_types=[LAUNCH_TEMPLATE],
        when_absent="insecure: a volume without ebs.encrypted follows the account default, off unless changed",
        remediation="set ebs.encrypted 'true' (and kmsKeyId) on every blockDeviceMappings entry",
        check=_node_volumes_encrypted,
    ),
]
