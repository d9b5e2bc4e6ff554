"""NamespaceAccess: who may read and who may deploy in each workload namespace, on either cluster.

Per namespace it creates a RoleBinding of the built-in `view` ClusterRole for the viewers,
and a namespaced `deployer` Role with its RoleBinding for the pipeline. Nothing is
cluster-wide and nothing reaches Secrets, RBAC objects or the escalation verbs (bind,
escalate, impersonate): least privilege, as the email-platform ops guide's `rbac.yaml`
means it (a namespaced Role with listed verbs) without its Secret reads, which here
External Secrets does instead.

The caller maps each cloud's identities to plain RBAC subjects:
- EKS: a deployer is the Kubernetes group of its access entry (EksAccess). Viewers need no
  binding: their access entry's AmazonEKSViewPolicy, scoped to the same namespaces, is
  EKS's own equivalent of `view`, so on EKS `viewers` stays empty and one grant exists.
- GKE: a viewer is its Google Group (kind Group, Google Groups for RBAC), a deployer its
  Google service account (kind User, the email: GKE's username for a service account).

A deployer can still run pods that mount the namespace's Secrets (any workload creator
can); what those Secrets hold is limited to what the namespace's ExternalSecrets sync.
"""

from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

RBAC_API_GROUP = "rbac.authorization.k8s.io"
# Object names inside each namespace: fixed, so a rename is a deliberate change.
VIEWERS_BINDING = "platform-viewers"
DEPLOYER_ROLE = "platform-deployer"
# Kubernetes' read-only user-facing ClusterRole: everything but Secrets and RBAC objects.
VIEW_CLUSTER_ROLE = "view"

READ = ["get", "list", "watch"]
WRITE = [*READ, "create", "update", "patch", "delete"]
# (API group, resources, verbs): what rolling out an app needs and nothing more. No
# secrets (External Secrets writes them), no roles/rolebindings (no self-granting), no
# pods create (controllers make pods), no '*', no bind/escalate/impersonate.
DEPLOYER_RULES: list[tuple[str, list[str], list[str]]] = [
    ("apps", ["deployments", "statefulsets"], WRITE),
    # `kubectl scale` and the rollout commands.
    ("apps", ["deployments/scale", "statefulsets/scale"], ["get", "update", "patch"]),
    # Migrations and scheduled work.
    ("batch", ["jobs", "cronjobs"], WRITE),
    # Read-only: the Deployment controller owns them; `kubectl rollout status/undo` reads them.
    ("apps", ["replicasets"], READ),
    ("", ["services", "configmaps", "serviceaccounts"], WRITE),
    # To follow a rollout and debug it; the pods themselves belong to their controllers.
    ("", ["pods", "events"], READ),
    ("", ["pods/log"], ["get"]),
    ("autoscaling", ["horizontalpodautoscalers"], WRITE),
    # Recommendation-mode VPA objects (updateMode Off beside an HPA).
    ("autoscaling.k8s.io", ["verticalpodautoscalers"], WRITE),
    ("policy", ["poddisruptionbudgets"], WRITE),
    # Read-only: the platform's default-deny policies are not the deployer's to relax.
    ("networking.k8s.io", ["networkpolicies"], READ),
    ("external-secrets.io", ["externalsecrets"], WRITE),
    ("networking.istio.io", ["virtualservices", "destinationrules"], WRITE),
]


@dataclass(frozen=True)
class RbacSubject:
    """A user or group as Kubernetes RBAC names it."""

    kind: Literal["Group", "User"]
    """Required: Group (an EKS access-entry group, a Google Group) or User (a Google service account email)."""
    name: str
    """Required: the group or user name, exactly as the cluster's authenticator reports it."""


@dataclass
class NamespaceAccessSpec:
    """Access to one namespace."""

    namespace: str
    """Required: the namespace (it must exist; pass its resource in NamespaceAccessArgs.depends_on)."""
    viewers: list[RbacSubject] = field(default_factory=list)
    """Subjects bound to `view` in the namespace, each once. Default none (on EKS the access policy grants view)."""
    deployer: RbacSubject | None = None
    """The subject bound to the namespace's deployer Role. Default None: no deployer Role at all."""


