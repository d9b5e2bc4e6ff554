"""Edge cases of the in-process runner and the controls: unknown values in preview,
provider default tags, the ingress exceptions, port-less rules, Kubernetes quantities,
per-owner companions and literal secrets inside lists."""

import json

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from policy.runner import evaluate
from tests.policy_fixtures import BY_NAME, PROD_RDS, deployment, mutated, record, registration

# -- the in-process runner mirrors it -------------------------------------------------


def test_runner_reports_unknowns_as_not_evaluated(synthed):
    rds = next(r for r in synthed("prod").resources if r.name == PROD_RDS and r.package == "aws")
    provider = synthed("prod").one("pulumi:providers:aws")
    report = evaluate(record(provider, mutated(rds, {"storageEncrypted": UNKNOWN_BOOLEAN_VALUE}), stack="prod"))
    assert report.violations == []
    assert report.not_evaluated == [
        {
            "policy": "rds-storage-encrypted",
            "urn": rds.urn,
            "reason": "boolean value at .storageEncrypted can't be known during preview",
        }
    ]


def test_stack_policies_skip_only_the_unknown_resource():
    known_workload = deployment()
    unknown_workload = mutated(deployment(), {"metadata.namespace": UNKNOWN_STRING_VALUE})
    unknown_workload.name, unknown_workload.urn = "api", unknown_workload.urn.replace("web-main", "api")
    report = evaluate(record(known_workload, unknown_workload), policies=[BY_NAME["k8s-namespace-network-policy"]])
    assert [(v.resource_name, v.policy) for v in report.violations] == [("web-main", "k8s-namespace-network-policy")]


def test_aws_tags_come_from_the_provider_default_tags(synthed):
    prod = synthed("prod")
    provider = prod.one("pulumi:providers:aws")
    rds = next(r for r in prod.resources if r.name == PROD_RDS and r.package == "aws")
    assert evaluate(record(provider, rds), policies=[BY_NAME["required-tags"]]).violations == []
    untagged = mutated(provider, {"defaultTags": json.dumps({"tags": {"project": "heal7"}})})
    report = evaluate(record(untagged, rds), policies=[BY_NAME["required-tags"]])
    assert "lack ['environment', 'owner', 'cost-center', 'managed-by']" in report.violations[0].message


@pytest.mark.parametrize(
    ("name", "port", "violates"),
    [
        ("heal7-prod-ingress-lb-https", 443, False),
        ("heal7-prod-ingress-lb-ssh", 22, True),
        ("heal7-prod-admin-https", 443, True),
    ],
)
def test_only_the_ingress_load_balancer_opens_web_ports(name, port, violates):
    rule = registration(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        name,
        {"cidrIpv4": "0.0.0.0/0", "fromPort": port, "toPort": port, "ipProtocol": "tcp", "description": "public"},
    )
    report = evaluate(record(rule), policies=[BY_NAME["security-group-no-public-ingress"]])
    assert bool(report.violations) is violates


def test_relations_with_unknown_references_are_not_violations():
    guardrails = BY_NAME["s3-bucket-guardrails"]
    bucket = registration("aws:s3/bucket:Bucket", "logs", {"bucket": "logs-1a2b"})
    bare = evaluate(record(bucket), policies=[guardrails])
    assert [v.message.split(": ", 1)[1].split(". Fix")[0] for v in bare.violations] == [
        "lacks a public access block",
        "lacks default encryption",
        "lacks versioning",
        "lacks a TLS-only bucket policy",
    ]
    # In preview a new companion's `bucket` is unknown and has no dependency recorded: not provably missing.
    companions = [
        registration(t, f"logs-{i}", {"bucket": UNKNOWN_STRING_VALUE})
        for i, t in enumerate(
            [
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                "aws:s3/bucketVersioning:BucketVersioning",
                "aws:s3/bucketPolicy:BucketPolicy",
            ]
        )
    ]
    assert evaluate(record(bucket, *companions), policies=[guardrails]).violations == []


