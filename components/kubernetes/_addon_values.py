"""Typed Helm values of the cluster add-ons: one function per chart, built from typed inputs.

Every key exists in the pinned chart's values.yaml (the version is in `_charts.py`); a key
set to its chart default is marked so, every other value says why it differs.
"""

from typing import Any

import pulumi

LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
"""The controller's service account; its IRSA role trusts exactly this name in kube-system."""
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
"""EKS's pod identity webhook injects the role's web identity token into pods of an annotated account."""

# A restricted-profile container (Pod Security Standards): the VPA namespace enforces it.
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def vertical_pod_autoscaler_values() -> dict[str, Any]:
    """vertical-pod-autoscaler 0.11.0: the recommender only.

    Recommendation mode: VPA objects get recommendations in their status and nothing acts
    on them. The updater (evicts pods to resize them) and the admission controller
    (rewrites requests at pod creation) stay off: the email-platform ops guide runs VPA in
    Auto beside an HPA scaling on the same CPU and memory, and the two fight (VPA raises
    requests, utilisation falls, the HPA scales in, utilisation rises, ...). A later issue
    may turn them on for workloads without an HPA on those metrics.
    """
    return {
        "admissionController": {"enabled": False},  # chart default true; see above
        "updater": {"enabled": False},  # chart default true; see above
        "recommender": {
            "enabled": True,  # chart default
            # Chart default 2 replicas with leader election and a PDB (minAvailable 1): kept.
            # Requests from the chart's own commented suggestion, so the scheduler reserves
            # what the recommender's in-memory history needs; a memory limit bounds it.
            "resources": {
                "requests": {"cpu": "50m", "memory": "500Mi"},
                "limits": {"memory": "1000Mi"},
            },
        },
        # Chart default runAsNonRoot/65534, plus the RuntimeDefault seccomp profile the
        # restricted Pod Security level asks for.
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Chart default {}: the restricted level rejects a container without these.
        "containerSecurityContext": RESTRICTED_CONTAINER,
    }


def load_balancer_controller_values(
    cluster_name: str, region: str, vpc_id: pulumi.Input[str], role_arn: pulumi.Input[str], replicas: int
) -> dict[str, Any]:
    """aws-load-balancer-controller 3.5.0 for one EKS cluster."""
    return {
        # Required by the chart (`required` in deployment.yaml); also the value the
        # controller stamps as the elbv2.k8s.aws/cluster tag its IAM policy is scoped to.
        "clusterName": cluster_name,
        # Both known here: passing them keeps the controller from depending on the
        # instance metadata service from the pod network (values.yaml: "Set this manually
        # when your pods are unable to use the metadata service").
        "region": region,
        "vpcId": vpc_id,
        # Chart default 2; two so the webhooks (failure policy Fail for Ingress and
        # TargetGroupBinding validation) survive a node drain.
        "replicaCount": replicas,
        # Chart default {} (no PDB): one replica always up during voluntary disruptions.
        "podDisruptionBudget": {"maxUnavailable": 1},
        "serviceAccount": {
            "create": True,  # chart default
            # Chart default: derived from the release name. Fixed here, since the IRSA
            # role's trust policy names it.
            "name": LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
            "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
        },
        # Chart default false (the chart then signs its webhook certificate with genCA at
        # every render: a new CA and key on every `pulumi up` under helm.v4.Chart, and on
        # every GitOps render). cert-manager issues and renews it instead, and its CA
        # injector fills the webhooks' caBundle.
        "enableCertManager": True,
        # Chart default true: a mutating webhook with failure policy Fail on every Service
        # CREATE in the cluster, so while the controller is down no Service can be created
        # (other charts' included). Our load balancer Services name
        # `loadBalancerClass: service.k8s.aws/nlb` themselves instead.
        "enableServiceMutatorWebhook": False,
        # Chart default instance; values.yaml: "ip" for ENI-based CNIs such as the Amazon
        # VPC CNI, which EKS runs: traffic goes straight to pod IPs, no NodePort hop.
        "defaultTargetType": "ip",
        # Chart default (unset) means true: WAF Classic, which AWS has retired. WAFv2 and
        # Shield stay at their defaults (on). The IAM policy leaves out waf-regional.
        "enableWaf": False,
    }


def metrics_server_values(replicas: int) -> dict[str, Any]:
    """metrics-server 3.13.1, highly available: HPAs (and VPA) read the metrics API."""
    return {
        # Chart default 1: with one replica every rollout or node drain leaves HPAs blind.
        # metrics-server's high-availability manifest (README, "High Availability") runs 2
        # replicas, a PDB of minAvailable 1 and anti-affinity on the node.
        "replicas": replicas,
        # Chart default disabled.
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        # Chart default {}. Preferred rather than the manifest's required anti-affinity, so
        # a node group scaled to one node still runs both replicas.
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "metrics-server"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
    }
