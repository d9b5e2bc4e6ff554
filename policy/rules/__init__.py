"""Every control of the platform's policy pack, by family.

`policy/__main__.py` serves `ALL_POLICIES` to the Pulumi engine; `policy/runner.py`
evaluates the same objects in-process over the offline synth record.
"""

from . import (
    aws_data,
    aws_eks,
    aws_network,
    aws_storage,
    cloudflare,
    gcp_data,
    gcp_gke,
    k8s_access,
    k8s_charts,
    k8s_mesh,
    k8s_scheduling,
    k8s_workloads,
    stack_hygiene,
    stack_relations,
)

RULE_MODULES = (
    aws_eks,
    aws_data,
    aws_storage,
    aws_network,
    gcp_gke,
    gcp_data,
    cloudflare,
    k8s_workloads,
    k8s_scheduling,
    k8s_access,
    k8s_charts,
    k8s_mesh,
    stack_hygiene,
    stack_relations,
)
ALL_POLICIES = [policy for module in RULE_MODULES for policy in module.POLICIES]
