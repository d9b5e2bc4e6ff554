"""`platform:kubernetes` access rules that span sections: one EKS access entry per IAM role
(admins, viewers and deployers are different roles), one namespace per deployer identity,
and the Google Groups for RBAC group name. Refused before anything registers."""

import pytest

from tests.conftest import assert_rejected_before_any_resource
from tests.test_config import parse

ONE_ENTRY = "expected a role with no other access entry on EKS (one per principal and cluster)"


def _second_namespace(config: dict) -> dict:
    """Adds a namespace `heal7-batch` with its own deployer (distinct identities)."""
    kubernetes = config["platform:kubernetes"]
    kubernetes["namespaces"]["heal7-batch"] = {}
    kubernetes["deployers"].append(
        {
            "namespace": "heal7-batch",
            "awsRole": "heal7-batch-deployer",
            "googleServiceAccount": "heal7-batch-ci@heal7-dev.iam.gserviceaccount.com",
        }
    )
    return config


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_viewer_role_that_is_an_admin_is_refused_naming_both_keys(stack_config, stack):
    config = stack_config(stack)
    admin = config["platform:aws"]["eks"]["adminRoles"][0]
    config["platform:kubernetes"]["viewers"][0]["awsRoles"].append(admin)
    assert_rejected_before_any_resource(
        stack,
        config,
        f"platform:kubernetes.viewers[0].awsRoles[1]: {ONE_ENTRY}, got {admin!r}, which "
        "platform:aws.eks.adminRoles[0] already makes cluster admin",
    )


def test_a_deployer_role_that_is_a_viewer_is_refused_naming_both_keys(stack_config):
    config = stack_config("dev")
    config["platform:kubernetes"]["deployers"][0]["awsRole"] = "platform-readonly"
    assert_rejected_before_any_resource(
        "dev",
        config,
        f"platform:kubernetes.deployers[0].awsRole: {ONE_ENTRY}, got 'platform-readonly', which "
        "platform:kubernetes.viewers[0].awsRoles[0] already makes a viewer",
    )


def test_an_admin_deployer_is_refused_even_as_an_arn_in_another_case(stack_config):
    config = stack_config("prod")
    arn = "arn:aws:iam::123456789012:role/Platform-Admin"
    config["platform:kubernetes"]["deployers"][0]["awsRole"] = arn
    assert_rejected_before_any_resource(
        "prod",
        config,
        f"platform:kubernetes.deployers[0].awsRole: {ONE_ENTRY}, got {arn!r}, which "
        "platform:aws.eks.adminRoles[0] already makes cluster admin",
    )


def test_one_deployer_role_for_two_namespaces_is_refused(stack_config):
    config = _second_namespace(stack_config("dev"))
    config["platform:kubernetes"]["deployers"][1]["awsRole"] = "heal7-deployer"
    assert_rejected_before_any_resource(
        "dev",
        config,
        f"platform:kubernetes.deployers[1].awsRole: {ONE_ENTRY}, got 'heal7-deployer', which "
        "platform:kubernetes.deployers[0].awsRole already makes the deployer of heal7-dev",
    )


def test_one_deployer_service_account_for_two_namespaces_is_refused(stack_config):
    config = _second_namespace(stack_config("dev"))
    account = config["platform:kubernetes"]["deployers"][0]["googleServiceAccount"]
    config["platform:kubernetes"]["deployers"][1]["googleServiceAccount"] = account
    assert_rejected_before_any_resource(
        "dev",
        config,
        "platform:kubernetes.deployers[1].googleServiceAccount: expected a service account that deploys into one "
        f"namespace only, got {account!r}, which platform:kubernetes.deployers[0].googleServiceAccount already names",
    )


def test_security_group_must_be_gke_security_groups(stack_config):
    config = stack_config("dev")
    config["platform:kubernetes"]["gkeSecurityGroup"] = "platform-team@heal7.com"
    assert_rejected_before_any_resource(
        "dev",
        config,
        "platform:kubernetes.gkeSecurityGroup: expected gke-security-groups@<your domain>, "
        "got 'platform-team@heal7.com'",
    )


def test_a_role_in_two_viewer_groups_is_one_viewer_of_both_groups_namespaces(stack_config):
    config = _second_namespace(stack_config("dev"))
    config["platform:kubernetes"]["viewers"].append(
        {
            # The same role as viewers[0], by ARN and in another case: IAM sees one role.
            "awsRoles": ["arn:aws:iam::123456789012:role/Platform-ReadOnly", "batch-readonly"],
            "googleGroup": "batch-viewers@heal7.com",
            "namespaces": ["heal7-batch"],
        }
    )
    assert parse("dev", config).kubernetes.viewer_namespaces_by_role() == {
        "platform-readonly": ["heal7-batch", "heal7-dev"],
        "batch-readonly": ["heal7-batch"],
    }


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_deployer_group_derives_from_the_namespace(stack):
    kubernetes = parse(stack).kubernetes
    assert [d.kubernetes_group for d in kubernetes.deployers] == [
        f"{d.namespace}-deployer" for d in kubernetes.deployers
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_gke_cluster_resolves_google_groups_under_the_security_group(synthed, stack):
    cluster = synthed(stack).one("gcp:container/cluster:Cluster")
    assert cluster.inputs["authenticatorGroupsConfig"] == {"securityGroup": "gke-security-groups@heal7.com"}
