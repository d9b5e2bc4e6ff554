"""Reads over a plan's inventory for tools/architecture.py: lookups by type, parent and
dependency, and the few rules that join one resource to another (a Kubernetes object's
cluster, a node group a pod may land on)."""

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from typing import Any

from tools.architecture_model import CLUSTER_TYPES, Resource

# Managed node groups spell taint effects in the API's enum; pods tolerate the Kubernetes spelling.
TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


def cloud_of(type_token: str) -> str:
    """`aws`, `gcp`, `cloudflare`, `kubernetes`, `platform`…: the package of a type token."""
    return type_token.split(":", 1)[0]


def value(resource: Resource, key: str) -> Any:
    """A property as the provider reports it: a computed output first, else the input."""
    outputs = resource.get("outputs") or {}
    return outputs[key] if key in outputs else (resource.get("inputs") or {}).get(key)


class Resources:
    """The inventory's resources, indexed by URN, type and parent."""

    def __init__(self, inventory: Mapping[str, Any]):
        self.all: list[Resource] = list(inventory.get("resources", []))
        self.by_urn: dict[str, Resource] = {r["urn"]: r for r in self.all}
        self._by_type: dict[str, list[Resource]] = defaultdict(list)
        self._children: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.all:
            self._by_type[resource["type"]].append(resource)
            if resource.get("parent"):
                self._children[resource["parent"]].append(resource)

    def of_type(self, *type_tokens: str) -> list[Resource]:
        return [r for token in type_tokens for r in self._by_type.get(token, [])]

    def children(self, resource: Resource) -> list[Resource]:
        return self._children.get(resource["urn"], [])

    def descendants(self, resource: Resource) -> list[Resource]:
        found, queue = [], deque(self.children(resource))
        while queue:
            child = queue.popleft()
            found.append(child)
            queue.extend(self.children(child))
        return found

    def dependencies(self, resource: Resource) -> list[Resource]:
        return [self.by_urn[u] for u in resource.get("dependencies", []) if u in self.by_urn]

    def cluster_of(self, resource: Resource) -> Resource | None:
        """The EKS or GKE cluster a Kubernetes object is applied to: the one its provider's kubeconfig names."""
        provider = self.by_urn.get(resource.get("provider") or "")
        if provider is None or not provider["type"].startswith("pulumi:providers:kubernetes"):
            return None
        return next((d for d in self.dependencies(provider) if d["type"] in CLUSTER_TYPES.values()), None)

    def component_cluster(self, component: Resource) -> Resource | None:
        """The cluster a component's Kubernetes objects are applied to (None: not a Kubernetes component)."""
        return next((c for c in map(self.cluster_of, self.descendants(component)) if c is not None), None)

    def depends_on_any(self, resources: Iterable[Resource], targets: Iterable[Resource]) -> list[Resource]:
        """Those of `targets` that any of `resources` names as a dependency."""
        wanted = {t["urn"]: t for t in targets}
        named = {u for r in resources for u in r.get("dependencies", [])}
        return [wanted[u] for u in wanted if u in named]

    def reach(self, start: Resource, type_token: str, max_hops: int = 4) -> tuple[Resource, list[Resource]] | None:
        """The first resource of `type_token` that `start` depends on, following dependencies up to
        `max_hops` deep, with the resources passed on the way (nearest first)."""
        queue: deque[tuple[Resource, list[Resource]]] = deque([(start, [])])
        seen = {start["urn"]}
        while queue:
            resource, path = queue.popleft()
            for dependency in self.dependencies(resource):
                if dependency["urn"] in seen:
                    continue
                seen.add(dependency["urn"])
                if dependency["type"] == type_token:
                    return dependency, path
                if len(path) + 1 < max_hops:
                    queue.append((dependency, [*path, dependency]))
        return None


def node_labels_and_taints(pool: Resource) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A node group's (EKS) or node pool's (GKE) node labels and taints, taints in Kubernetes spelling."""
    inputs = pool.get("inputs") or {}
    config = inputs.get("nodeConfig") or inputs
    taints = [
        {"key": t.get("key", ""), "value": t.get("value", ""), "effect": TAINT_EFFECTS.get(t.get("effect", ""), "")}
        for t in config.get("taints") or []
    ]
    return dict(config.get("labels") or {}), taints


def tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, str]) -> bool:
    """Kubernetes' rule: a toleration with an empty key and `Exists` tolerates everything; `Exists`
    matches any value of its key; `Equal` (the default) matches key and value; an empty effect matches all."""
    for toleration in tolerations:
        operator = toleration.get("operator", "Equal")
        key_matches = toleration.get("key", "") == taint["key"] or (not toleration.get("key") and operator == "Exists")
        value_matches = operator == "Exists" or toleration.get("value", "") == taint["value"]
        effect_matches = not toleration.get("effect") or toleration["effect"] == taint["effect"]
        if key_matches and value_matches and effect_matches:
            return True
    return False


def schedulable_on(pod_spec: Mapping[str, Any], pool: Resource) -> bool:
    """Whether a pod of `pod_spec` may land on `pool`'s nodes: its nodeSelector is among the nodes'
    labels and it tolerates every NoSchedule/NoExecute taint they carry."""
    labels, taints = node_labels_and_taints(pool)
    selector = pod_spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    blocking = [t for t in taints if t["effect"] in ("NoSchedule", "NoExecute")]
    return all(tolerates(pod_spec.get("tolerations") or [], t) for t in blocking)
