"""Workload images pinned by digest, and the platform's base image (stacks/images.py).

Every pod spec names `<the cluster's registry>/<repository>@sha256:<digest>`, the digest being
what pulumi-docker's registry lookup answered for the configured tag (the mocks derive it
from the image name, the tag and the registry's push history in `MOVED_TAGS`). The lookups
authenticate with the clouds' short-lived tokens through one explicit Docker provider per
registry. The base image is built from images/base only where platform:images.buildBase is on.
"""

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from components.multicloud.base_image import context_tag
from policy.rules import ALL_POLICIES
from policy.runner import config_file_for, evaluate, load_policy_config
from stacks.images import pin
from tests.conftest import PROJECT_ROOT, STACKS, assert_rejected_before_any_resource
from tests.test_config import parse
from tools import mock_outputs
from tools.mock_outputs import ecr_password, registry_digest
from tools.synth import Registration, Secret, SynthResult, synth

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# A canary or blueGreen workload runs as an Argo Rollout with the same pod template.
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
DOCKER_PROVIDER = "pulumi:providers:docker"
REGISTRY_LOOKUP = "docker:index/getRegistryImage:getRegistryImage"
ECR_TOKEN = "aws:ecr/getAuthorizationToken:getAuthorizationToken"
CLIENT_CONFIG = "gcp:organizations/getClientConfig:getClientConfig"
IMAGE_BUILD = "docker:index/image:Image"
BASE_IMAGE = "platform:multicloud:BaseImage"
ECR_HOST = re.compile(r"^[0-9]{12}\.dkr\.ecr\.ap-northeast-2\.amazonaws\.com$")
BASE_CONTEXT = PROJECT_ROOT / "images" / "base"
# What the base image's Dockerfile must hold (the HEAL7 design's heal7-base; the pods run as it).
APP_UID = 1001


# -- helpers ------------------------------------------------------------------------------


def _cluster_provider(result: SynthResult, cluster: str) -> Registration:
    return result.one("pulumi:providers:kubernetes", f"heal7-{result.stack}-{cluster}-k8s")


def _pods(result: SynthResult, cluster: str) -> dict[str, dict[str, Any]]:
    """Workload name -> the pod spec of its Deployment (or Rollout) on `cluster`."""
    provider = _cluster_provider(result, cluster).urn
    pods = {}
    for deployment in [*result.of_type(DEPLOYMENT), *result.of_type(ROLLOUT)]:
        if deployment.provider == provider:
            name = deployment.inputs["metadata"]["name"]
            assert name not in pods, f"two Deployments named {name} on {cluster}"
            pods[name] = deployment.inputs["spec"]["template"]["spec"]
    return pods


def _repository_url(result: SynthResult, cluster: str, repository: str) -> str:
    """The repository the cluster pulls `repository` from: the stack's ECR repository on EKS,
    the image path in the stack's Artifact Registry repository on GKE."""
    if cluster == "eks":
        return result.outputs["ecrRepositoryUrls"][repository]
    return f"{result.outputs['artifactRegistryUrl']}/{repository}"


def _docker_provider(result: SynthResult, name: str) -> Registration:
    return result.one(DOCKER_PROVIDER, f"heal7-{result.stack}-{name}")


def _provider_reference(registration: Registration) -> str:
    return f"{registration.urn}::{registration.id}"


def _registry_auth(provider: Registration) -> list[dict[str, Any]]:
    auth = provider.inputs["registryAuth"]
    assert isinstance(auth, Secret), f"{provider.name}: registryAuth is not a secret"
    return json.loads(auth.value)


def _walk(value: Any, inside_secret: bool = False):
    """Every leaf with whether a Secret wraps it."""
    if isinstance(value, Secret):
        yield from _walk(value.value, True)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item, inside_secret)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, inside_secret)
    else:
        yield value, inside_secret


def _with_build_base(stack_config, stack: str, value: bool) -> dict[str, Any]:
    config = stack_config(stack)
    config["platform:images"] = {**config.get("platform:images", {}), "buildBase": value}
    return config


# -- every pod pins its image by digest in its cluster's registry ---------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_pins_the_digest_its_clusters_registry_answered_for_the_tag(synthed, stack):
    result = synthed(stack)
    config = parse(stack)
    for cluster in ("eks", "gke"):
        pods = _pods(result, cluster)
        placed = {name: w for name, w in config.workloads.items() if cluster in w.placement}
        # Exactly the workloads placed on this cluster run there, each from one container.
        assert set(pods) == set(placed) and placed
        for name, workload in placed.items():
            url = _repository_url(result, cluster, workload.image.repository)
            containers = pods[name]["containers"] + pods[name].get("initContainers", [])
            images = {container["image"] for container in containers}
            expected = f"{url}@{registry_digest(f'{url}:{workload.image.tag}')}"
            assert images == {expected}, (cluster, name)
            assert re.fullmatch(rf"{re.escape(url)}@sha256:[0-9a-f]{{64}}", expected)


