"""Mock outputs for Kubernetes objects and Helm releases, shaped like pulumi-kubernetes' own.

The provider's outputs are the live object: the inputs plus what the API server adds to
`metadata` (`uid`, `resourceVersion`, `creationTimestamp`, the namespace it landed in) and
a `status`. An object without `metadata.name` is auto-named by the provider: the resource
name, a dash and 8 random hex characters, with the annotation `pulumi.com/autonamed`.
Here the suffix is derived from the name, so plans stay deterministic. `status` is left
out: the API server fills it after apply, and no caller reads it yet.

The id is `<namespace>/<name>` for a namespaced object and `<name>` for a cluster-scoped
one, as the provider reports it.
"""

from typing import Any

from tools.mock_values import digest, hex_of, uuid_of

CREATED_AT = "2026-01-01T00:00:00Z"
AUTONAMED_ANNOTATION = "pulumi.com/autonamed"
# Modules whose types are not one object: Helm charts and releases, and the YAML and
# kustomize components whose children are the objects.
NOT_OBJECT_MODULES = ("helm.sh/", "yaml", "kustomize")
# Built-in kinds without a namespace (`kubectl api-resources --namespaced=false`, Kubernetes
# 1.35). A namespaced object without metadata.namespace lands in the provider's namespace.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)
PROVIDER_DEFAULT_NAMESPACE = "default"
"""Where a namespaced object lands when neither it nor its provider names a namespace."""


def api_version_and_kind(type_token: str) -> tuple[str, str]:
    """`kubernetes:core/v1:Namespace` -> (`v1`, `Namespace`); `kubernetes:networking.k8s.io/v1:NetworkPolicy`
    -> (`networking.k8s.io/v1`, `NetworkPolicy`). A `...Patch` type patches the kind it names."""
    package, module, kind = type_token.split(":")
    if package != "kubernetes" or "/" not in module:
        raise ValueError(f"{type_token} is not a Kubernetes object type (kubernetes:<group>/<version>:<Kind>)")
    group, version = module.rsplit("/", 1)
    kind = kind.removesuffix("Patch")
    return (version if group == "core" else f"{group}/{version}"), kind


def autoname(resource_name: str) -> str:
    """The name the provider gives an object without metadata.name: `<resource name>-<8 hex>`."""
    return f"{resource_name}-{hex_of(resource_name, 8)}"


def object_name(resource_name: str, inputs: dict[str, Any]) -> str:
    return str((inputs.get("metadata") or {}).get("name") or autoname(resource_name))


def object_namespace(
    kind: str, inputs: dict[str, Any], default_namespace: str, cluster_scoped: frozenset[str] = CLUSTER_SCOPED_KINDS
) -> str | None:
    """The namespace an object lands in, or None for a cluster-scoped kind."""
    if kind in cluster_scoped:
        return None
    return str((inputs.get("metadata") or {}).get("namespace") or default_namespace or PROVIDER_DEFAULT_NAMESPACE)


def kubernetes_object(type_token: str):
    """Builder for a `kubernetes:<group>/<version>:<Kind>` object; `owner` is the provider's namespace."""
    _, kind = api_version_and_kind(type_token)

    def build(name: str, inputs: dict[str, Any], region: str, owner: str) -> tuple[str, dict[str, Any]]:
        metadata = dict(inputs.get("metadata") or {})
        object_name_ = object_name(name, inputs)
        if "name" not in metadata:
            metadata["annotations"] = {**(metadata.get("annotations") or {}), AUTONAMED_ANNOTATION: "true"}
        namespace = object_namespace(kind, inputs, owner)
        metadata.update(
            name=object_name_,
            uid=uuid_of(f"{type_token}/{name}"),
            # The API server's etcd revision: an opaque decimal string.
            resourceVersion=str(int(digest(type_token, name)[:6], 16)),
            creationTimestamp=CREATED_AT,
        )
        if namespace is not None:
            metadata["namespace"] = namespace
        resource_id = object_name_ if namespace is None else f"{namespace}/{object_name_}"
        return resource_id, {"metadata": metadata}

    return build


def helm_release(name: str, inputs: dict[str, Any], region: str, owner: str) -> tuple[str, dict[str, Any]]:
    """A `helm.sh/v3:Release`: its `status` is what callers read (release name, namespace, revision)."""
    release = str(inputs.get("name") or autoname(name))
    namespace = str(inputs.get("namespace") or owner or PROVIDER_DEFAULT_NAMESPACE)
    status = {
        "name": release,
        "namespace": namespace,
        "chart": inputs.get("chart"),
        "version": inputs.get("version"),
        "revision": 1,
        "status": "deployed",
    }
    return f"{namespace}/{release}", {"name": release, "status": {k: v for k, v in status.items() if v is not None}}


def is_object_type(type_token: str) -> bool:
    """A `kubernetes:<group>/<version>:<Kind>` type: one object the provider applies."""
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return False
    return "/" in parts[1] and not parts[1].startswith(NOT_OBJECT_MODULES)


def kubernetes_builder(type_token: str):
    """The builder for a `kubernetes:` type: Helm releases have their own; other Helm, YAML and
    kustomize types are components (no outputs of their own); everything else is one object."""
    if type_token == "kubernetes:helm.sh/v3:Release":
        return helm_release
    return kubernetes_object(type_token) if is_object_type(type_token) else None
