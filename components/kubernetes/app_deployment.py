"""AppDeployment: one workload on one cluster, with what a production workload needs.

The same component on EKS and GKE; what differs (the image's registry, the node pool's
selector and taints, where DATABASE_URL points) arrives as arguments. Objects, all named
after the workload (the HEAL7 design's names: `heal7-web-main`):

- ServiceAccount: no token mounted; cloud identity annotations only when given.
- ExternalSecret: the workload's secret environment (DATABASE_URL, REDIS_URL) synced from
  the cloud secret store into a Secret the pod reads; never a literal, never base64 in a
  manifest (the email-platform ops guide's secrets.yaml is the anti-example).
- Deployment: rolling update with maxSurge 1 / maxUnavailable 0 (the HEAL7 design), the
  hardened pod of `_app_specs.pod_template`, image pinned by digest. With a `delivery`
  (canary or blueGreen) an Argo Rollout with the same pod template takes its place, with its
  AnalysisTemplate (components/kubernetes/_rollout_specs.py; the controller is
  ProgressiveDelivery's).
- Service (ClusterIP, port named `http` for the mesh), PodDisruptionBudget, HPA (CPU 70 %,
  memory 80 %, requests_per_second 100 per pod), VPA in recommendation mode, and the
  DestinationRule of its Service. The HPA and VPA target the Rollout when there is one; the
  PDB selects its pods (every version's: the label `app` is on all of them).
- canary: the mesh VirtualService of the Service host (`primary` route over the `stable` and
  `canary` subsets the DestinationRule gains). blueGreen: a preview Service beside the
  active one.

The controller rewrites parts of these objects during a rollout; Pulumi ignores exactly
those parts, or the next `pulumi up` would undo a rollout in flight (or fail on a field
another manager owns under server-side apply):
- VirtualService `spec.http`: the route weights, and the header route the controller adds
  and removes (all inside one list, which Kubernetes applies as a whole).
- DestinationRule `spec.subsets`: each subset's labels gain its ReplicaSet's
  `rollouts-pod-template-hash`; `trafficPolicy` stays Pulumi's.
- blueGreen Services `spec.selector`: the controller adds the hash of the version each
  serves (the selector is an atomic map).
The cost: a later change of the workload's port does not reach an existing VirtualService's
routes; replace it (`pulumi up --replace <urn>`) with the port change.

Edge traffic: Istio applies only the gateway-bound VirtualServices to requests from the
front door, so for a canary workload the gateway's route hands the workload's paths to a
delegate VirtualService in the workload's namespace (`<workload>-edge`, no hosts). The
Rollout steers both that delegate and the mesh VirtualService: edge and mesh requests
follow the same weights and the same `canary: true` header route.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes._app_specs import (
    Autoscaling,
    PodSettings,
    destination_rule_spec,
    hpa_spec,
    pod_labels,
    pod_template,
    vpa_spec,
)
from components.kubernetes._external_secrets_models import API_VERSION as EXTERNAL_SECRETS_API
from components.kubernetes._external_secrets_models import ExternalSecretSpec, SecretKeyRef
from components.kubernetes._rollout_specs import (
    ROLLOUTS_API,
    Delivery,
    analysis_template_name,
    analysis_template_spec,
    canary_subsets,
    edge_virtual_service_name,
    edge_virtual_service_spec,
    mesh_virtual_service_spec,
    preview_service_name,
    rollout_spec,
)

NETWORKING_API = "networking.istio.io/v1"
VPA_API = "autoscaling.k8s.io/v1"
# What the Argo Rollouts controller rewrites during a rollout (module docstring).
ROLLOUT_MANAGED_ROUTES = ["spec.http"]
ROLLOUT_MANAGED_SUBSETS = ["spec.subsets"]
ROLLOUT_MANAGED_SELECTOR = ["spec.selector"]


@dataclass
class AppDeploymentArgs:
    """Inputs of AppDeployment. Defaults: no secrets, no cloud identity, a recommending VPA, a
    rolling Deployment."""

    name: str
    """Required: the workload's Kubernetes name (Deployment or Rollout, Service, HPA, ServiceAccount)."""
    namespace: pulumi.Input[str]
    """Required: its namespace (a WorkloadNamespace's, so it exists first)."""
    image: pulumi.Input[str]
    """Required: the image pinned by digest (`<registry>/<repository>@sha256:...`)."""
    pod: PodSettings
    """Required: port, resources, probes, placement and environment."""
    autoscaling: Autoscaling
    """Required: the HPA's bounds and targets."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Secret environment: variable name -> the key in the cloud secret store. Default none."""
    secret_store: pulumi.Input[str] | None = None
    """The ClusterSecretStore the ExternalSecret reads; required with `secrets`. Default None."""
    ca_certificates: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """CA files the pods need (file name -> PEM, public certificates), mounted read-only at
    `_app_specs.CA_DIRECTORY` from a ConfigMap: the servers the secret URLs name. Default none."""
    service_account_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Cloud identity (IRSA role ARN, Workload Identity account); only for workloads that call a cloud API.
    Default none."""
    vpa: bool = True
    """Create a VerticalPodAutoscaler in recommendation mode. Default true (needs the VPA CRDs)."""
    gateway_namespace: str = "istio-ingress"
    """The ingress gateway's namespace: a canary workload's edge VirtualService is exported there. Default
    istio-ingress."""
    delivery: Delivery | None = None
    """Progressive delivery: an Argo Rollout (canary or blueGreen) instead of the Deployment. Default
    None: the Deployment's rolling update. Needs the Argo Rollouts CRDs and controller in `after`."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must exist first (the mesh's injector, the add-ons' CRDs, the Rollouts controller). Default none."""


