"""EksNodeGroup: a managed node group on a hardened launch template.

The launch template enforces the EKS best-practice node hardening: IMDSv2 only (hop
limit 2, which the EBS CSI node plugin needs); an encrypted root volume; no SSH key.
Managed groups drain nodes on upgrade and auto-create the node role's access entry.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass
class NodeGroupSpec:
    """One managed node group: `role` names it (`<cluster>-<role>`)."""

    role: str
    """Required: the group's stable key (`general`, `high-cpu`); it names the group `<cluster>-<role>`."""
    instance_types: list[str]
    """Required: EC2 instance types, first preferred (e.g. m6i.2xlarge); one family keeps pods' requests
    comparable."""
    min_size: int
    """Required: fewest nodes the autoscaler keeps, in nodes."""
    desired_size: int
    """Required: nodes at creation, in nodes (later ignored: the cluster autoscaler owns it)."""
    max_size: int
    """Required: most nodes the autoscaler may add, in nodes; the capacity ceiling."""
    labels: dict[str, str] = field(default_factory=dict)
    """Kubernetes node labels, e.g. {"node-class": "high-cpu"} for workload selectors. Default none."""
    taints: list[aws.eks.NodeGroupTaintArgs] = field(default_factory=list)
    """Taints that keep all but tolerating pods off the group (dedicated pools). Default none."""


@dataclass
class EksNodeGroupArgs:
    """Inputs of EksNodeGroup. Defaults are the hardened ones."""

    cluster_name: pulumi.Input[str]
    """Required: the EKS cluster the group joins."""
    kubernetes_version: pulumi.Input[str]
    """Required: the cluster's version; the group follows it on upgrade."""
    node_role_arn: pulumi.Input[str]
    """Required: the node IAM role (worker policy and image pulls only)."""
    subnet_ids: pulumi.Input[list[str]]
    """Required: private subnets only, so nodes never get public addresses."""
    security_group_ids: list[pulumi.Input[str]]
    """Required: the cluster's primary group (node <-> control plane) plus the node identity group."""
    spec: NodeGroupSpec
    """Required: instance types, size range, labels and taints."""
    ami_type: str = "AL2023_x86_64_STANDARD"
    """Default AL2023_x86_64_STANDARD: Amazon Linux 2023, since AL2 AMIs stop at Kubernetes 1.32."""
    root_volume_gib: int = 50
    """Root EBS volume (gp3, encrypted) per node, in GiB. Default 50: images and emptyDirs of a full node."""
    instance_tags: dict[str, str] = field(default_factory=dict)
    """Tags for instances, volumes and ENIs: provider default tags do not reach what an Auto Scaling group
    launches, so they are set on the launch template. Default none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the node group and launch template. Default none."""


class EksNodeGroup(pulumi.ComponentResource):
    node_group_name: pulumi.Output[str]
    launch_template_id: pulumi.Output[str]

    def __init__(self, name: str, args: EksNodeGroupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:aws:EksNodeGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        instance_tags = {**args.instance_tags, "Name": name}
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"Hardened nodes of {name}",
            # No key_name and no remote_access: nodes take no SSH (EKS best practices);
            # node debugging goes through `kubectl debug node/<name>` instead of an open port.
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",  # IMDSv2 only (AWS Security Hub EC2.8)
                # Hop limit 2, not 1: the EBS CSI node plugin runs in the pod network and
                # needs IMDS to learn its instance's attach limits (its install guide asks
                # for >= 2). What a pod could reach is the node role, kept to joining the
                # cluster and pulling images; AWS-facing add-ons use IRSA roles instead.
                http_put_response_hop_limit=2,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",  # the AL2023 EKS AMI's root device
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        encrypted="true",
                        volume_type="gp3",
                        volume_size=args.root_volume_gib,
                        delete_on_termination="true",
                    ),
                )
            ],
            vpc_security_group_ids=args.security_group_ids,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            update_default_version=True,
            tags={**args.tags, "Name": f"{name}-lt"},
            opts=child,
        )
        node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=args.cluster_name,
            version=args.kubernetes_version,
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            instance_types=args.spec.instance_types,
            ami_type=args.ami_type,
            capacity_type="ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.spec.min_size, desired_size=args.spec.desired_size, max_size=args.spec.max_size
            ),
            labels=args.spec.labels,
            taints=args.spec.taints,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=launch_template.id, version=launch_template.latest_version.apply(str)
            ),
            # Replace a third of the nodes at a time during upgrades; PDBs bound the rest.
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33),
            # EKS replaces nodes that stay NotReady or report hardware faults.
            node_repair_config=aws.eks.NodeGroupNodeRepairConfigArgs(enabled=True),
            tags={**args.tags, "Name": f"{name}-nodes"},
            # The cluster autoscaler owns the desired size after creation; a later
            # `pulumi up` must not scale the group back.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )

        self.node_group_name = node_group.node_group_name
        self.launch_template_id = launch_template.id
        self.register_outputs(
            {
                "node_group_name": self.node_group_name,
                "launch_template_id": self.launch_template_id,
            }
        )
