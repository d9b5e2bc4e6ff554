"""DatabaseBackups in every stack: the nightly dump and the weekly restore drill as CronJobs on EKS only,
followed through the registrations (the bucket the dump streams to is BackupBucket's, the service
accounts carry the IRSA roles whose trust names them, the password comes from the Secrets Manager
secret the platform store's identity may decrypt), and the pods pass strict validation.
"""

import json
from typing import Any

import pytest

from components.kubernetes import _backup_specs as specs
from components.kubernetes.database_backups import DatabaseBackups, DatabaseBackupsArgs
from stacks.config.certificates import rds_ca_certificate
from tests.conftest import STACKS, assert_rejected_before_any_resource
from tests.kubernetes_validation import validate_builtin
from tools import manifests
from tools.synth import Secret, SynthError, SynthResult, synth_component

CRONJOB = "kubernetes:batch/v1:CronJob"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NAMESPACE = "kubernetes:core/v1:Namespace"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PROVIDER = "pulumi:providers:kubernetes"
IRSA = "platform:aws:eks:IrsaRole"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET = "aws:s3/bucket:Bucket"
SECRET = "aws:secretsmanager/secret:Secret"
CLUSTER_STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Secret) else value


def _cronjobs(result: SynthResult) -> dict[str, Any]:
    return {c.inputs["metadata"]["name"]: c for c in result.of_type(CRONJOB)}


def _pod(cronjob: Any) -> dict[str, Any]:
    return cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _containers(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in [*pod.get("initContainers", []), *pod["containers"]]}


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("stack", STACKS)
def test_cronjobs_exist_on_eks_only_in_every_stack(synthed, stack):
    result = synthed(stack)
    providers = {p.urn: p.name for p in result.of_type(PROVIDER)}
    cronjobs = result.of_type(CRONJOB)
    assert sorted(c.inputs["metadata"]["name"] for c in cronjobs) == ["postgres-dump", "postgres-restore-drill"]
    assert {providers[c.provider] for c in cronjobs} == {f"heal7-{stack}-eks-k8s"}
    assert {c.inputs["metadata"]["namespace"] for c in cronjobs} == {"backups"}
    (namespace,) = [n for n in result.of_type(NAMESPACE) if n.inputs["metadata"]["name"] == "backups"]
    assert providers[namespace.provider] == f"heal7-{stack}-eks-k8s"
    labels = namespace.inputs["metadata"]["labels"]
    assert {labels[f"pod-security.kubernetes.io/{m}"] for m in ("enforce", "warn", "audit")} == {"restricted"}