@pytest.mark.parametrize("stack", STACKS)
def test_eks_pods_pull_only_from_ecr_and_gke_pods_only_from_artifact_registry(synthed, stack):
    result = synthed(stack)
    project = parse(stack).gcp_project
    artifact_registry = f"asia-northeast3-docker.pkg.dev/{project}/heal7-{stack}-workloads/"
    ecr_prefix = f"heal7-{stack}/"
    for name, pod in _pods(result, "eks").items():
        host, _, path = pod["containers"][0]["image"].partition("/")
        assert ECR_HOST.match(host) and path.startswith(ecr_prefix), name
    for name, pod in _pods(result, "gke").items():
        assert pod["containers"][0]["image"].startswith(artifact_registry), name
    # The two clusters run web-main from different registries, never each other's.
    eks_image = _pods(result, "eks")["heal7-web-main"]["containers"][0]["image"]
    gke_image = _pods(result, "gke")["heal7-web-main"]["containers"][0]["image"]
    assert eks_image.split("@")[0] != gke_image.split("@")[0]


@pytest.mark.parametrize("stack", STACKS)
def test_each_registry_is_asked_once_per_workload_placed_on_its_cluster(synthed, stack):
    result = synthed(stack)
    config = parse(stack)
    lookups = [provider for token, provider in result.invokes if token == REGISTRY_LOOKUP]
    ecr, registry = _docker_provider(result, "ecr-docker"), _docker_provider(result, "registry-docker")
    on_eks = sum("eks" in w.placement for w in config.workloads.values())
    on_gke = sum("gke" in w.placement for w in config.workloads.values())
    assert lookups.count(_provider_reference(ecr)) == on_eks
    assert lookups.count(_provider_reference(registry)) == on_gke
    assert len(lookups) == on_eks + on_gke


def test_a_moved_tag_changes_the_pod_spec_and_only_that_one(synthed, monkeypatch):
    before = synthed("dev")
    url = _repository_url(before, "eks", "web-main")
    tag = parse("dev").workloads["heal7-web-main"].image.tag
    old_image = _pods(before, "eks")["heal7-web-main"]["containers"][0]["image"]

    # Someone pushed another image under the same tag (a registry without immutable tags,
    # or a re-created repository): the next preview resolves the new digest.
    monkeypatch.setitem(mock_outputs.MOVED_TAGS, f"{url}:{tag}", "rebuilt-after-a-hotfix")
    after = synth("dev")
    new_image = _pods(after, "eks")["heal7-web-main"]["containers"][0]["image"]
    assert new_image != old_image
    assert new_image == f"{url}@{registry_digest(f'{url}:{tag}')}"
    assert new_image.split("@")[0] == old_image.split("@")[0]
    # Nothing else moved: the same workload on GKE and the other EKS workloads keep theirs.
    for cluster in ("eks", "gke"):
        for name, pod in _pods(after, cluster).items():
            if (cluster, name) != ("eks", "heal7-web-main"):
                assert pod == _pods(before, cluster)[name], (cluster, name)


def test_a_registry_answer_that_is_not_a_digest_fails_naming_the_image():
    url = "613420769954.dkr.ecr.ap-northeast-2.amazonaws.com/heal7-prod/web-main"
    assert pin(url, "1.0.0", "sha256:" + "ab" * 32) == f"{url}@sha256:{'ab' * 32}"
    for answer in (None, "", "sha256:abc", "ab" * 32, "sha512:" + "ab" * 64, "sha256:" + "AB" * 32):
        with pytest.raises(ValueError, match=rf"^{re.escape(url)}:1\.0\.0: expected .* got"):
            pin(url, "1.0.0", answer)


