"""The `platform:kubernetes` section: what the platform lays on both clusters.

Workload namespaces with their Pod Security level, who may read them (viewer groups) and
who deploys into them (one deployer identity per namespace), and the GitOps render mode.
The same section drives EKS and GKE: each cluster maps the identities its own way (EKS
access entries, GKE Google Groups for RBAC and IAM). Tier defaults: `stacks/config/tiers.py`.
"""

from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints, field_validator, model_validator

from components.aws._context import role_key
from stacks.config.aws_models import IamRole
from stacks.config.ingress_models import IngressConfig, MeshCallerConfig
from stacks.config.types import KeyedValueError, Section, Switch, unique

# A namespace name is a DNS label (RFC 1123): Kubernetes refuses anything else.
NamespaceName = Annotated[str, StringConstraints(max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
# Namespaces the platform itself owns or Kubernetes reserves: a workload namespace there
# would inherit system-level Pod Security or collide with an add-on's objects.
RESERVED_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", "istio-system", "istio-ingress", "monitoring"}
)
# Pod Security Standards levels (the `pod-security.kubernetes.io/enforce` label values).
PodSecurityLevel = Literal["restricted", "baseline", "privileged"]
# A Google service account email (the deployer identity on GKE, e.g. CI through Workload
# Identity Federation).
GoogleServiceAccount = Annotated[
    str,
    StringConstraints(
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$"
    ),
]


class NamespaceConfig(Section):
    """One workload namespace."""

    # CIS EKS 4.2 / CIS GKE 4.2: workload pods run under the `restricted` Pod Security
    # Standard (non-root, no privilege escalation, seccomp, dropped capabilities).
    pod_security: PodSecurityLevel = Field(
        default="restricted", description="Pod Security level enforced on the namespace (default restricted)."
    )
    pod_security_reason: Annotated[str, StringConstraints(min_length=10, max_length=200)] | None = Field(
        default=None, description="Required below restricted: what in the namespace needs the lower level."
    )
    # The HEAL7 design's heal7-authz: calls between workloads are admitted one by one; the
    # ingress gateway and the monitoring namespace are always admitted.
    mesh_callers: Annotated[
        list[MeshCallerConfig], unique("callers", key=lambda c: (c.namespace, c.service_account))
    ] = Field(default=[], description="Workloads that may call into the namespace through the mesh (default none).")

    @model_validator(mode="after")
    def _lower_level_says_why(self) -> "NamespaceConfig":
        if self.pod_security != "restricted" and self.pod_security_reason is None:
            raise KeyedValueError(
                "podSecurityReason",
                f"expected the reason a workload namespace runs below restricted (podSecurity: "
                f"{self.pod_security}), got none",
            )
        if self.pod_security == "restricted" and self.pod_security_reason is not None:
            raise KeyedValueError(
                "podSecurityReason",
                f"expected no reason with podSecurity restricted (it explains a lower level), got "
                f"{self.pod_security_reason!r}",
            )
        return self


class ViewerGroupConfig(Section):
    """Read-only access to some namespaces, for one group of people."""

    aws_roles: Annotated[list[IamRole], unique("roles")] = Field(
        min_length=1,
        description="IAM roles whose sessions may read the namespaces on EKS (an access entry each, with "
        "AmazonEKSViewPolicy scoped to the namespaces).",
    )
    google_group: EmailStr = Field(
        description="Google Group whose members may read the namespaces on GKE (Google Groups for RBAC); unique."
    )
    namespaces: Annotated[list[NamespaceName], unique("namespaces")] = Field(
        min_length=1, description="Namespaces the group may read; an empty list grants nothing, so it is refused."
    )


class DeployerConfig(Section):
    """The identity that deploys into one namespace (a CI role), and nothing else."""

    namespace: NamespaceName = Field(description="The namespace this identity deploys into.")
    aws_role: IamRole = Field(description="IAM role the pipeline assumes for EKS.")
    google_service_account: GoogleServiceAccount = Field(description="Service account the pipeline uses for GKE.")

    @property
    def kubernetes_group(self) -> str:
        """The Kubernetes group of the deployer on EKS: its access entry maps the role into it
        and the namespace's deployer RoleBinding names it (one name, so the two agree)."""
        return f"{self.namespace}-deployer"


class CertManagerConfig(Section):
    """cert-manager's ClusterIssuers (Let's Encrypt, DNS-01 in the Cloudflare zone)."""

    # Both issuers always exist; this one is what Ingresses and Gateways get by default.
    # Dev uses staging (generous rate limits, untrusted certificates), the other tiers
    # production (tier defaults).
    issuer: Literal["production", "staging"] = Field(
        description="Default ClusterIssuer: production or staging (Let's Encrypt's two ACME directories)."
    )
    acme_email: EmailStr | None = Field(
        default=None, description="Contact on the ACME account (optional; Let's Encrypt sends no expiry mail)."
    )


class KubernetesConfig(Section):
    namespaces: dict[NamespaceName, NamespaceConfig] = Field(
        min_length=1, description="Workload namespaces, each with its Pod Security level."
    )
    viewers: Annotated[
        list[ViewerGroupConfig], unique("google groups", key=lambda v: str(v.google_group).casefold())
    ] = Field(default=[], description="Read-only groups (default none).")
    deployers: Annotated[list[DeployerConfig], unique("namespaces", key=lambda d: d.namespace)] = Field(
        default=[], description="One deployer identity per namespace (default none)."
    )
    # Google Groups for RBAC: GKE resolves a user's groups only below this group
    # (`gke-security-groups@<your domain>`); needed as soon as a viewer group exists.
    gke_security_group: EmailStr | None = Field(
        default=None, description="The gke-security-groups@<domain> group that nests the viewer groups."
    )
    ingress: IngressConfig = Field(description="The ingress gateways' routes, per load-balanced hostname.")
    cert_manager: CertManagerConfig = Field(description="cert-manager's issuers (tier defaults: dev staging).")
    # Two replicas and a PodDisruptionBudget per add-on controller and webhook: a node
    # drain or a zone loss then never stops certificate or secret writes (tier defaults:
    # dev false, staging and prod true).
    high_availability: Switch = Field(
        description="Run the add-ons (cert-manager, External Secrets) with 2 replicas and PodDisruptionBudgets."
    )
    render_to: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_./-]+$")] | None = (
        Field(
            default=None,
            description="GitOps mode: write each cluster's objects as YAML under <renderTo>/<cluster>/ instead of applying.",
        )
    )

    @field_validator("gke_security_group")
    @classmethod
    def _security_group_name(cls, value: str | None) -> str | None:
        # GKE accepts no other name for the group (Google Groups for RBAC).
        if value is not None and not value.lower().startswith("gke-security-groups@"):
            raise ValueError(f"expected gke-security-groups@<your domain>, got {value!r}")
        return value

    def viewer_namespaces_by_role(self) -> dict[str, list[str]]:
        """Each viewer IAM role with every namespace it may read, across viewer groups.

        EKS gives a role one access entry and one association per access policy, so a role
        in two viewer groups gets one entry viewing both groups' namespaces. Roles are
        compared by name without case (IAM ignores case; a name and its ARN are one role)."""
        roles: dict[str, str] = {}
        namespaces: dict[str, set[str]] = {}
        for viewer in self.viewers:
            for role in viewer.aws_roles:
                key = role_key(role)
                roles.setdefault(key, role)
                namespaces.setdefault(key, set()).update(viewer.namespaces)
        return {roles[key]: sorted(namespaces[key]) for key in roles}

    @field_validator("namespaces")
    @classmethod
    def _not_reserved(cls, value: dict[str, NamespaceConfig]) -> dict[str, NamespaceConfig]:
        for name in value:
            if name in RESERVED_NAMESPACES:
                raise KeyedValueError(
                    name, f"expected a workload namespace, got {name!r}, which Kubernetes or the platform owns"
                )
        return value

    @model_validator(mode="after")
    def _references_exist(self) -> "KubernetesConfig":
        for index, viewer in enumerate(self.viewers):
            for position, namespace in enumerate(viewer.namespaces):
                if namespace not in self.namespaces:
                    raise KeyedValueError(
                        f"viewers[{index}].namespaces[{position}]",
                        f"expected one of the namespaces ({', '.join(sorted(self.namespaces))}), got {namespace!r}",
                    )
        for index, deployer in enumerate(self.deployers):
            if deployer.namespace not in self.namespaces:
                raise KeyedValueError(
                    f"deployers[{index}].namespace",
                    f"expected one of the namespaces ({', '.join(sorted(self.namespaces))}), got {deployer.namespace!r}",
                )
        for name, namespace in self.namespaces.items():
            for index, caller in enumerate(namespace.mesh_callers):
                # Calls across workload namespaces would also need NetworkPolicies between the
                # two (each namespace admits only its own pods and the platform's): refused
                # until those exist, rather than admitted at L7 and dropped at L3.
                if caller.namespace != name:
                    raise KeyedValueError(
                        f"namespaces.{name}.meshCallers[{index}].namespace",
                        f"expected {name} (calls from another workload namespace need network policies the "
                        f"platform does not build yet), got {caller.namespace!r}",
                    )
        if self.viewers and self.gke_security_group is None:
            raise KeyedValueError(
                "gkeSecurityGroup",
                "expected the gke-security-groups@<domain> group (Google Groups for RBAC) when viewers exist, got none",
            )
        return self
