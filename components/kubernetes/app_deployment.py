"""AppDeployment: one workload on one cluster, with what a production workload needs.

The same component on EKS and GKE; what differs (the image's registry, the node pool's
selector and taints, where DATABASE_URL points) arrives as arguments. Objects, all named
after the workload (the HEAL7 design's names: `heal7-web-main`):

- ServiceAccount: no token mounted; cloud identity annotations only when given.
- ExternalSecret: the workload's secret environment (DATABASE_URL, REDIS_URL) synced from
  the cloud secret store into a Secret the pod reads; never a literal, never base64 in a
  manifest (the email-platform ops guide's secrets.yaml is the anti-example).
- Deployment: rolling update with maxSurge 1 / maxUnavailable 0 (the HEAL7 design), the
  hardened pod of `_app_specs.pod_template`, image pinned by digest.
- Service (ClusterIP, port named `http` for the mesh), PodDisruptionBudget, HPA (CPU 70 %,
  memory 80 %, requests_per_second 100 per pod), VPA in recommendation mode, and the
  DestinationRule of its Service.
"""

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

NETWORKING_API = "networking.istio.io/v1"
VPA_API = "autoscaling.k8s.io/v1"


@dataclass
class AppDeploymentArgs:
    """Inputs of AppDeployment. Defaults: no secrets, no cloud identity, a recommending VPA."""

    name: str
    """Required: the workload's Kubernetes name (Deployment, Service, HPA, ServiceAccount)."""
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
    service_account_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Cloud identity (IRSA role ARN, Workload Identity account); only for workloads that call a cloud API.
    Default none."""
    vpa: bool = True
    """Create a VerticalPodAutoscaler in recommendation mode. Default true (needs the VPA CRDs)."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must exist first (the mesh's injector, the add-ons' CRDs). Default none."""


class AppDeployment(pulumi.ComponentResource):
    deployment: kubernetes.apps.v1.Deployment

    def __init__(self, name: str, args: AppDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        if args.secrets and args.secret_store is None:
            raise ValueError(f"AppDeployment {name}: secrets need a secret_store")
        if not 1 <= args.autoscaling.min_replicas <= args.autoscaling.max_replicas:
            raise ValueError(f"AppDeployment {name}: expected 1 <= min_replicas <= max_replicas")
        super().__init__("platform:kubernetes:AppDeployment", name, None, opts)
        after = pulumi.ResourceOptions(parent=self, depends_on=args.after)
        workload, namespace = args.name, args.namespace

        def metadata(annotations: dict[str, pulumi.Input[str]] | None = None) -> kubernetes.meta.v1.ObjectMetaArgs:
            return kubernetes.meta.v1.ObjectMetaArgs(
                name=workload, namespace=namespace, labels=pod_labels(workload), annotations=annotations or None
            )

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

        pod = PodSettings(**{**args.pod.__dict__, "secret_env": tuple(sorted(args.secrets))})
        template = pulumi.Output.from_input(args.image).apply(
            lambda image: pod_template(workload, image, workload, secret_name, pod)
        )
        self.deployment = kubernetes.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(),
            spec=cast(
                Any,
                {
                    # No `replicas`: the HPA owns the count (a value here would fight it at every up).
                    "selector": {"matchLabels": pod_labels(workload)},
                    # The HEAL7 design: one extra pod at a time, never one fewer than wanted.
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                    "template": template,
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.after, *waits]),
        )
        target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload}

        kubernetes.core.v1.Service(
            f"{name}-service",
            metadata=metadata(),
            spec=kubernetes.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=pod_labels(workload),
                # `http`: the mesh treats the port as HTTP (Istio's protocol selection by name).
                ports=[
                    kubernetes.core.v1.ServicePortArgs(
                        name="http", port=args.pod.port, target_port="http", protocol="TCP"
                    )
                ],
            ),
            opts=after,
        )
        # One pod at a time may go in a drain; with min_replicas 1 a drain still proceeds
        # (maxUnavailable, not minAvailable, which would block it forever).
        kubernetes.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=metadata(),
            spec=kubernetes.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=kubernetes.meta.v1.LabelSelectorArgs(match_labels=pod_labels(workload)),
            ),
            opts=after,
        )
        kubernetes.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=metadata(),
            spec=cast(Any, hpa_spec(target, args.autoscaling)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment]),
        )
        if args.vpa:
            kubernetes.apiextensions.CustomResource(
                f"{name}-vpa",
                api_version=VPA_API,
                kind="VerticalPodAutoscaler",
                metadata=metadata(),
                spec=vpa_spec(target),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.after, self.deployment]),
            )
        host = pulumi.Output.from_input(namespace).apply(lambda ns: f"{workload}.{ns}.svc.cluster.local")
        kubernetes.apiextensions.CustomResource(
            f"{name}-destination-rule",
            api_version=NETWORKING_API,
            kind="DestinationRule",
            metadata=metadata(),
            spec=host.apply(destination_rule_spec),
            opts=after,
        )
        self.register_outputs({"deployment": self.deployment.metadata.name})