# -- credentials: short-lived, from the clouds, secret ----------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_registry_credentials_come_from_the_clouds_through_explicit_providers_as_secrets(synthed, stack):
    result = synthed(stack)
    aws_provider = result.one("pulumi:providers:aws", f"heal7-{stack}-aws")
    gcp_provider = result.one("pulumi:providers:gcp", f"heal7-{stack}-gcp")
    # The tokens come from the clouds' own invokes, through the stack's providers.
    assert (ECR_TOKEN, _provider_reference(aws_provider)) in result.invokes
    assert (CLIENT_CONFIG, _provider_reference(gcp_provider)) in result.invokes

    account = result.outputs["ecrRepositoryUrls"]["web-main"].split(".", 1)[0]
    ecr_host = result.outputs["ecrRepositoryUrls"]["web-main"].split("/", 1)[0]
    registry_host = result.outputs["artifactRegistryUrl"].split("/", 1)[0]
    ecr = _docker_provider(result, "ecr-docker")
    registry = _docker_provider(result, "registry-docker")
    ecr_auth, registry_auth = _registry_auth(ecr), _registry_auth(registry)
    assert ecr_auth == [{"address": ecr_host, "username": "AWS", "password": ecr_password(account, "ap-northeast-2")}]
    assert len(registry_auth) == 1
    assert registry_auth[0]["address"] == registry_host == "asia-northeast3-docker.pkg.dev"
    assert registry_auth[0]["username"] == "oauth2accesstoken"
    assert registry_auth[0]["password"].startswith("ya29.")
    # Lookups only: neither provider needs a Docker engine on the deploying machine.
    assert ecr.inputs["disableDockerDaemonCheck"] == "true" == registry.inputs["disableDockerDaemonCheck"]

    # No registry password ever travels outside a secret, in any resource's inputs or outputs.
    passwords = {ecr_auth[0]["password"], registry_auth[0]["password"]}
    for resource in result.resources:
        for value, secret in [*_walk(resource.inputs), *_walk(resource.outputs)]:
            if isinstance(value, str) and any(password in value for password in passwords):
                assert secret, f"{resource.type} {resource.name} holds a registry password in plain text"


# -- the base image: built only where the switch is on, pushed to both registries -------------


def test_the_base_image_is_built_only_where_the_switch_is_on(synthed):
    assert not parse("dev").images.build_base
    assert parse("staging").images.build_base and parse("prod").images.build_base
    dev = synthed("dev")
    assert dev.of_type(IMAGE_BUILD) == [] and dev.of_type(BASE_IMAGE) == []
    # No provider that would need a Docker engine, and no base-image exports.
    assert {p.name for p in dev.of_type(DOCKER_PROVIDER)} == {"heal7-dev-ecr-docker", "heal7-dev-registry-docker"}
    assert "baseImageDigests" not in dev.outputs and "baseImageTag" not in dev.outputs
    for stack in ("staging", "prod"):
        result = synthed(stack)
        assert len(result.of_type(BASE_IMAGE)) == 1 and len(result.of_type(IMAGE_BUILD)) == 2


def test_the_switch_turns_the_build_on_in_dev_and_off_in_prod(stack_config):
    dev = synth("dev", _with_build_base(stack_config, "dev", True))
    assert len(dev.of_type(IMAGE_BUILD)) == 2
    prod = synth("prod", _with_build_base(stack_config, "prod", False))
    assert prod.of_type(IMAGE_BUILD) == [] and prod.of_type(BASE_IMAGE) == []
    assert "heal7-prod-docker-build" not in {p.name for p in prod.of_type(DOCKER_PROVIDER)}
    # Consuming stacks still pin every workload by digest.
    assert all("@sha256:" in pod["containers"][0]["image"] for pod in _pods(prod, "eks").values())


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_base_image_goes_to_both_registries_under_its_content_tag(synthed, stack):
    result = synthed(stack)
    base = result.one(BASE_IMAGE, f"heal7-{stack}-base-image")
    engine = _docker_provider(result, "docker-build")
    builds = {r.name.removeprefix(f"{base.name}-"): r for r in result.children_of(base) if r.type == IMAGE_BUILD}
    assert set(builds) == {"ecr", "artifact-registry"}
    tag = context_tag(BASE_CONTEXT)
    assert re.fullmatch(r"ctx-[0-9a-f]{16}", tag)
    targets = {
        "ecr": result.outputs["ecrRepositoryUrls"]["base"],
        "artifact-registry": f"{result.outputs['artifactRegistryUrl']}/base",
    }
    ecr_host = targets["ecr"].split("/", 1)[0]
    account = ecr_host.split(".", 1)[0]
    credentials = {
        "ecr": ("AWS", ecr_password(account, "ap-northeast-2")),
        "artifact-registry": (
            "oauth2accesstoken",
            _registry_auth(_docker_provider(result, "registry-docker"))[0]["password"],
        ),
    }
    for key, build in builds.items():
        assert build.inputs["imageName"] == f"{targets[key]}:{tag}"
        assert build.inputs["build"] == {
            "context": "images/base",
            "dockerfile": "images/base/Dockerfile",
            "platform": "linux/amd64",
        }
        assert build.inputs["skipPush"] is False and build.inputs["buildOnPreview"] is False
        # Pushed with the cloud's short-lived credentials, as a secret.
        registry = build.inputs["registry"]
        assert isinstance(registry, Secret)
        assert registry.value == {
            "server": targets[key].split("/", 1)[0],
            "username": credentials[key][0],
            "password": credentials[key][1],
        }
        # Built by the engine's provider, the only one that needs a Docker engine.
        assert build.provider == engine.urn
    assert "disableDockerDaemonCheck" not in engine.inputs and "registryAuth" not in engine.inputs
    # The stack exports what workload builds start FROM: each registry's pushed digest.
    assert result.outputs["baseImageTag"] == tag
    digests = result.outputs["baseImageDigests"]
    assert set(digests) == set(targets)
    for key, url in targets.items():
        assert digests[key] == builds[key].outputs["repoDigest"]
        assert re.fullmatch(rf"{re.escape(url)}@sha256:[0-9a-f]{{64}}", digests[key])