@pytest.mark.parametrize("stack", STACKS)
def test_schedules_never_overlap_time_out_and_keep_history(synthed, stack):
    cronjobs = _cronjobs(synthed(stack))
    dump, drill = cronjobs["postgres-dump"].inputs["spec"], cronjobs["postgres-restore-drill"].inputs["spec"]
    # The email-platform ops guide's 02:00, in the platform's users' zone; the drill weekly.
    assert (dump["schedule"], dump["timeZone"]) == ("0 2 * * *", "Asia/Seoul")
    assert (drill["schedule"], drill["timeZone"]) == ("0 6 * * 0", "Asia/Seoul")
    for spec in (dump, drill):
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["startingDeadlineSeconds"] == 3600
        assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
        job = spec["jobTemplate"]["spec"]
        assert job["backoffLimit"] == 2
        assert job["template"]["spec"]["restartPolicy"] == "Never"
        # No mesh proxy: it would keep a finished Job's pod running.
        assert job["template"]["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
    assert dump["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 2 * 3600
    assert drill["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 4 * 3600
    # The drill starts after that night's dump must have finished (02:00 + 2 h).
    assert int(drill["schedule"].split()[1]) >= 2 + 2


@pytest.mark.parametrize("stack", STACKS)
def test_dump_streams_to_the_backup_bucket_as_the_writer_role_over_verified_tls(synthed, stack):
    result = synthed(stack)
    prefix = f"heal7-{stack}"
    pod = _pod(_cronjobs(result)["postgres-dump"])
    containers = _containers(pod)
    dump, upload = containers["dump"], containers["upload"]
    bucket = result.one(BUCKET, f"{prefix}-backups-bucket")
    upload_env = _env(upload)
    assert upload_env["BUCKET"] == bucket.id
    assert upload_env["PREFIX"] == "postgres/heal7"  # postgres/<database>/<UTC timestamp>.dump
    assert upload_env["AWS_REGION"] == "ap-northeast-2"
    # pg_dump in custom format into the FIFO, the uploader's multipart upload refusing overwrites.
    assert "pg_dump --format=custom" in dump["command"][2] and "tee /shared/dump.fifo" in dump["command"][2]
    script = upload["command"][2]
    assert "aws s3api upload-part" in script and "--if-none-match '*'" in script
    assert script.count("--if-none-match '*'") == 2  # the dump and its checksum
    assert '"$key.sha256"' in script and "date -u +%Y%m%dT%H%M%SZ" in script
    # The service account carries the writer role, whose trust names exactly it.
    accounts = {a.inputs["metadata"]["name"]: a for a in result.of_type(SERVICE_ACCOUNT)}
    assert pod["serviceAccountName"] == "postgres-dump"
    writer = result.one(ROLE, f"{prefix}-backups-writer-role")
    assert accounts["postgres-dump"].inputs["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": writer.outputs["arn"]
    }
    trust = json.loads(writer.inputs["assumeRolePolicy"])
    conditions = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:backups:postgres-dump" in conditions.values()
    # TLS verify-full against the RDS root CA mounted from the namespace's ConfigMap.
    env = _env(dump)
    assert env["PGSSLMODE"] == "verify-full"
    mount = next(m for m in dump["volumeMounts"] if m["name"] == "rds-ca")
    assert env["PGSSLROOTCERT"] == f"{mount['mountPath']}/rds-root.pem" and mount["readOnly"] is True
    (ca,) = [
        c
        for c in result.of_type(CONFIG_MAP)
        if (c.inputs["metadata"].get("namespace"), c.inputs["metadata"].get("name")) == ("backups", "rds-ca")
    ]
    assert ca.inputs["data"]["rds-root.pem"] == rds_ca_certificate("ap-northeast-2")
    volume = next(v for v in pod["volumes"] if v["name"] == "rds-ca")
    assert volume["configMap"]["name"] == "rds-ca"
    assert (env["PGHOST"], env["PGDATABASE"], env["PGUSER"]) == (
        result.one("aws:rds/instance:Instance").outputs["address"],
        "heal7",
        "heal7_backup",
    )


@pytest.mark.parametrize("stack", STACKS)
def test_password_comes_from_the_secret_store_and_no_literal_secret(synthed, stack):
    result = synthed(stack)
    prefix = f"heal7-{stack}"
    dump = _containers(_pod(_cronjobs(result)["postgres-dump"]))["dump"]
    reference = _env(dump)["PGPASSWORD"]["secretKeyRef"]
    (external,) = [e for e in result.of_type(EXTERNAL_SECRET) if e.inputs["metadata"]["namespace"] == "backups"]
    spec = external.inputs["spec"]
    assert spec["target"]["name"] == reference["name"] == "postgres-dump-credentials"
    ((entry),) = spec["data"]
    assert entry["secretKey"] == reference["key"]
    assert entry["remoteRef"]["key"] == f"{prefix}/backups/postgres-dump"
    secret = result.one(SECRET, f"{prefix}-backup-credentials-secret")
    assert secret.inputs["name"] == f"{prefix}/backups/postgres-dump"
    # The platform store serves the namespace, and its identity may decrypt the secret's key.
    stores = {
        provider: store.inputs["spec"]["conditions"][0]["namespaces"]
        for store in result.of_type(CLUSTER_STORE)
        if store.inputs["metadata"]["name"] == spec["secretStoreRef"]["name"]
        for provider in [store.provider.split("::")[-1]]
    }
    assert stores == {
        f"{prefix}-eks-k8s": ["cert-manager", "monitoring", "backups"],
        f"{prefix}-gke-k8s": ["cert-manager", "monitoring"],
    }
    key = result.one("aws:kms/key:Key", f"{prefix}-backup-credentials-key")
    reader = result.one(ROLE_POLICY, f"{prefix}-eks-external-secrets-policy")
    assert key.outputs["arn"] in reader.inputs["policy"]
    # Nothing in the namespace's objects carries a value of a secret.
    for resource in result.resources:
        if (
            resource.type.startswith("kubernetes:")
            and resource.inputs.get("metadata", {}).get("namespace") == "backups"
        ):
            assert resource.type != "kubernetes:core/v1:Secret"
            assert "PGPASSWORD=" not in json.dumps(resource.inputs)


@pytest.mark.parametrize("stack", STACKS)
def test_drill_reads_with_the_reader_role_into_a_throwaway_server_of_rds_major(synthed, stack):
    result = synthed(stack)
    prefix = f"heal7-{stack}"
    pod = _pod(_cronjobs(result)["postgres-restore-drill"])
    containers = _containers(pod)
    assert list(containers) == ["fetch", "postgres", "restore"]
    assert pod["serviceAccountName"] == "postgres-restore-drill"
    reader = result.one(ROLE, f"{prefix}-backups-reader-role")
    accounts = {a.inputs["metadata"]["name"]: a for a in result.of_type(SERVICE_ACCOUNT)}
    annotations = accounts["postgres-restore-drill"].inputs["metadata"]["annotations"]
    assert annotations == {"eks.amazonaws.com/role-arn": reader.outputs["arn"]}
    trust = json.loads(reader.inputs["assumeRolePolicy"])
    assert (
        "system:serviceaccount:backups:postgres-restore-drill"
        in trust["Statement"][0]["Condition"]["StringEquals"].values()
    )
    # Read-only: GetObject and ListBucket on the postgres/ prefix, Decrypt only through S3.
    policy = json.loads(result.one(ROLE_POLICY, f"{prefix}-backups-reader-policy").inputs["policy"])
    actions = sorted(s["Action"] for s in policy["Statement"])
    assert actions == ["kms:Decrypt", "s3:GetObject", "s3:ListBucket"]
    by_action = {s["Action"]: s for s in policy["Statement"]}
    assert by_action["s3:GetObject"]["Resource"].endswith("/postgres/*")
    assert by_action["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": "postgres/*"}}
    assert by_action["kms:Decrypt"]["Condition"]["StringEquals"]["kms:ViaService"] == "s3.ap-northeast-2.amazonaws.com"
    # The fetch verifies the checksum; the server is a native sidecar of RDS's major; the restore
    # checks pg_restore's status and runs the sanity queries.
    assert "sha256sum -c" in containers["fetch"]["command"][2]
    server = containers["postgres"]
    assert server["restartPolicy"] == "Always" and server["image"] == specs.POSTGRES_IMAGES[16]
    assert "listen_addresses=127.0.0.1" in server["args"]
    restore = containers["restore"]["command"][2]
    assert "set -euo pipefail" in restore and "pg_restore --exit-on-error" in restore
    assert '"$tables" -lt 1' in restore and "count(*)" in restore and "\\gexec" in restore
    scratch = next(v for v in pod["volumes"] if v["name"] == "scratch")
    assert scratch["emptyDir"]["sizeLimit"] == server["resources"]["requests"]["ephemeral-storage"] == "10Gi"


@pytest.mark.parametrize("stack", STACKS)
def test_pods_are_restricted_and_pinned(synthed, stack):
    for cronjob in _cronjobs(synthed(stack)).values():
        pod = _pod(cronjob)
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 1001,
            "runAsGroup": 1001,
            "fsGroup": 1001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert pod["automountServiceAccountToken"] is False
        for container in _containers(pod).values():
            assert "@sha256:" in container["image"]
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("stack", STACKS)
def test_network_policies_deny_all_then_dns_postgres_and_https_out(synthed, stack):
    result = synthed(stack)
    policies = {
        p.inputs["metadata"]["name"]: p.inputs["spec"]
        for p in result.of_type(NETWORK_POLICY)
        if p.inputs["metadata"]["namespace"] == "backups"
    }
    assert set(policies) == {"default-deny", "allow-dns", "allow-postgres", "allow-https-to-aws"}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # Nothing may connect in: no policy admits ingress.
    assert all("ingress" not in spec for spec in policies.values())
    postgres = policies["allow-postgres"]
    assert postgres["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "postgres-dump"}}
    subnets = sorted(s.inputs["cidrBlock"] for s in result.of_type("aws:ec2/subnet:Subnet") if "private" in s.name)
    assert sorted(peer["ipBlock"]["cidr"] for peer in postgres["egress"][0]["to"]) == subnets
    assert postgres["egress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    https = policies["allow-https-to-aws"]["egress"][0]
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    assert https["to"] == [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_every_backup_object_passes_strict_validation(synthed, stack):
    clusters = manifests.collect(synthed(stack))
    cluster = clusters[f"heal7-{stack}-eks"]
    objects = [o.manifest for o in cluster.objects if o.manifest["metadata"].get("namespace") == "backups"]
    objects += [
        o.manifest
        for o in cluster.objects
        if o.manifest["kind"] == "Namespace" and o.manifest["metadata"]["name"] == "backups"
    ]
    report = validate_builtin(objects, cluster.version)
    assert report.errors == []
    kinds = sorted(v.split(" ")[1] for v in report.validated)
    assert kinds == ["ConfigMap", "CronJob", "CronJob", "Namespace"] + ["NetworkPolicy"] * 4 + ["ServiceAccount"] * 2
    assert [c["kind"] for c in report.custom] == ["ExternalSecret"]


def _component(**overrides: Any):
    def build(p):
        args = DatabaseBackupsArgs(
            host="db.example",
            port=5432,
            database="heal7",
            user="heal7_backup",
            password_remote_key="heal7-test/backups/postgres-dump",
            ca_certificate="PEM",
            engine_major_version=16,
            bucket_name="bucket",
            writer_role_arn="arn:aws:iam::111122223333:role/writer",
            reader_role_arn="arn:aws:iam::111122223333:role/reader",
            region="ap-northeast-2",
            secret_store_name="platform-secrets",
            database_cidrs=["10.30.0.0/20"],
        )
        for key, value in overrides.items():
            setattr(args, key, value)
        DatabaseBackups("heal7-test-eks-backups", args)
        return {}

    return build


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"engine_major_version": 17}, "engine_major_version 17 has no pinned PostgreSQL image"),
        ({"user": "pg_backup"}, "user must be a lowercase PostgreSQL identifier"),
        ({"dump_schedule": "daily"}, "dump_schedule must be a five-field cron expression, got 'daily'"),
        ({"part_size_mib": 4}, "part_size_mib must be 5-5120"),
        ({"database_cidrs": []}, "database_cidrs must name RDS's subnets"),
    ],
)
def test_bad_arguments_are_refused_before_anything_registers(overrides, message):
    with pytest.raises(SynthError) as caught:
        synth_component(_component(**overrides))
    assert message in str(caught.value)
    # Only synth_component's own providers: nothing of the component registered.
    assert {r.type.split("::")[0] for r in caught.value.result.resources} <= {
        "pulumi:providers:aws",
        "pulumi:providers:gcp",
        "pulumi:providers:random",
        "pulumi:providers:cloudflare",
        "pulumi:providers:kubernetes",
    }


def test_a_major_without_a_pinned_image_is_refused_in_the_stack_file(stack_config):
    config = stack_config("prod")
    config["platform:aws"]["rds"]["engineMajorVersion"] = 17
    config["platform:gcp"].setdefault("cloudSql", {})["engineMajorVersion"] = 17
    assert_rejected_before_any_resource(
        "prod",
        config,
        "platform:aws.rds.engineMajorVersion: expected a major the backup jobs have a pinned PostgreSQL image for (16), got 17",
    )