def test_the_ingress_firewall_exception_holds_with_engine_settings(synthed):
    firewall = registration(
        "gcp:compute/firewall:Firewall",
        "heal7-prod-ingress-lb-https",
        {"direction": "INGRESS", "sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["443"]}]},
    )
    control = [BY_NAME["gcp-firewall-no-public-ingress"]]
    assert (
        evaluate(
            record(firewall), {"gcp-firewall-no-public-ingress": {"allowedPublicPorts": [80, 443]}}, policies=control
        ).violations
        == []
    )
    wide = mutated(firewall, {"allows": [{"protocol": "TCP", "ports": ["80-8080"]}]})
    assert len(evaluate(record(wide), policies=control).violations) == 1


@pytest.mark.parametrize(
    ("rule", "shown"),
    [
        ({"ipProtocol": "icmp"}, "icmp, all ports"),
        ({"ipProtocol": "-1"}, "-1, all ports"),
        ({"ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0}, "tcp ports 22-22"),
    ],
)
def test_public_ingress_messages_for_portless_and_port_rules(rule, shown):
    resource = registration(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "admin",
        {"cidrIpv4": "0.0.0.0/0", "description": "admin", **rule},
    )
    [violation] = evaluate(record(resource), policies=[BY_NAME["security-group-no-public-ingress"]]).violations
    assert f"ingress from the internet ({shown})" in violation.message


def test_an_unknown_companion_hides_nothing_about_other_buckets():
    guardrails = [BY_NAME["s3-bucket-guardrails"]]
    first = registration("aws:s3/bucket:Bucket", "first", {"bucket": "first-1a"})
    second = registration("aws:s3/bucket:Bucket", "second", {"bucket": "second-2b"})
    companions = {
        t: registration(t, f"first-{i}", {"bucket": "first-1a"})
        for i, t in enumerate(
            [
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
                "aws:s3/bucketVersioning:BucketVersioning",
                "aws:s3/bucketPolicy:BucketPolicy",
            ]
        )
    }
    # `second` has everything but versioning; first's versioning is new, its reference still unknown
    # but recorded as a dependency on `first`.
    first_versioning = companions["aws:s3/bucketVersioning:BucketVersioning"]
    first_versioning.inputs["bucket"] = first_versioning.outputs["bucket"] = UNKNOWN_STRING_VALUE
    first_versioning.property_dependencies = {"bucket": [first.urn]}
    second_companions = [
        mutated(r, {"bucket": "second-2b"})
        for t, r in companions.items()
        if t != "aws:s3/bucketVersioning:BucketVersioning"
    ]
    for index, companion in enumerate(second_companions):
        companion.name, companion.urn = f"second-{index}", f"{companion.urn}-second"
    report = evaluate(record(first, second, *companions.values(), *second_companions), policies=guardrails)
    assert [(v.resource_name, v.message.split(": ", 1)[1].split(". Fix")[0]) for v in report.violations] == [
        ("second", "lacks versioning")
    ]


@pytest.mark.parametrize(
    ("average", "max_replicas", "message"),
    [
        ("500", 20, None),
        ("500000m", 20, None),
        ("0.5k", 19, "19 replicas x 500 rps = 9500 rps at most, below the declared 10000 rps"),
    ],
)
def test_throughput_headroom_reads_kubernetes_quantities(average, max_replicas, message):
    from tests.policy_fixtures import autoscaler

    hpa = mutated(autoscaler(), {"spec.maxReplicas": max_replicas, "spec.metrics.0.pods.target.averageValue": average})
    violations = evaluate(record(hpa), policies=[BY_NAME["hpa-throughput-reachable"]]).violations
    assert [v.message.split(": ", 1)[1].split(". Fix")[0] for v in violations] == ([message] if message else [])


def test_literal_secrets_are_found_inside_lists_and_enum_settings_are_not():
    container_env = mutated(
        deployment(),
        {"spec.template.spec.containers.0.env": [{"name": "GITHUB_TOKEN", "value": "ghp_" + "a1B2c3D4e5" * 4}]},
    )
    redis_like = registration(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "cache",
        {
            "authTokenUpdateStrategy": "ROTATE",
            "masterUserSecrets": [{"secretStatus": "active"}],
            "description": "cache",
        },
    )
    report = evaluate(record(container_env, redis_like), policies=[BY_NAME["no-literal-secrets"]])
    assert [(v.resource_name, v.message.split(": ", 1)[1].split(". Fix")[0]) for v in report.violations] == [
        ("web-main", "spec.template.spec.containers[0].env[0].value holds a credential-shaped literal")
    ]


@pytest.mark.parametrize(
    ("ranges", "reported", "unknown_at"),
    [
        (UNKNOWN_STRING_VALUE, [], ".spec.loadBalancerSourceRanges"),
        (["173.245.48.0/20", UNKNOWN_STRING_VALUE], [], ".spec.loadBalancerSourceRanges.1"),
        (
            ["0.0.0.0/0", UNKNOWN_STRING_VALUE],
            ["spec.loadBalancerSourceRanges[0] 0.0.0.0/0 admits every IPv4 address"],
            ".spec.loadBalancerSourceRanges.1",
        ),
    ],
    ids=["whole-list", "one-range", "after-a-slash-0"],
)
def test_load_balancer_source_ranges_unknown_in_preview(ranges, reported, unknown_at):
    """The gateway's ranges come from an invoke: unknown in preview, the control is a "not evaluated"
    note, never a violation, like every resource control; what it read before the unknown stays reported."""
    from tests.policy_fixtures import ingress_service

    service = mutated(ingress_service(), {"spec.loadBalancerSourceRanges": ranges})
    report = evaluate(record(service), policies=[BY_NAME["k8s-load-balancer-source-ranges"]])
    assert [v.message.split(": ", 1)[1].split(". Fix")[0] for v in report.violations] == reported
    assert [(n["policy"], n["reason"].split(" value at ")[1]) for n in report.not_evaluated] == [
        ("k8s-load-balancer-source-ranges", f"{unknown_at} can't be known during preview")
    ]