def test_the_content_tag_follows_the_build_context_and_nothing_else(tmp_path: Path):
    copy = tmp_path / "base"
    shutil.copytree(BASE_CONTEXT, copy)
    assert context_tag(copy) == context_tag(BASE_CONTEXT)  # a path is not content
    dockerfile = copy / "Dockerfile"
    dockerfile.write_bytes(dockerfile.read_bytes() + b"\n")
    changed = context_tag(copy)
    assert changed != context_tag(BASE_CONTEXT)
    (copy / "extra.txt").write_text("x")
    assert context_tag(copy) not in (changed, context_tag(BASE_CONTEXT))
    # Moving bytes from one file to another is a different context too.
    split = tmp_path / "split"
    split.mkdir()
    (split / "a").write_text("xy")
    (split / "b").write_text("")
    joined = tmp_path / "joined"
    joined.mkdir()
    (joined / "a").write_text("x")
    (joined / "b").write_text("y")
    assert context_tag(split) != context_tag(joined)


# -- the Dockerfile: non-root 1001, dumb-init as PID 1, a health check ---------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: comments dropped, continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, arguments = full.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def _dockerfile() -> list[tuple[str, str]]:
    return _instructions((BASE_CONTEXT / "Dockerfile").read_text())


def test_the_base_dockerfile_runs_as_1001_under_dumb_init_with_a_health_check():
    instructions = _dockerfile()
    keywords = [keyword for keyword, _ in instructions]
    # One stage, from an exact release of the base (never a moving tag).
    (base,) = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    assert re.fullmatch(r"node:\d+\.\d+\.\d+-alpine\d+\.\d+(@sha256:[0-9a-f]{64})?", base), base
    # The last USER is the numeric 1001 (runAsNonRoot can verify it), and nothing runs as root after it.
    users = [(index, arguments) for index, (keyword, arguments) in enumerate(instructions) if keyword == "USER"]
    index, user = users[-1]
    assert user in (str(APP_UID), f"{APP_UID}:{APP_UID}")
    assert "RUN" not in keywords[index:]
    run = " ".join(arguments for keyword, arguments in instructions if keyword == "RUN")
    assert re.search(r"\baddgroup\b.*-g 1001\b", run) and re.search(r"\badduser\b.*-u 1001\b", run)
    # dumb-init installed, and PID 1 in exec form.
    assert re.search(r"apk add --no-cache '?dumb-init", run)
    (entrypoint,) = [json.loads(arguments) for keyword, arguments in instructions if keyword == "ENTRYPOINT"]
    assert entrypoint == ["dumb-init", "--"]
    # The HEAL7 design's health check: /health on $PORT (3000 by default) every 30 s.
    (check,) = [arguments for keyword, arguments in instructions if keyword == "HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    assert set(options.split()) == {"--interval=30s", "--timeout=3s", "--start-period=5s", "--retries=3"}
    probe = json.loads(command)
    assert probe[:2] == ["node", "-e"] and "/health" in probe[2] and "process.env.PORT || 3000" in probe[2]


def test_the_base_dockerfile_keeps_secrets_and_extras_out():
    instructions = _dockerfile()
    for keyword, arguments in instructions:
        # No credential is baked in: no ARG or ENV that names one, no file added from the context.
        if keyword in ("ARG", "ENV"):
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL)", arguments, re.IGNORECASE), arguments
        assert keyword not in ("ADD", "COPY"), f"{keyword} {arguments}: the base image takes nothing from the context"
    run = " ".join(arguments for keyword, arguments in instructions if keyword == "RUN")
    # Minimal packages: only dumb-init is added; the package managers and curl stay out.
    assert re.findall(r"apk add --no-cache ([^&]+)", run) == ["'dumb-init~1.2.5' "]
    assert "curl" not in run and "apk upgrade" not in run
    for tool in ("npm", "npx", "corepack", "yarn"):
        assert f"/usr/local/bin/{tool}" in run
    # The context sends the Dockerfile only.
    ignored = [line for line in (BASE_CONTEXT / ".dockerignore").read_text().splitlines() if not line.startswith("#")]
    assert ignored == ["*", "!Dockerfile"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_pods_run_as_the_base_images_user(synthed, stack):
    result = synthed(stack)
    for cluster in ("eks", "gke"):
        for name, pod in _pods(result, cluster).items():
            assert pod["securityContext"]["runAsUser"] == APP_UID, (cluster, name)
            assert pod["securityContext"]["runAsNonRoot"] is True, (cluster, name)


# -- bad config: refused before anything registers ------------------------------------------


def test_a_latest_tag_is_refused_before_any_resource(stack_config):
    config = stack_config("prod")
    config["platform:workloads"]["heal7-api-gateway"]["image"]["tag"] = "latest"
    assert_rejected_before_any_resource(
        "prod", config, "platform:workloads.heal7-api-gateway.image.tag: expected a release tag"
    )


def test_an_eks_workload_outside_the_ecr_repositories_is_refused_before_any_resource(stack_config):
    config = stack_config("prod")
    config["platform:workloads"]["heal7-saju-engine"]["image"]["repository"] = "saju-engine-v2"
    assert_rejected_before_any_resource(
        "prod",
        config,
        "platform:workloads.heal7-saju-engine.image.repository: expected one of platform:aws.ecr.repositories "
        "(api-gateway, base, saju-engine, web-main) for a workload placed on eks, got 'saju-engine-v2'",
    )


def test_a_gke_only_workload_may_use_any_image_path_of_artifact_registry(stack_config):
    config = stack_config("prod")
    config["platform:workloads"]["heal7-ai-models"]["image"]["repository"] = "models/inference"
    assert parse("prod", config).workloads["heal7-ai-models"].image.repository == "models/inference"


def test_a_base_repository_outside_the_ecr_repositories_is_refused_where_the_base_is_built(stack_config):
    config = stack_config("prod")
    config["platform:images"] = {"baseRepository": "heal7-base"}
    assert_rejected_before_any_resource(
        "prod", config, "platform:images.baseRepository: expected one of platform:aws.ecr.repositories"
    )
    # A stack that only consumes the base image does not push it, so any name is valid there.
    dev = stack_config("dev")
    dev["platform:images"] = {"baseRepository": "heal7-base"}
    assert parse("dev", dev).images.base_repository == "heal7-base"


# -- the policy pack's digest control --------------------------------------------------------


DIGEST_POLICY = [policy for policy in ALL_POLICIES if policy.name == "k8s-image-digest"]


def test_prod_passes_the_digest_control_and_a_tag_reference_fails_it_mandatorily(synthed):
    prod = synthed("prod")
    config = load_policy_config(config_file_for("prod"), DIGEST_POLICY)
    report = evaluate(prod, config, DIGEST_POLICY, config_file="prod.json")
    assert report.violations == []

    # The interim reference this module replaced (`<ecr url>:<tag>`) on one real workload.
    deployment = next(d for d in prod.of_type(DEPLOYMENT) if d.name == "heal7-prod-eks-heal7-api-gateway-deployment")
    tagged = copy.deepcopy(deployment.inputs)
    container = tagged["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].split("@")[0] + ":1.0.0"
    changed = SynthResult(
        stack=prod.stack,
        resources=[
            Registration(**{**deployment.__dict__, "inputs": tagged}) if r is deployment else r for r in prod.resources
        ],
        outputs=prod.outputs,
        secret_outputs=prod.secret_outputs,
        invokes=prod.invokes,
    )
    report = evaluate(changed, config, DIGEST_POLICY, config_file="prod.json")
    assert [(v.policy, v.resource_name, v.enforcement) for v in report.violations] == [
        ("k8s-image-digest", deployment.name, "mandatory")
    ]
