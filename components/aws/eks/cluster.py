"""EksCluster: a private, encrypted, fully logged EKS control plane with its node groups.

Built from plain pulumi_aws resources (not the pulumi_eks component) so every piece is a
registration the policy pack can inspect. Node groups live in `node_group.py` and
the managed add-ons in `addons.py`.
"""

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws._context import AwsContext, role_key, role_name
from components.aws._iam_documents import key_use_policy, service_trust_policy
from components.aws._kms import encrypted_log_groups
from components.aws.eks.addons import (
    NETWORK_ADDONS,
    WORKLOAD_ADDONS,
    EksAddons,
    EksAddonsArgs,
)
from components.aws.eks.irsa_role import OidcIdentity
from components.aws.eks.node_group import EksNodeGroup, EksNodeGroupArgs, NodeGroupSpec

# CIS EKS 2.1.1: every control-plane log type, audit and authenticator included.
CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


@dataclass
class EksClusterArgs:
    """Inputs of EksCluster. Defaults: private endpoint only, secrets encrypted, all logs."""

    vpc_id: pulumi.Input[str]
    """Required: the VPC of the cluster's security groups."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Required: control-plane ENIs and nodes go here; nothing of the cluster sits in public subnets."""
    version: str
    """Required: Kubernetes minor version, e.g. "1.35" (a string: YAML would read 1.30 as 1.3); no sensible default
    outlives a release."""
    admin_roles: list[str]
    """Required: IAM role names (in the deploying account) or ARNs that get cluster-admin access entries, keyed by
    role name. Without one the cluster has no administrator (no implicit creator access)."""
    node_groups: list[NodeGroupSpec]
    """Required: at least one node group (coredns and the EBS CSI controller need nodes); each named by its role."""
    service_cidr: str = "172.20.0.0/16"
    """IPv4 range of Service ClusterIPs; must not overlap the VPC or anything routed to it (the GCP ranges over the
    VPN). Default 172.20.0.0/16."""
    public_access_cidrs: list[str] = field(default_factory=list)
    """Default empty: no public endpoint at all (CIS EKS 5.4.2). Otherwise only these ranges reach it (CIS EKS
    5.4.1)."""
    log_retention_days: int = 90
    """CloudWatch retention of the control-plane logs, in days. Default 90 (the HEAL7 design's log retention)."""
    protect: bool = True
    """`protect` the cluster, its key and log group, and turn on EKS deletion protection. Default true."""
    instance_tags: dict[str, str] = field(default_factory=dict)
    """Tags for what node groups launch (see EksNodeGroupArgs.instance_tags). Default none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource (a Name tag is added per resource). Default none."""


class EksCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    oidc_identity: OidcIdentity
    """The two above as one value, for the IRSA roles of add-ons and workloads."""
    node_security_group_id: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.node_groups:
            raise ValueError(f"EksCluster {name}: at least one node group is needed for coredns and ebs-csi")
        super().__init__("platform:aws:EksCluster", name, None, opts)
        aws_context = AwsContext.of(self)
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = name  # fixed: the control-plane log group's name is derived from it

        key, log_groups = encrypted_log_groups(
            name,
            context=aws_context,
            description=f"Envelope-encrypts the Kubernetes secrets and control-plane logs of {cluster_name}",
            log_groups={f"{name}-logs": f"/aws/eks/{cluster_name}/cluster"},
            retention_days=args.log_retention_days,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        log_group = log_groups[f"{name}-logs"]

        cluster_role = aws.iam.Role(
            f"{name}-role",
            description=f"EKS control plane of {cluster_name}",
            # EKS's documented trust policy, unconditioned: EKS does not promise to pass
            # aws:SourceAccount when it assumes the role, so a guard could lock it out.
            assume_role_policy=service_trust_policy("eks.amazonaws.com"),
            tags={**args.tags, "Name": f"{name}-role"},
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=aws_context.aws_managed_policy("AmazonEKSClusterPolicy"),
            opts=child,
        )
        # The control plane encrypts secrets with the key through its own role.
        key_policy = aws.iam.RolePolicy(
            f"{name}-kms",
            role=cluster_role.id,
            policy=key_use_policy(key.arn, ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]),
            opts=child,
        )

        # Nodes' identity for data-store rules: RDS and Redis admit this group, nothing
        # wider. It holds no rules itself; node <-> control-plane traffic rides the
        # cluster's primary security group, which nodes also carry.
        node_security_group = aws.ec2.SecurityGroup(
            f"{name}-nodes",
            description=f"Identity of the worker nodes of {cluster_name}; data stores admit it",
            vpc_id=args.vpc_id,
            tags={**args.tags, "Name": f"{name}-nodes"},
            opts=child,
        )

        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=cluster_name,
            version=args.version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.private_subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=bool(args.public_access_cidrs),
                public_access_cidrs=args.public_access_cidrs or None,
            ),
            # Access entries only (no aws-auth ConfigMap), and no implicit admin for
            # whoever happened to create the cluster: admins are listed in config.
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            # CIS EKS 5.3.1: secrets envelope-encrypted with a customer key.
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=CONTROL_PLANE_LOG_TYPES,
            kubernetes_network_config=aws.eks.ClusterKubernetesNetworkConfigArgs(
                ip_family="ipv4",
                service_ipv4_cidr=args.service_cidr,
            ),
            # The networking add-ons are installed as managed add-ons below, so EKS must
            # not also install its unmanaged copies.
            bootstrap_self_managed_addons=False,
            # Standard support only: the config refuses versions past it, and extended
            # support (the API's default) would bill 6x silently instead of upgrading.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            # Lets operators shift traffic away from an impaired AZ (ARC zonal shift).
            zonal_shift_config=aws.eks.ClusterZonalShiftConfigArgs(enabled=True),
            deletion_protection=args.protect,
            tags={**args.tags, "Name": cluster_name},
            # The log group must exist first, or EKS creates one that never expires.
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect, depends_on=[log_group, cluster_policy, key_policy]
            ),
        )

        oidc_issuer_url = cluster.identities[0].oidcs[0].issuer
        oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=oidc_issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            # No thumbprint: IAM validates EKS issuers against its own trusted CAs.
            tags={**args.tags, "Name": f"{name}-oidc"},
            opts=child,
        )
        self.oidc_provider_arn = oidc_provider.arn
        self.oidc_issuer_url = oidc_issuer_url
        self.oidc_identity = OidcIdentity(provider_arn=oidc_provider.arn, issuer_url=oidc_issuer_url)

        # Keyed by role name, not list position: removing one admin must not rename (and so
        # replace) the others' entries; EKS refuses a second entry for the same principal.
        for admin_name, role in _admin_roles_by_name(name, args.admin_roles).items():
            principal = aws_context.role_arn(role)
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{admin_name}",
                cluster_name=cluster.name,
                principal_arn=principal,
                type="STANDARD",
                tags={**args.tags, "Name": f"{name}-admin-{admin_name}"},
                opts=child,
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{admin_name}-policy",
                cluster_name=cluster.name,
                principal_arn=principal,
                policy_arn=pulumi.Output.concat(
                    "arn:", aws_context.partition, ":eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
                ),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )

        node_role = aws.iam.Role(
            f"{name}-node-role",
            description=f"Worker nodes of {cluster_name}",
            assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
            tags={**args.tags, "Name": f"{name}-node-role"},
            opts=child,
        )
        # Least privilege for nodes: join the cluster, pull images, and register with SSM so
        # operators reach a node through Session Manager (no SSH; the network denies 22).
        # The CNI's rights live on the vpc-cni add-on's own IRSA role, not on every node.
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=node_role.name,
                policy_arn=aws_context.aws_managed_policy(policy),
                opts=child,
            )
            for policy in (
                "AmazonEKSWorkerNodePolicy",
                "AmazonEC2ContainerRegistryPullOnly",
                "AmazonSSMManagedInstanceCore",
            )
        ]

        # vpc-cni, kube-proxy and the Pod Identity agent must run before nodes can
        # become Ready; coredns and ebs-csi need nodes to schedule on.
        network_addons = EksAddons(
            f"{name}-network-addons",
            EksAddonsArgs(
                cluster_name=cluster.name,
                kubernetes_version=cluster.version,
                addons=NETWORK_ADDONS,
                oidc=self.oidc_identity,
                tags=args.tags,
            ),
            opts=child,
        )
        node_groups = [
            EksNodeGroup(
                f"{name}-{spec.role}",
                EksNodeGroupArgs(
                    cluster_name=cluster.name,
                    kubernetes_version=cluster.version,
                    node_role_arn=node_role.arn,
                    subnet_ids=args.private_subnet_ids,
                    security_group_ids=[cluster.vpc_config.cluster_security_group_id, node_security_group.id],
                    spec=spec,
                    instance_tags=args.instance_tags,
                    tags=args.tags,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*node_policies, network_addons]),
            )
            for spec in args.node_groups
        ]
        EksAddons(
            f"{name}-workload-addons",
            EksAddonsArgs(
                cluster_name=cluster.name,
                kubernetes_version=cluster.version,
                addons=WORKLOAD_ADDONS,
                oidc=self.oidc_identity,
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_groups),
        )

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.certificate_authority = cluster.certificate_authority.data
        self.node_security_group_id = node_security_group.id
        self.cluster_security_group_id = cluster.vpc_config.cluster_security_group_id
        self.kubeconfig = pulumi.Output.all(
            cluster.name, cluster.endpoint, self.certificate_authority, aws_context.region
        ).apply(lambda v: _kubeconfig(*v))
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "certificate_authority": self.certificate_authority,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_issuer_url": self.oidc_issuer_url,
                "node_security_group_id": self.node_security_group_id,
                "cluster_security_group_id": self.cluster_security_group_id,
                "kubeconfig": self.kubeconfig,
            }
        )


def _admin_roles_by_name(name: str, admin_roles: list[str]) -> dict[str, str]:
    """Each admin role (a name or an ARN) by its role name, the stable key of its access entry.

    IAM role names are unique regardless of case, so `Admin` and `admin` are the same key.
    """
    by_name: dict[str, str] = {}
    seen: dict[str, str] = {}
    for role in admin_roles:
        if role_key(role) in seen:
            raise ValueError(
                f"EksCluster {name}: admin role name {role_name(role)!r} is given twice ({seen[role_key(role)]}, {role})"
            )
        seen[role_key(role)] = role
        by_name[role_name(role)] = role
    return by_name


def _kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str) -> str:
    """A kubeconfig that authenticates with `aws eks get-token`: no static credentials."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority},
                }
            ],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster_name,
                                "--region",
                                region,
                                "--output",
                                "json",
                            ],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        }
    )
