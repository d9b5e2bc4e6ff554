"""Controls on relationships between resources, which only the whole stack shows: each
bucket has its guardrails, each VPC its flow log and closed default group, each
Cloudflare zone its TLS baseline, each workload namespace a NetworkPolicy (and, when
labelled a workload namespace, a default-deny policy and the restricted Pod Security
level), and each autoscaler enough headroom for the declared throughput."""

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .framework import (
    UNKNOWN,
    Config,
    ResourceControl,
    StackControl,
    StackFinding,
    as_list,
    cis_aws,
    cis_eks,
    cloudflare_guide,
    get,
    get_or_unknown,
    known,
    requirement,
)
from .k8s_workloads import POD_SPEC_PATHS

FAMILY = "stack"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
# What each owner needs, as (what, the resource types that provide it).
BUCKET_GUARDRAILS = {
    "a public access block": ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",),
    "default encryption": (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    ),
    "versioning": ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"),
    "a TLS-only bucket policy": ("aws:s3/bucketPolicy:BucketPolicy",),
}
VPC_COMPANIONS = {
    "a flow log": ("aws:ec2/flowLog:FlowLog",),
    "an adopted, closed default security group": ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",),
}
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
THROUGHPUT_ANNOTATION = "platform.heal7.io/target-rps"
NAMESPACE = "kubernetes:core/v1:Namespace"
# The contract with the namespace component: a Namespace carrying this label with value
# "true" runs workloads, and gets the baseline below (README "Policy pack", Contracts).
WORKLOAD_LABEL = "platform.heal7.io/workload"
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def _attached(resources: list[PolicyResource], owner: PolicyResource, prop: str) -> tuple[set[str], set[str]]:
    """Types of the resources whose `prop` references `owner` (by dependency or by id), and
    the types whose reference is unknown in preview, which can be neither counted nor missed."""
    owner_ids = {owner.urn, *(get_or_unknown(owner.props, key) for key in ("id", "bucket", "arn"))}
    attached, unresolved = set(), set()
    for resource in resources:
        dependencies = [d.urn for d in resource.property_dependencies.get(prop, [])]
        if owner.urn in dependencies:
            attached.add(resource.resource_type)
            continue
        if dependencies:
            continue  # it references another resource
        reference = get_or_unknown(resource.props, prop)
        if reference is UNKNOWN:
            unresolved.add(resource.resource_type)
        elif reference is not None and reference in owner_ids:
            attached.add(resource.resource_type)
    return attached, unresolved


def _missing_companions(owner_types: tuple[str, ...], companions: dict[str, tuple[str, ...]], prop: str):
    def check(args: StackValidationArgs, _: Config) -> Iterator[StackFinding]:
        def problems(owner: PolicyResource) -> list[str]:
            attached, unresolved = _attached(args.resources, owner, prop)
            return [f"lacks {what}" for what, types in companions.items() if not set(types) & (attached | unresolved)]

        yield from known([r for r in args.resources if r.resource_type in owner_types], problems)

    return check


def _zone_baseline(args: StackValidationArgs, config: Config) -> Iterator[StackFinding]:
    settings_by_zone: dict[Any, set[str]] = defaultdict(set)
    for resource in args.resources:
        if resource.resource_type == "cloudflare:index/zoneSetting:ZoneSetting":
            zone = get_or_unknown(resource.props, "zoneId")
            settings_by_zone[zone].add(get_or_unknown(resource.props, "settingId"))

    def problems(balancer: PolicyResource) -> list[str]:
        if UNKNOWN in settings_by_zone or any(UNKNOWN in ids for ids in settings_by_zone.values()):
            return []  # a setting's zone or id is unknown in preview: nothing can be proven missing
        present = settings_by_zone[get(balancer.props, "zoneId")]
        missing = [s for s in config["requiredSettings"] if s not in present]
        return [f"its zone has no {missing} setting, so Cloudflare's permissive defaults apply"] if missing else []

    yield from known(
        [r for r in args.resources if r.resource_type == "cloudflare:index/loadBalancer:LoadBalancer"], problems
    )


