"""The bootstrap stack's settings: the only reader of `Pulumi.bootstrap.yaml`.

`load()` reads the stack's config through pulumi.Config; `parse()` checks the raw values
and raises BootstrapConfigError, naming the file and key, before anything is registered.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

STACK_FILE = "Pulumi.bootstrap.yaml"

# GitHub's own rules: an owner is 1-39 alphanumerics or single hyphens, not at either end;
# a repository name is 1-100 of letters, digits, '.', '-', '_'.
OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
REPOSITORY = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# The environment name is part of role names, service-account ids and the OIDC subject.
ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]*$")
# A GCP project id: 6-30 lowercase letters, digits or hyphens, starting with a letter.
GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
OIDC_PROVIDER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$")
# GCP service-account ids are at most 30 characters; the longest is <name>-github-deploy-<env>.
SERVICE_ACCOUNT_ID_MAX = 30


class BootstrapConfigError(ValueError):
    """A bad value in Pulumi.bootstrap.yaml; the message names the key and what was expected."""


@dataclass(frozen=True)
class BootstrapConfig:
    name: str
    """Prefix of every name (`heal7`): roles `<name>-github-*`, bucket `<name>-pulumi-state-*`."""
    owner: str
    """GitHub owner (user or organization) of the trusted repository."""
    repository: str
    """GitHub repository name (without the owner)."""
    environments: dict[str, str]
    """GitHub environment (= Pulumi stack) -> the GCP project of that stack."""
    aws_region: str
    """Region of the state bucket and its key (`aws:region`)."""
    gcp_project: str
    """Project of the workload identity pool and the CI service accounts (`gcp:project`)."""
    aws_oidc_provider_arn: str | None = None
    """An existing IAM OIDC provider for GitHub (one per URL per account); None creates it."""

    @property
    def full_repository(self) -> str:
        """`owner/repository`, as GitHub writes it in the token's `repository` claim."""
        return f"{self.owner}/{self.repository}"


def _fail(key: str, expected: str, got: object) -> BootstrapConfigError:
    return BootstrapConfigError(f"{STACK_FILE}: {key}: {expected}, got {got!r}")


def _match(key: str, pattern: re.Pattern[str], value: object, expected: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise _fail(key, expected, value)
    return value


def parse(raw: Mapping[str, Any], *, aws_region: object, gcp_project: object) -> BootstrapConfig:
    """Check the `bootstrap:*` values (`raw`, keys without the namespace) and the providers' keys."""
    name = _match("bootstrap:name", NAME, raw.get("name"), "must be lowercase letters, digits and hyphens")
    github = raw.get("github")
    if not isinstance(github, Mapping):
        raise _fail("bootstrap:github", "must be a mapping with owner and repository", github)
    owner = _match("bootstrap:github.owner", OWNER, github.get("owner"), "must be a GitHub user or organization name")
    repository = _match(
        "bootstrap:github.repository", REPOSITORY, github.get("repository"), "must be a GitHub repository name"
    )
    environments_raw = raw.get("environments")
    if not isinstance(environments_raw, Mapping) or not environments_raw:
        raise _fail("bootstrap:environments", "must map at least one environment to {gcpProject}", environments_raw)
    environments: dict[str, str] = {}
    for environment, settings in environments_raw.items():
        key = f"bootstrap:environments.{environment}"
        _match(key, ENVIRONMENT, environment, "the environment name must be lowercase letters, digits and hyphens")
        longest = f"{name}-github-deploy-{environment}"
        if len(longest) > SERVICE_ACCOUNT_ID_MAX:
            raise _fail(key, f"makes the service-account id {longest!r} longer than GCP's 30 characters", environment)
        if not isinstance(settings, Mapping):
            raise _fail(key, "must be a mapping with gcpProject", settings)
        environments[environment] = _match(
            f"{key}.gcpProject", GCP_PROJECT, settings.get("gcpProject"), "must be a GCP project id"
        )
    region = _match("aws:region", re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$"), aws_region, "must be an AWS region")
    project = _match("gcp:project", GCP_PROJECT, gcp_project, "must be a GCP project id")
    oidc_arn = raw.get("awsOidcProviderArn")
    if oidc_arn is not None:
        _match(
            "bootstrap:awsOidcProviderArn",
            OIDC_PROVIDER_ARN,
            oidc_arn,
            "must be the ARN of the account's token.actions.githubusercontent.com OIDC provider",
        )
    return BootstrapConfig(
        name=name,
        owner=owner,
        repository=repository,
        environments=environments,
        aws_region=region,
        gcp_project=project,
        aws_oidc_provider_arn=oidc_arn,
    )


def load() -> BootstrapConfig:
    """Read the stack's config (the only pulumi.Config reader of the bootstrap program)."""
    config = pulumi.Config("bootstrap")
    raw = {
        "name": config.get("name"),
        "github": config.get_object("github"),
        "environments": config.get_object("environments"),
        "awsOidcProviderArn": config.get("awsOidcProviderArn"),
    }
    return parse(raw, aws_region=pulumi.Config("aws").get("region"), gcp_project=pulumi.Config("gcp").get("project"))