@dataclass
class NamespaceAccessArgs:
    """Inputs of NamespaceAccess. Each namespace at most once; each grants something."""

    namespaces: list[NamespaceAccessSpec]
    """Required: the namespaces and who may read and deploy in each; each object is keyed by its namespace."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """What creates the namespaces; every object waits for it. Default none."""
    labels: dict[str, str] = field(default_factory=dict)
    """Labels on every object (app.kubernetes.io/managed-by is added). Default none."""


def _check(owner: str, args: NamespaceAccessArgs) -> None:
    namespaces = [spec.namespace for spec in args.namespaces]
    if len(set(namespaces)) != len(namespaces):
        raise ValueError(f"{owner}: each namespace once, got {namespaces}")
    for spec in args.namespaces:
        if spec.namespace in ("", "default"):
            raise ValueError(f"{owner}: a workload namespace is needed, got {spec.namespace!r}")
        if not spec.viewers and spec.deployer is None:
            raise ValueError(f"{owner}: namespace {spec.namespace!r} has neither viewers nor a deployer")
        if len(set(spec.viewers)) != len(spec.viewers):
            raise ValueError(f"{owner}: namespace {spec.namespace!r} lists a viewer twice: {spec.viewers}")
        for subject in [*spec.viewers, *([spec.deployer] if spec.deployer else [])]:
            if subject.kind not in ("Group", "User"):
                raise ValueError(f"{owner}: subjects are Group or User, got {subject.kind!r} in {spec.namespace!r}")
            # system:authenticated, system:masters and the like would bind every user or
            # a built-in identity: never what a per-namespace grant means.
            if not subject.name or subject.name.startswith("system:"):
                raise ValueError(
                    f"{owner}: subject {subject.name!r} in {spec.namespace!r} is empty or a system identity"
                )


def _subject(subject: RbacSubject) -> k8s.rbac.v1.SubjectArgs:
    return k8s.rbac.v1.SubjectArgs(kind=subject.kind, name=subject.name, api_group=RBAC_API_GROUP)


class NamespaceAccess(pulumi.ComponentResource):
    deployer_roles: dict[str, k8s.rbac.v1.Role]
    """The deployer Role by namespace."""

    def __init__(self, name: str, args: NamespaceAccessArgs, opts: pulumi.ResourceOptions | None = None):
        _check(f"NamespaceAccess {name}", args)
        super().__init__("platform:kubernetes:NamespaceAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        labels = {**args.labels, "app.kubernetes.io/managed-by": "pulumi"}

        def metadata(object_name: str, namespace: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=namespace, labels=labels)

        self.deployer_roles = {}
        # Keyed by namespace, never list position: dropping one namespace leaves the others.
        for spec in args.namespaces:
            key = spec.namespace
            if spec.viewers:
                k8s.rbac.v1.RoleBinding(
                    f"{name}-{key}-viewers",
                    metadata=metadata(VIEWERS_BINDING, key),
                    role_ref=k8s.rbac.v1.RoleRefArgs(
                        api_group=RBAC_API_GROUP, kind="ClusterRole", name=VIEW_CLUSTER_ROLE
                    ),
                    subjects=[_subject(subject) for subject in spec.viewers],
                    opts=child,
                )
            if spec.deployer is not None:
                role = k8s.rbac.v1.Role(
                    f"{name}-{key}-deployer",
                    metadata=metadata(DEPLOYER_ROLE, key),
                    rules=[
                        k8s.rbac.v1.PolicyRuleArgs(api_groups=[group], resources=resources, verbs=verbs)
                        for group, resources, verbs in DEPLOYER_RULES
                    ],
                    opts=child,
                )
                k8s.rbac.v1.RoleBinding(
                    f"{name}-{key}-deployer-binding",
                    metadata=metadata(DEPLOYER_ROLE, key),
                    role_ref=k8s.rbac.v1.RoleRefArgs(api_group=RBAC_API_GROUP, kind="Role", name=DEPLOYER_ROLE),
                    subjects=[_subject(spec.deployer)],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, role]),
                )
                self.deployer_roles[key] = role

        self.register_outputs({"deployer_namespaces": sorted(self.deployer_roles)})
