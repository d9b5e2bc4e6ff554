"""The Kubernetes objects a stack registers, as its providers would apply them.

`collect(result_or_inventory)` groups every `kubernetes:<group>/<version>:<Kind>`
registration by cluster and turns it into the manifest the provider applies: `apiVersion`
and `kind` from the type token, the registration's inputs (metadata, spec, rules, data...)
without Pulumi-only keys, the name the provider gives an auto-named object, and the
namespace a namespaced object lands in. Helm registrations (`kubernetes:helm.sh/*`) are
not rendered here (their objects come from the chart at apply time); they are listed as
charts. `write(clusters, out_dir)` writes one YAML document per object to
`<out_dir>/<cluster>/<namespace or _cluster>/<kind>-<name>.yaml`.

A cluster is named by its Kubernetes provider's resource name without the trailing `-k8s`
(`heal7-prod-eks-k8s` -> `heal7-prod-eks`). Its Kubernetes version (the minor the objects
are validated against) is the EKS cluster's `version`. A GKE cluster on a release channel
has no version in the stack file (Google picks it within the channel), so it takes the
`minMasterVersion` it registers when it has one, else the stack's EKS version: the
platform keeps both clusters on one minor so the same objects apply to both.
"""

import re
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stacks.config.aws_models import DEFAULT_EKS_VERSION
from tools.inventory import mask_secrets
from tools.mock_kubernetes_resources import (
    AUTONAMED_ANNOTATION,
    CLUSTER_SCOPED_KINDS,
    api_version_and_kind,
    autoname,
    is_object_type,
    object_namespace,
)
from tools.synth import SynthResult

PROVIDER_TYPE = "pulumi:providers:kubernetes"
HELM_PREFIX = "kubernetes:helm.sh/"
CLUSTER_SUFFIX = "-k8s"
CLUSTER_SCOPED_DIR = "_cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
# Custom kinds the charts' own CRDs declare cluster-scoped. The charts' CRDs render inside
# the provider, so the program's registrations cannot show their scope (cert-manager
# v1.21.1 ClusterIssuer; External Secrets 2.9.0 ClusterSecretStore, ClusterExternalSecret).
CHART_CLUSTER_SCOPED_KINDS = frozenset({"ClusterIssuer", "ClusterSecretStore", "ClusterExternalSecret"})
CHARTS_DIR = "charts"


@dataclass(frozen=True)
class _Entry:
    """One registration, from a SynthResult or an inventory (which has no outputs)."""

    type: str
    name: str
    urn: str
    custom: bool
    provider: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    references: tuple[str, ...]
    """URNs it depends on, through options or properties."""


@dataclass(frozen=True)
class KubernetesObject:
    cluster: str
    urn: str
    manifest: dict[str, Any]
    patch: bool = False
    """A `...Patch` type: a server-side apply patch of an object something else owns."""

    @property
    def api_version(self) -> str:
        return self.manifest["apiVersion"]

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def name(self) -> str:
        return self.manifest["metadata"]["name"]

    @property
    def namespace(self) -> str | None:
        return self.manifest["metadata"].get("namespace")

    @property
    def path(self) -> Path:
        """`<namespace or _cluster>/<kind>-<name>.yaml`, relative to the cluster's directory."""
        suffix = "-patch" if self.patch else ""
        return Path(self.namespace or CLUSTER_SCOPED_DIR) / f"{self.kind.lower()}-{self.name}{suffix}.yaml"


@dataclass(frozen=True)
class HelmChart:
    cluster: str
    urn: str
    chart: str
    version: str | None
    repository: str | None
    namespace: str | None
    release: str | None = None
    """The Helm release name (the chart's `name` input)."""
    values: dict[str, Any] = field(default_factory=dict)
    """The values the program passes (secrets masked), for review beside the coordinates."""

    @property
    def path(self) -> Path:
        return Path(f"{self.release or self.chart}.yaml")

    @property
    def document(self) -> dict[str, Any]:
        return {
            "chart": self.chart,
            "version": self.version,
            "repository": self.repository,
            "namespace": self.namespace,
            "release": self.release,
            "values": _ordered(self.values),
        }


