"""The kube-prometheus-stack chart's values (keys checked against its values.yaml at 88.5.3 and
the Grafana subchart's at 12.11.1, grafana-community/helm-charts).

What the program changes from the chart's defaults, and why:
- Prometheus selects every ServiceMonitor, PodMonitor and PrometheusRule in the cluster (the
  `*SelectorNilUsesHelmValues: false` switches), not only the release's: the exporters, the
  scrape targets and the rules are separate objects the program writes.
- The chart's own alert rules stay (the kubernetes-mixin: TargetDown, KubePodNotReady,
  KubePersistentVolumeFillingUp, Watchdog, ...), labelled `team: platform` and pointing at
  this repository's runbook page for their group (docs/runbooks/kube-prometheus.md), which
  links upstream's per-alert runbooks. The groups for control-plane components EKS and GKE
  manage (etcd, scheduler, controller manager) and kube-proxy (bound to localhost on EKS,
  absent under GKE Dataplane V2) are off with their ServiceMonitors: they could only ever
  report their targets down.
- The operator's admission webhook is served with a certificate from cert-manager (the
  chart's `admissionWebhooks.certManager`), not by the patch Jobs: those are Helm hooks, which
  helm.v4.Chart does not run. cert-manager's CA injector writes the webhooks' caBundle, so
  the component ignores that field (as for istiod).
- node-exporter runs in its own namespace: it needs the host's network, PID namespace and
  root filesystem, which Pod Security `restricted` (the monitoring namespace) forbids.
"""

from typing import Any