def _namespaces_isolated(args: StackValidationArgs, _: Config) -> Iterator[StackFinding]:
    isolated = {
        get_or_unknown(r.props, "metadata.namespace") for r in args.resources if r.resource_type == NETWORK_POLICY
    }

    def problems(workload: PolicyResource) -> list[str]:
        namespace = get(workload.props, "metadata.namespace") or "default"
        if namespace in isolated or UNKNOWN in isolated:
            return []
        return [f"namespace {namespace!r} has no NetworkPolicy"]

    yield from known([r for r in args.resources if r.resource_type in POD_SPEC_PATHS], problems)


def _default_deny(policy: PolicyResource) -> bool:
    """podSelector {} (every pod), both policy types, and no rule: nothing in, nothing out."""
    selector = get(policy.props, "spec.podSelector")
    selects_all = selector is not None and not get(selector, "matchLabels") and not get(selector, "matchExpressions")
    types = set(as_list(get(policy.props, "spec.policyTypes")))
    rules = as_list(get(policy.props, "spec.ingress")) + as_list(get(policy.props, "spec.egress"))
    return selects_all and {"Ingress", "Egress"} <= types and not rules


def provider_urn(resource: PolicyResource) -> str | None:
    """The cluster a Kubernetes resource belongs to: its provider's URN (None: the default provider)."""
    return resource.provider.urn if resource.provider else None


def _workload_namespace_baseline(args: StackValidationArgs, config: Config) -> Iterator[StackFinding]:
    # Default-deny policies by cluster (the provider) and namespace; a cluster where any
    # policy's namespace or spec is unknown in preview can prove nothing missing.
    denied: dict[str | None, set[Any]] = defaultdict(set)
    unresolved: set[str | None] = set()
    for policy in (r for r in args.resources if r.resource_type == NETWORK_POLICY):
        try:
            if _default_deny(policy):
                denied[provider_urn(policy)].add(get(policy.props, "metadata.namespace"))
        except UnknownValueError:
            unresolved.add(provider_urn(policy))

    def problems(namespace: PolicyResource) -> list[str]:
        labels = get(namespace.props, "metadata.labels") or {}
        if labels.get(WORKLOAD_LABEL) != "true":
            return []
        name = get(namespace.props, "metadata.name")
        found = []
        level = labels.get(ENFORCE_LABEL)
        lower_allowed = name in config["belowRestricted"] and level in ("baseline", "privileged")
        if level != "restricted" and not lower_allowed:
            found.append(
                f"workload namespace {name!r} enforces Pod Security {level or 'nothing (privileged)'}, not "
                f"restricted (metadata.labels {ENFORCE_LABEL})"
            )
        cluster = provider_urn(namespace)
        if cluster not in unresolved and name not in denied[cluster]:
            found.append(
                f"workload namespace {name!r} has no default-deny NetworkPolicy (podSelector {{}}, policyTypes "
                "Ingress and Egress, no rules)"
            )
        return found

    yield from known([r for r in args.resources if r.resource_type == NAMESPACE], problems)


QUANTITY_SUFFIXES = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity(value: object) -> float | None:
    """A Kubernetes quantity ("500", "500m", "1k", 2.5) as a number, or None if it is not one."""
    match = re.fullmatch(r"([0-9.]+)(m|k|M|G|Ki|Mi|Gi)?", str(value).strip())
    if match is None:
        return None
    try:
        return float(match.group(1)) * QUANTITY_SUFFIXES[match.group(2) or ""]
    except ValueError:
        return None


def _per_pod_rps(hpa: ResourceValidationArgs, metric_name: str) -> float | None:
    """The per-pod target of the rps metric: a Pods metric, or an Object metric's averageValue
    (its `value` is a total across pods, not per pod)."""
    for metric in as_list(get(hpa.props, "spec.metrics")):
        source = get(metric, "pods") or get(metric, "object") or {}
        if get(source, "metric.name") == metric_name and get(source, "target.averageValue") is not None:
            return quantity(get(source, "target.averageValue"))
    return None