class AppDeployment(pulumi.ComponentResource):
    workload: pulumi.CustomResource
    """The Deployment, or the Rollout when `delivery` is set."""

    def __init__(self, name: str, args: AppDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        if args.secrets and args.secret_store is None:
            raise ValueError(f"AppDeployment {name}: secrets need a secret_store")
        if not 1 <= args.autoscaling.min_replicas <= args.autoscaling.max_replicas:
            raise ValueError(f"AppDeployment {name}: expected 1 <= min_replicas <= max_replicas")
        if args.delivery is not None and (problems := args.delivery.problems()):
            raise ValueError(f"AppDeployment {name}: delivery: {'; '.join(problems)}")
        super().__init__("platform:kubernetes:AppDeployment", name, None, opts)
        after = pulumi.ResourceOptions(parent=self, depends_on=args.after)
        workload, namespace, delivery = args.name, args.namespace, args.delivery
        labels = pod_labels(workload)

        def metadata(
            annotations: dict[str, pulumi.Input[str]] | None = None, object_name: str = workload
        ) -> kubernetes.meta.v1.ObjectMetaArgs:
            return kubernetes.meta.v1.ObjectMetaArgs(
                name=object_name, namespace=namespace, labels=labels, annotations=annotations or None
            )

        def ignoring(paths: list[str] | None) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=args.after, ignore_changes=paths)

        account = kubernetes.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=metadata(args.service_account_annotations),
            automount_service_account_token=False,
            opts=after,
        )
        waits: list[pulumi.Resource] = [account]
        secret_name = f"{workload}-env" if args.secrets else None
        if args.secrets and secret_name is not None:
            store = pulumi.Output.from_input(args.secret_store)
            waits.append(
                kubernetes.apiextensions.CustomResource(
                    f"{name}-secrets",
                    api_version=EXTERNAL_SECRETS_API,
                    kind="ExternalSecret",
                    metadata=kubernetes.meta.v1.ObjectMetaArgs(name=secret_name, namespace=namespace),
                    spec=store.apply(
                        lambda store_name: ExternalSecretSpec(
                            store_name=str(store_name),
                            target_secret=secret_name,
                            data=tuple(
                                SecretKeyRef(secret_key=variable, remote_key=remote)
                                for variable, remote in sorted(args.secrets.items())
                            ),
                        ).manifest()
                    ),
                    opts=after,
                )
            )

        ca_configmap = f"{workload}-ca" if args.ca_certificates else None
        if ca_configmap is not None:
            # Public CA certificates, not secrets: a ConfigMap, which the pods mount read-only.
            waits.append(
                kubernetes.core.v1.ConfigMap(
                    f"{name}-ca",
                    metadata=metadata(object_name=ca_configmap),
                    data=dict(args.ca_certificates),
                    opts=after,
                )
            )
        pod = PodSettings(**{**args.pod.__dict__, "secret_env": tuple(sorted(args.secrets))})
        template = pulumi.Output.from_input(args.image).apply(
            lambda image: pod_template(workload, image, workload, secret_name, pod, ca_configmap)
        )
        # blueGreen: the controller points both Services at a version by its hash.
        blue_green = delivery is not None and delivery.strategy == "blueGreen"
        services = [workload, preview_service_name(workload)] if blue_green else [workload]
        for service in services:
            role = "service" if service == workload else "preview-service"
            waits.append(
                kubernetes.core.v1.Service(
                    f"{name}-{role}",
                    metadata=metadata(object_name=service),
                    spec=kubernetes.core.v1.ServiceSpecArgs(
                        type="ClusterIP",
                        selector=labels,
                        # `http`: the mesh treats the port as HTTP (Istio's protocol selection by name).
                        ports=[
                            kubernetes.core.v1.ServicePortArgs(
                                name="http", port=args.pod.port, target_port="http", protocol="TCP"
                            )
                        ],
                    ),
                    opts=ignoring(ROLLOUT_MANAGED_SELECTOR if blue_green else None),
                )
            )
        host = pulumi.Output.from_input(namespace).apply(lambda ns: f"{workload}.{ns}.svc.cluster.local")
        canary = delivery is not None and delivery.strategy == "canary"
        destination_rule = kubernetes.apiextensions.CustomResource(
            f"{name}-destination-rule",
            api_version=NETWORKING_API,
            kind="DestinationRule",
            metadata=metadata(),
            spec=host.apply(
                lambda h: (
                    {**destination_rule_spec(h), "subsets": canary_subsets(labels)}
                    if canary
                    else destination_rule_spec(h)
                )
            ),
            opts=ignoring(ROLLOUT_MANAGED_SUBSETS if canary else None),
        )

        if delivery is None:
            self.workload = kubernetes.apps.v1.Deployment(
                f"{name}-deployment",
                metadata=metadata(),
                spec=cast(
                    Any,
                    {
                        # No `replicas`: the HPA owns the count (a value here would fight it at every up).
                        "selector": {"matchLabels": labels},
                        # The HEAL7 design: one extra pod at a time, never one fewer than wanted.
                        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                        "template": template,
                    },
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.after, *waits]),
            )
            target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload}
        else:
            self.workload = self._rollout(name, args, delivery, template, metadata, [*waits, destination_rule])
            target = {"apiVersion": ROLLOUTS_API, "kind": "Rollout", "name": workload}

        # One pod at a time may go in a drain; with min_replicas 1 a drain still proceeds
        # (maxUnavailable, not minAvailable, which would block it forever).
        kubernetes.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=metadata(),
            spec=kubernetes.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=kubernetes.meta.v1.LabelSelectorArgs(match_labels=labels),
            ),
            opts=after,
        )
        kubernetes.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=metadata(),
            spec=cast(Any, hpa_spec(target, args.autoscaling)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.workload]),
        )
        if args.vpa:
            kubernetes.apiextensions.CustomResource(
                f"{name}-vpa",
                api_version=VPA_API,
                kind="VerticalPodAutoscaler",
                metadata=metadata(),
                spec=vpa_spec(target),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.after, self.workload]),
            )
        self.register_outputs({"workload": self.workload.urn})

    def _rollout(
        self,
        name: str,
        args: AppDeploymentArgs,
        delivery: Delivery,
        template: pulumi.Output[dict],
        metadata: Callable[..., kubernetes.meta.v1.ObjectMetaArgs],
        waits: list[pulumi.Resource],
    ) -> kubernetes.apiextensions.CustomResource:
        """The Rollout, its AnalysisTemplate and (canary) the mesh VirtualService it steers."""
        workload, namespace = args.name, pulumi.Output.from_input(args.namespace)
        analysis = kubernetes.apiextensions.CustomResource(
            f"{name}-analysis",
            api_version=ROLLOUTS_API,
            kind="AnalysisTemplate",
            metadata=metadata(object_name=analysis_template_name(workload)),
            spec=namespace.apply(lambda ns: analysis_template_spec(workload, ns, delivery)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.after),
        )
        waits = [*waits, analysis]
        if delivery.strategy == "canary":
            host = namespace.apply(lambda ns: f"{workload}.{ns}.svc.cluster.local")
            routes = {
                "virtual-service": (workload, host.apply(lambda h: mesh_virtual_service_spec(h, args.pod.port))),
                "edge-virtual-service": (
                    edge_virtual_service_name(workload),
                    host.apply(lambda h: edge_virtual_service_spec(h, args.pod.port, args.gateway_namespace)),
                ),
            }
            for role, (object_name, spec) in routes.items():
                waits.append(
                    kubernetes.apiextensions.CustomResource(
                        f"{name}-{role}",
                        api_version=NETWORKING_API,
                        kind="VirtualService",
                        metadata=metadata(object_name=object_name),
                        spec=spec,
                        opts=pulumi.ResourceOptions(
                            parent=self, depends_on=args.after, ignore_changes=ROLLOUT_MANAGED_ROUTES
                        ),
                    )
                )
        # The Rollout last: the controller validates the routes, subsets, Services and
        # template it names as soon as it sees it.
        return kubernetes.apiextensions.CustomResource(
            f"{name}-rollout",
            api_version=ROLLOUTS_API,
            kind="Rollout",
            metadata=metadata(),
            spec=template.apply(lambda t: rollout_spec(workload, t, pod_labels(workload), delivery)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.after, *waits]),
        )
