"""The kubeconfig of a GKE cluster: the endpoint, its CA, and gke-gcloud-auth-plugin for
credentials (nothing static in it)."""

import yaml


def gke_kubeconfig(cluster_name: str, endpoint: str, ca_certificate: str, region: str) -> str:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin: no static credentials."""
    context = f"gke_{region}_{cluster_name}"
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": context,
                    "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca_certificate},
                }
            ],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
            "users": [
                {
                    "name": context,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "gke-gcloud-auth-plugin",
                            "provideClusterInfo": True,
                            "interactiveMode": "Never",
                            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
                        }
                    },
                }
            ],
        },
        sort_keys=False,
    )