def _throughput_reachable(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    declared = (get(args.props, "metadata.annotations") or {}).get(THROUGHPUT_ANNOTATION)
    if declared is None:
        return  # no throughput is declared for this workload
    target, per_pod = quantity(declared), _per_pod_rps(args, config["metricName"])
    max_replicas = get(args.props, "spec.maxReplicas") or 0
    if target is None:
        yield f"annotation {THROUGHPUT_ANNOTATION} is {declared!r}, not a number of requests per second"
    elif per_pod is None:
        yield f"declares {declared} rps but no per-pod {config['metricName']} target scales it"
    elif max_replicas * per_pod < target:
        yield (
            f"{max_replicas:g} replicas x {per_pod:g} rps = {max_replicas * per_pod:g} rps at most, "
            f"below the declared {target:g} rps"
        )


POLICIES = [
    StackControl(
        name="s3-bucket-guardrails",
        description="Every S3 bucket has a public access block, KMS default encryption, versioning and a "
        "TLS-only policy.",
        severity=Severity.HIGH,
        framework=cis_aws("2.1.1, 2.1.4"),
        family=FAMILY,
        when_absent="insecure: a bucket without these companion resources keeps S3's defaults",
        remediation="create BucketPublicAccessBlock, BucketServerSideEncryptionConfiguration, BucketVersioning "
        "and BucketPolicy for the bucket (components/aws/backup_bucket.py does)",
        check=_missing_companions(BUCKET_TYPES, BUCKET_GUARDRAILS, "bucket"),
    ),
    StackControl(
        name="vpc-flow-logs-and-default-group",
        description="Every VPC logs its flows and adopts its default security group with no rules.",
        severity=Severity.MEDIUM,
        framework=cis_aws("3.7, 5.4"),
        family=FAMILY,
        when_absent="insecure: a new VPC logs nothing and its default group admits itself",
        remediation="create an aws.ec2.FlowLog and an aws.ec2.DefaultSecurityGroup (no rules) for the VPC",
        check=_missing_companions(("aws:ec2/vpc:Vpc",), VPC_COMPANIONS, "vpcId"),
    ),
    StackControl(
        name="cloudflare-zone-baseline",
        description="Each load-balanced Cloudflare zone sets SSL mode, minimum TLS and HSTS explicitly.",
        severity=Severity.HIGH,
        framework=cloudflare_guide("zone SSL/TLS baseline"),
        family=FAMILY,
        when_absent="insecure: Cloudflare's zone defaults are flexible-or-full SSL, TLS 1.0 and no HSTS",
        remediation="declare ZoneSetting resources for ssl, min_tls_version and security_header "
        "(components/cloudflare/zone_security.py)",
        settings={
            "requiredSettings": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["ssl", "min_tls_version", "security_header", "always_use_https"],
            }
        },
        check=_zone_baseline,
    ),
    StackControl(
        name="k8s-namespace-network-policy",
        description="Every namespace that runs workloads has a NetworkPolicy.",
        severity=Severity.HIGH,
        framework=cis_eks("4.3.2"),
        family=FAMILY,
        when_absent="insecure: without a NetworkPolicy every pod accepts traffic from everywhere",
        remediation="add a default-deny NetworkPolicy plus the HEAL7 design's allow rules to the namespace",
        check=_namespaces_isolated,
    ),
    StackControl(
        name="k8s-workload-namespace-baseline",
        description="Each workload namespace enforces Pod Security restricted and has a default-deny NetworkPolicy.",
        severity=Severity.HIGH,
        framework=cis_eks("4.2, 4.3.2"),
        family=FAMILY,
        when_absent="insecure: without the enforce label Pod Security admits privileged pods, and without a "
        "default-deny policy a pod no allow rule selects accepts and sends traffic anywhere",
        remediation=f"label the namespace {ENFORCE_LABEL}: restricted and add a NetworkPolicy with podSelector {{}}, "
        "policyTypes [Ingress, Egress] and no rules in it (a namespace that needs baseline goes in belowRestricted)",
        settings={
            "belowRestricted": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "workload namespaces allowed to enforce baseline or privileged; each also states "
                "its podSecurityReason in the stack file",
            }
        },
        check=_workload_namespace_baseline,
    ),
    ResourceControl(
        name="hpa-throughput-reachable",
        description="An autoscaler's maximum replicas times its per-pod target reach the declared throughput.",
        severity=Severity.HIGH,
        framework=requirement("10,000 RPS at HPA max"),
        family=FAMILY,
        resource_types=[HPA],
        when_absent=f"not applicable without the {THROUGHPUT_ANNOTATION} annotation; insecure (unreachable) when "
        "it is declared but no per-pod rps metric scales the workload",
        remediation="raise spec.maxReplicas or the per-pod averageValue so maxReplicas x averageValue >= target",
        settings={"metricName": {"type": "string", "default": "requests_per_second"}},
        check=_throughput_reachable,
    ),
]
