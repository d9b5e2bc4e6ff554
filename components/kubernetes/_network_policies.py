"""The two NetworkPolicy specs every namespace the platform locks down starts from (the
logging stack's, the backup jobs'); each adds the allows its pods need."""

from typing import Any

DNS_PORT = 53


def deny_all_but_dns() -> dict[str, dict[str, Any]]:
    """`default-deny` (every pod, both directions, until an allow admits it) and `allow-dns`
    (egress to the cluster resolver in kube-system, UDP and TCP), as specs by name."""
    return {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": protocol, "port": DNS_PORT} for protocol in ("UDP", "TCP")],
                }
            ],
        },
    }