@dataclass
class ClusterManifests:
    cluster: str
    version: str
    """Kubernetes minor the objects are validated against (module docstring)."""
    objects: list[KubernetesObject] = field(default_factory=list)
    charts: list[HelmChart] = field(default_factory=list)

    @property
    def created_namespaces(self) -> list[str]:
        return sorted(o.name for o in self.objects if o.kind == "Namespace" and not o.patch)

    @property
    def namespaces(self) -> list[str]:
        """Namespaces the program creates or puts objects or charts in."""
        used = {o.namespace for o in self.objects} | {c.namespace for c in self.charts}
        return sorted({*self.created_namespaces, *(n for n in used if n)})

    @property
    def kinds(self) -> Counter[str]:
        return Counter(o.kind for o in self.objects)


def _entries(source: SynthResult | Mapping[str, Any]) -> list[_Entry]:
    if isinstance(source, SynthResult):
        return [
            _Entry(
                r.type,
                r.name,
                r.urn,
                r.custom,
                r.provider,
                mask_secrets(r.inputs),
                mask_secrets(r.outputs),
                (*r.dependencies, *(u for urns in r.property_dependencies.values() for u in urns)),
            )
            for r in source.resources
        ]
    return [
        _Entry(
            r["type"],
            r["name"],
            r["urn"],
            r["custom"],
            r.get("provider"),
            r.get("inputs") or {},
            None,
            (*r.get("dependencies", []), *(u for urns in r.get("propertyDependencies", {}).values() for u in urns)),
        )
        for r in source["resources"]
    ]


def cluster_name(provider_name: str) -> str:
    return provider_name.removesuffix(CLUSTER_SUFFIX)


def _minor(version: str) -> str:
    match = re.match(r"^(\d+\.\d+)", version)
    if match is None:
        raise ValueError(f"expected a Kubernetes version such as 1.35, got {version!r}")
    return match.group(1)


def _version(provider: _Entry, entries: list[_Entry]) -> str:
    clusters = {e.urn: e for e in entries if e.type in (EKS_CLUSTER, GKE_CLUSTER)}
    eks_versions = [
        str(e.inputs["version"]) for e in clusters.values() if e.type == EKS_CLUSTER and "version" in e.inputs
    ]
    stack_version = _minor(eks_versions[0]) if eks_versions else DEFAULT_EKS_VERSION
    name = cluster_name(provider.name)
    linked = [clusters[u] for u in provider.references if u in clusters] or [
        c for c in clusters.values() if c.name.startswith(f"{name}-")
    ]
    if not linked:
        return stack_version
    cluster = linked[0]
    if cluster.type == EKS_CLUSTER:
        return _minor(str(cluster.inputs.get("version") or stack_version))
    return _minor(str(cluster.inputs["minMasterVersion"])) if cluster.inputs.get("minMasterVersion") else stack_version