# The chart's rule groups that watch components the managed control planes hide or that the
# clusters do not run (see the module docstring).
UNSCRAPABLE_GROUPS = ("etcd", "kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "kubeProxy")
UNSCRAPABLE_MONITORS = ("kubeEtcd", "kubeControllerManager", "kubeScheduler", "kubeProxy")
# Every additionalRuleGroupAnnotations key an alerting rule file of the chart reads at 88.5.3
# (templates/prometheus/rules-1.14/; recording-only groups need no runbook), less the
# UNSCRAPABLE_GROUPS; each alert gets this repository's runbook page for its group.
ALERTING_GROUPS = (
    "alertmanager",
    "configReloaders",
    "general",
    "kubeApiserverSlos",
    "kubeStateMetrics",
    "kubernetesApps",
    "kubernetesResources",
    "kubernetesStorage",
    "kubernetesSystem",
    "network",
    "nodeExporterAlerting",
    "prometheus",
    "prometheusOperator",
)
# The chart's alerts the requirement documents' own replace (components/kubernetes/
# observability/alert_rules.py): one page per problem, not two.
REPLACED_ALERTS = {
    "KubePodCrashLooping": "PodCrashLooping (the HEAL7 design)",
    "NodeCPUHighUsage": "HighCPUUsage (the email-platform ops guide)",
    "NodeMemoryHighUtilization": "HighMemoryUsage (the email-platform ops guide)",
}
RUNBOOK_PAGE = "kube-prometheus.md"


def zone_spread(selector: dict[str, str]) -> list[dict[str, Any]]:
    """One replica per zone first (a zone loss leaves the others), then per node."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": topology_key,
            "whenUnsatisfiable": "DoNotSchedule" if topology_key.endswith("zone") else "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        }
        for topology_key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def _volume(storage_class: str, size_gib: int) -> dict[str, Any]:
    return {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": storage_class,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{size_gib}Gi"}},
            }
        }
    }


def prometheus_values(
    *,
    cluster: str,
    replicas: int,
    scrape_interval_seconds: int,
    retention_days: int,
    volume_size_gib: int,
    memory_gib: int,
    storage_class: str,
) -> dict[str, Any]:
    """`prometheus`: the Prometheus custom resource the operator runs."""
    interval = f"{scrape_interval_seconds}s"
    return {
        # One replica may be evicted at a time; with one replica the PDB would block drains.
        "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
        "prometheusSpec": {
            "replicas": replicas,
            # The HEAL7 design's prometheus.yml: scrape and evaluate every 15 s.
            "scrapeInterval": interval,
            "evaluationInterval": interval,
            # Every alert and every federated or remote-read series says which cluster it is from:
            # Alertmanager groups by it, and the two clusters' data sources stay apart in Grafana.
            "externalLabels": {"cluster": cluster},
            # ...and every stored series too (the default scrape class's relabeling), so queries
            # and dashboards filter by cluster on either data source. An experimental operator
            # field (v0.93.1's CRD has it); external labels alone reach only alerts and federation.
            "scrapeClasses": [
                {
                    "name": "cluster",
                    "default": True,
                    "relabelings": [{"targetLabel": "cluster", "replacement": cluster, "action": "replace"}],
                }
            ],
            "retention": f"{retention_days}d",
            # Blocks are dropped before the volume fills: a full disk stops ingestion entirely.
            "retentionSize": f"{volume_size_gib * 85 // 100}GiB",
            "storageSpec": _volume(storage_class, volume_size_gib),
            # Memory is the limit Prometheus lives by (its head block); CPU bursts on compaction.
            "resources": {
                "requests": {"cpu": "500m", "memory": f"{memory_gib}Gi"},
                "limits": {"memory": f"{memory_gib}Gi"},
            },
            "topologySpreadConstraints": zone_spread({"app.kubernetes.io/name": "prometheus"}),
            # Select every monitor and rule of the cluster (module docstring).
            "ruleSelectorNilUsesHelmValues": False,
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "podMonitorSelectorNilUsesHelmValues": False,
            "probeSelectorNilUsesHelmValues": False,
            "scrapeConfigSelectorNilUsesHelmValues": False,
        },
    }


def alertmanager_values(
    *, replicas: int, config: dict[str, Any], receivers_secret: str, storage_class: str
) -> dict[str, Any]:
    """`alertmanager`: its configuration and the Secret of receivers' credentials it mounts."""
    return {
        "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 2 if replicas > 2 else 1},
        # Rendered by the chart into the Secret the operator reads. It names the credentials by
        # file (smtp_auth_password_file, ...): their values never pass through the program.
        "config": config,
        "alertmanagerSpec": {
            "replicas": replicas,
            # Mounted at /etc/alertmanager/secrets/<name>/ (the config's *_file paths).
            "secrets": [receivers_secret],
            # Silences and the notification log survive a restart.
            "storage": _volume(storage_class, 2),
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "topologySpreadConstraints": zone_spread({"app.kubernetes.io/name": "alertmanager"}),
        },
    }


def grafana_values(*, cluster: str, admin_secret: str, peer_data_sources: list[dict[str, Any]]) -> dict[str, Any]:
    """`grafana` (the subchart): admin from the secret store, dashboards from ConfigMaps."""
    return {
        # Admin user and password from the Secret External Secrets writes; the chart's
        # default would generate one into a Secret nobody rotates.
        "admin": {"existingSecret": admin_secret, "userKey": "admin-user", "passwordKey": "admin-password"},
        # Dashboards come from ConfigMaps labelled grafana_dashboard=1 in the monitoring
        # namespace only, so no other namespace can plant one.
        "sidecar": {
            "dashboards": {"enabled": True, "searchNamespace": None, "provider": {"allowUiUpdates": False}},
            # The local Prometheus, named by its cluster beside the other cloud's (the dashboards'
            # cross-cluster panels query each by uid).
            "datasources": {"name": f"Prometheus ({cluster})", "uid": f"prometheus-{cluster}"},
        },
        "additionalDataSources": peer_data_sources,
        "grafana.ini": {
            # Nobody signs in anonymously or signs themselves up; no call home.
            "auth.anonymous": {"enabled": False},
            "users": {"allow_sign_up": False},
            "analytics": {"check_for_updates": False, "reporting_enabled": False},
        },
        # No persistent volume: dashboards and data sources are provisioned from code, so a
        # restarted Grafana comes back the same (only ad-hoc UI edits are lost, by design).
        "persistence": {"enabled": False},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        # The chart's helm-test pod: a hook helm.v4.Chart does not run.
        "testFramework": {"enabled": False},
    }


def kube_prometheus_stack_values(
    *,
    namespace: str,
    release: str,
    prometheus: dict[str, Any],
    alertmanager: dict[str, Any],
    grafana: dict[str, Any],
    platform: str,
    node_exporter_namespace: str,
    runbook_base_url: str,
) -> dict[str, Any]:
    """The whole chart's values (module docstring)."""
    return {
        # The operator's CRDs from the chart's crds subchart. They exceed the 256 KiB
        # last-applied annotation of client-side apply; pulumi-kubernetes applies them
        # server-side (its default), which has no such annotation.
        "crds": {"enabled": True},
        "defaultRules": {
            "create": True,
            "rules": dict.fromkeys(UNSCRAPABLE_GROUPS, False) | {"windows": False},
            # The chart's alerts reach the platform team's route.
            # Created once the operator runs: its admission webhook (failurePolicy Fail) checks
            # every PrometheusRule, and helm.v4.Chart would otherwise create the chart's rules
            # beside the webhook before the operator serving it is ready (pulumi-kubernetes
            # orders chart objects by this annotation).
            "annotations": {
                "config.kubernetes.io/depends-on": f"apps/namespaces/{namespace}/Deployment/{release}-operator"
            },
            "additionalRuleLabels": {"team": "platform"},
            "disabled": dict.fromkeys(REPLACED_ALERTS, True),
            "additionalRuleGroupAnnotations": {
                group: {"runbook_url": f"{runbook_base_url}/{RUNBOOK_PAGE}#{group.lower()}"}
                for group in ALERTING_GROUPS
            },
        },
        **{monitor: {"enabled": False} for monitor in UNSCRAPABLE_MONITORS},
        # The cluster DNS: CoreDNS on EKS (metrics on 9153); GKE runs kube-dns, whose metrics
        # the chart scrapes on 10054/10055 (CoreDNS's job there could only report its target down).
        "coreDns": {"enabled": platform == "eks"},
        "kubeDns": {"enabled": platform == "gke"},
        "prometheusOperator": {
            "admissionWebhooks": {
                "certManager": {"enabled": True},
                "patch": {"enabled": False},
                # A rule the webhook cannot check is refused, not admitted unchecked.
                "failurePolicy": "Fail",
            },
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        },
        "prometheus": prometheus,
        "alertmanager": alertmanager,
        "grafana": grafana,
        "prometheus-node-exporter": {
            "namespaceOverride": node_exporter_namespace,
            # `instance` is the node's name (as kube-prometheus does), so host alerts join
            # kube-state-metrics' node series and say which node to look at.
            "prometheus": {
                "monitor": {
                    "relabelings": [
                        {
                            "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                            "targetLabel": "instance",
                            "action": "replace",
                        }
                    ]
                }
            },
            "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
        },
        # One replica: two would export every series twice and double every sum over them.
        "kube-state-metrics": {
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        },
    }
