"""The mesh's config inside `platform:kubernetes`: the calls between workloads a namespace
admits, and the ingress routes per hostname.

The routes are the HEAL7 design's VirtualService (heal7-istio-gateway.yaml): `/api/` to the
API gateway, `/` to the web app, per hostname. They name workloads of `platform:workloads`
by `<namespace>/<name>` (the workload's Service); a route to a workload that does not run on
a cluster serving the hostname is refused.
"""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from stacks.config.cloudflare_models import AWS_POOL, GCP_POOL, CloudflareConfig, Hostname
from stacks.config.types import Section, StrictInt, unique

# A Service or service-account name: a DNS label (Kubernetes' rule for Services).
ObjectName = Annotated[str, StringConstraints(max_length=63, pattern=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")]
ServiceRef = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?/[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# A URI prefix Istio matches literally: a leading slash, no query, no spaces.
PathPrefix = Annotated[str, StringConstraints(max_length=200, pattern=r"^/[A-Za-z0-9._~/-]*$")]
# The pool of a hostname's load balancer decides which cluster's gateway serves it.
CLUSTER_OF_POOL = {AWS_POOL: "eks", GCP_POOL: "gke"}


class MeshCallerConfig(Section):
    """A workload allowed to call into the namespace through the mesh."""

    namespace: ObjectName = Field(description="The caller's namespace (a workload namespace).")
    service_account: ObjectName = Field(description="The caller's service account.")
    methods: Annotated[list[HttpMethod], unique("methods")] = Field(
        default=[], description="HTTP methods it may use; empty: any (default)."
    )


class RouteConfig(Section):
    """One path prefix of a hostname, sent to one declared Service."""

    path_prefix: PathPrefix = Field(description="The URI prefix it matches (`/api/`, `/`).")
    service: ServiceRef = Field(description="`<namespace>/<workload>`: a workload of platform:workloads (its Service).")


class IngressConfig(Section):
    # Keys must equal platform:cloudflare.loadBalancers' (checked in ingress_problems).
    routes: dict[Hostname, Annotated[list[RouteConfig], Field(min_length=1)]] = Field(
        min_length=1, description="Hostname -> its path routes, first match wins; one entry per load-balanced hostname."
    )


def ingress_problems(
    ingress: IngressConfig, placements: dict[str, list[str]], cloudflare: CloudflareConfig
) -> list[str]:
    """Rules across the routes, the workloads (`<namespace>/<name>` -> the clusters it runs on)
    and the front door's hostnames."""
    key = "platform:kubernetes.ingress.routes"
    problems = []
    balanced, routed = set(cloudflare.load_balancers), set(ingress.routes)
    for hostname in sorted(balanced - routed):
        problems.append(
            f"{key}: expected routes for {hostname} (a platform:cloudflare.loadBalancers hostname), got none"
        )
    for hostname in sorted(routed - balanced):
        problems.append(
            f"{key}.{hostname}: expected a platform:cloudflare.loadBalancers hostname, got one the front door "
            "does not serve"
        )
    for hostname, routes in ingress.routes.items():
        for index, route in enumerate(routes):
            placement = placements.get(route.service)
            if placement is None:
                problems.append(
                    f"{key}.{hostname}[{index}].service: expected a workload of platform:workloads "
                    f"({', '.join(sorted(placements)) or 'none declared'}), got {route.service!r}"
                )
            elif hostname in cloudflare.load_balancers:
                missing = [c for c in clusters_serving(cloudflare, hostname) if c not in placement]
                if missing:
                    # The hostname's pools send it to that cluster's gateway: the workload must run there.
                    problems.append(
                        f"{key}.{hostname}[{index}].service: {route.service} runs on {', '.join(placement)}, but "
                        f"{hostname}'s pools also send it to {', '.join(missing)}"
                    )
            earlier = next((r for r in routes[:index] if route.path_prefix.startswith(r.path_prefix)), None)
            if earlier is not None:
                # Istio takes the first match: this route would never be reached.
                problems.append(
                    f"{key}.{hostname}[{index}].pathPrefix: {route.path_prefix!r} is shadowed by the earlier "
                    f"prefix {earlier.path_prefix!r}; put longer prefixes first"
                )
    return problems


def clusters_serving(cloudflare: CloudflareConfig, hostname: str) -> list[str]:
    """The clusters (`eks`, `gke`) whose gateways serve a hostname: those of its load balancer's pools."""
    return [CLUSTER_OF_POOL[pool] for pool in cloudflare.load_balancers[hostname].pools]