def _ordered(value: Any) -> Any:
    """Nested mappings with sorted keys, so the YAML is the same on every run; whole numbers as integers."""
    if isinstance(value, Mapping):
        return {k: _ordered(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    # The engine carries every number as a float64 (protobuf Struct); the provider sends
    # whole numbers to the API server as integers, so the manifest does too (port 5432).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _manifest(entry: _Entry, kind: str, api_version: str, default_namespace: str, cluster_scoped: frozenset[str]):
    body = {k: v for k, v in entry.inputs.items() if k not in ("apiVersion", "kind") and not k.startswith("__")}
    metadata = dict(body.pop("metadata", None) or {})
    if not metadata.get("name"):
        # Auto-named: the provider's name (the mock's outputs), as the provider annotates it.
        applied = ((entry.outputs or {}).get("metadata") or {}).get("name")
        metadata["name"] = applied or autoname(entry.name)
        metadata["annotations"] = {**(metadata.get("annotations") or {}), AUTONAMED_ANNOTATION: "true"}
    namespace = object_namespace(kind, {"metadata": metadata}, default_namespace, cluster_scoped)
    if namespace is None:
        metadata.pop("namespace", None)
    else:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": _ordered(metadata), **_ordered(body)}


def _crd_scoped_kinds(entries: list[_Entry]) -> dict[str | None, set[str]]:
    """Kinds the program's own CRDs declare cluster-scoped, by provider."""
    scoped: dict[str | None, set[str]] = {}
    for entry in entries:
        spec = entry.inputs.get("spec") or {}
        if entry.type == CRD and spec.get("scope") == "Cluster":
            scoped.setdefault(entry.provider, set()).add(str((spec.get("names") or {}).get("kind")))
    return scoped


def collect(source: SynthResult | Mapping[str, Any]) -> dict[str, ClusterManifests]:
    """Every Kubernetes object and Helm chart the stack registers, by cluster (sorted)."""
    entries = _entries(source)
    providers = {e.urn: e for e in entries if e.type == PROVIDER_TYPE}
    crd_scoped = _crd_scoped_kinds(entries)
    clusters: dict[str, ClusterManifests] = {}
    for entry in entries:
        if not entry.type.startswith("kubernetes:") or not (entry.custom or entry.type.startswith(HELM_PREFIX)):
            continue
        if not is_object_type(entry.type) and not entry.type.startswith(HELM_PREFIX):
            continue  # YAML and kustomize components: their children are the objects
        provider = providers.get(entry.provider or "")
        if provider is None:
            raise ValueError(f"{entry.urn}: no explicit Kubernetes provider; every object names its cluster's provider")
        name = cluster_name(provider.name)
        cluster = clusters.setdefault(name, ClusterManifests(name, _version(provider, entries)))
        default_namespace = str(provider.inputs.get("namespace") or "")
        if entry.type.startswith(HELM_PREFIX):
            repository = (entry.inputs.get("repositoryOpts") or {}).get("repo")
            cluster.charts.append(
                HelmChart(
                    name,
                    entry.urn,
                    str(entry.inputs.get("chart") or entry.name),
                    entry.inputs.get("version"),
                    repository,
                    entry.inputs.get("namespace") or default_namespace or None,
                    entry.inputs.get("name"),
                    entry.inputs.get("values") or {},
                )
            )
            continue
        api_version, kind = api_version_and_kind(entry.type)
        scoped = CLUSTER_SCOPED_KINDS | CHART_CLUSTER_SCOPED_KINDS | crd_scoped.get(entry.provider, set())
        manifest = _manifest(entry, kind, api_version, default_namespace, frozenset(scoped))
        cluster.objects.append(KubernetesObject(name, entry.urn, manifest, entry.type.endswith("Patch")))
    for cluster in clusters.values():
        cluster.objects.sort(key=lambda o: (str(o.path), o.urn))
        cluster.charts.sort(key=lambda c: (c.chart, c.urn))
    return dict(sorted(clusters.items()))


def write_charts(clusters: Mapping[str, ClusterManifests], out_dir: Path) -> list[Path]:
    """Each chart's pinned coordinates and values under `out_dir/<cluster>/<release>.yaml`
    (emptied first, like the manifests)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    written: list[Path] = []
    for cluster in clusters.values():
        for chart in cluster.charts:
            path = out_dir / cluster.cluster / chart.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(chart.document, sort_keys=False, default_flow_style=False))
            written.append(path)
    return written


def write(clusters: Mapping[str, ClusterManifests], out_dir: Path) -> list[Path]:
    """One YAML document per object under `out_dir/<cluster>/`; `out_dir` is emptied first so
    an object the program no longer registers leaves no file behind."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    written: list[Path] = []
    for cluster in clusters.values():
        owners: dict[Path, str] = {}
        for obj in cluster.objects:
            path = out_dir / cluster.cluster / obj.path
            if path in owners:
                raise ValueError(f"{obj.urn} and {owners[path]} are the same object {obj.path} on {cluster.cluster}")
            owners[path] = obj.urn
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(obj.manifest, sort_keys=False, default_flow_style=False))
            written.append(path)
    return written
