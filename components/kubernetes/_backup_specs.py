"""The pod specs and scripts of DatabaseBackups' two CronJobs, as plain data (database_backups.py
wires them). Two images, each pinned by digest, because no single official image has both
`pg_dump` and the AWS CLI: PostgreSQL's own image (pg_dump, pg_restore, psql and the scratch server,
same major as RDS) and the AWS CLI's.

The dump: `dump` (PostgreSQL image) runs pg_dump into a FIFO on a shared emptyDir through `tee`
into `sha256sum`; `upload` (AWS CLI image) reads the FIFO in parts and sends each as one part of
an S3 multipart upload, so no full copy of the dump is ever on the node (at most one part). The
backup bucket refuses any object-creating write without `If-None-Match: *` (BackupBucket), which
`aws s3 cp` cannot send; CompleteMultipartUpload and PutObject can (`--if-none-match '*'`,
AWS CLI >= 2.17). A failed pg_dump aborts the upload: no partial dump ever becomes an object.

The drill: `fetch` (AWS CLI, init container) downloads the newest dump and its checksum and
verifies it; `postgres` (a native sidecar: an init container with restartPolicy Always, GA in
Kubernetes 1.33) runs a throwaway server on the pod's emptyDir, listening on 127.0.0.1 only;
`restore` (main container) runs pg_restore into it and the sanity queries. The Job succeeds only
if every step did; the sidecar stops with it.
"""

from typing import Any

# Official images by their manifest-list digests. The digests were taken from public repositories
# that pin the same tag (several agreeing), not read from the registry here: re-read them with
# `crane digest <image:tag>` when changing a tag. A major without an image is refused (RDS's
# engineMajorVersion must have its pg_dump: an older pg_dump refuses a newer server).
POSTGRES_IMAGES = {
    16: "docker.io/library/postgres:16.15-bookworm@sha256:bb3e1a57e5407e0a5280b4211980a5e537f4abd234a87014ac979849a78dd825",
}
# AWS CLI 2.37.5: `--if-none-match` on put-object and complete-multipart-upload (2.17 and later).
AWS_CLI_IMAGE = (
    "docker.io/amazon/aws-cli:2.37.5@sha256:fb7ccfc7b4e3a05017e6c9ded4ba959b99af622130e211fb976c68c2f4d3f224"
)
# The platform's application uid (the policy pack's k8s-application-uid); neither image needs its
# own user (the PostgreSQL entrypoint supports an arbitrary uid through nss_wrapper).
UID = 1001
SHARED = "/shared"
SCRATCH = "/scratch"
CA_MOUNT = "/etc/platform/ca"
PGDATA = f"{SCRATCH}/pgdata"
DUMP_FILE = f"{SCRATCH}/dump/latest.dump"
NO_SIDECAR = {"sidecar.istio.io/inject": "false"}

# pg_dump streams through tee: the FIFO for the uploader, sha256sum for the checksum. pipefail makes
# a failed pg_dump the pipeline's status, which the uploader reads before completing the upload.
DUMP_SCRIPT = f"""set -euo pipefail
for _ in $(seq 1 300); do [ -p {SHARED}/dump.fifo ] && break; sleep 1; done
[ -p {SHARED}/dump.fifo ] || {{ echo "the uploader never created its FIFO" >&2; exit 1; }}
status=0
pg_dump --format=custom --no-password --lock-wait-timeout=300000 \\
  | tee {SHARED}/dump.fifo | sha256sum | cut -d' ' -f1 > {SHARED}/dump.sha256 || status=$?
echo "$status" > {SHARED}/dump.status
exit "$status"
"""

# Each part is read whole (dd iflag=fullblock) from the FIFO, uploaded, then overwritten by the next.
UPLOAD_SCRIPT = f"""set -euo pipefail
stamp=$(date -u +%Y%m%dT%H%M%SZ)
key="$PREFIX/$stamp.dump"
mkfifo {SHARED}/dump.fifo
# The read end first: if this script dies before the stream starts (credentials, KMS, the
# network), the dump's tee gets SIGPIPE at once instead of blocking on open for the whole
# deadline while pg_dump holds its snapshot on RDS.
exec 3< {SHARED}/dump.fifo
upload_id=
upload_id=$(aws s3api create-multipart-upload --bucket "$BUCKET" --key "$key" --query UploadId --output text)
done=false
abort() {{
  if [ "$done" != true ]; then
    [ -z "$upload_id" ] || aws s3api abort-multipart-upload --bucket "$BUCKET" --key "$key" --upload-id "$upload_id" || true
  fi
}}
trap abort EXIT
part=1
printf '{{"Parts":[' > {SHARED}/parts.json
while :; do
  dd bs=1M count="$PART_MIB" iflag=fullblock status=none <&3 > {SHARED}/part
  [ -s {SHARED}/part ] || break
  etag=$(aws s3api upload-part --bucket "$BUCKET" --key "$key" --upload-id "$upload_id" \\
    --part-number "$part" --body {SHARED}/part --query ETag --output json)
  [ "$part" -eq 1 ] || printf ',' >> {SHARED}/parts.json
  printf '{{"ETag":%s,"PartNumber":%d}}' "$etag" "$part" >> {SHARED}/parts.json
  part=$((part + 1))
done
exec 3<&-
rm -f {SHARED}/part
printf ']}}' >> {SHARED}/parts.json
for _ in $(seq 1 120); do [ -f {SHARED}/dump.status ] && break; sleep 1; done
status=$(cat {SHARED}/dump.status 2>/dev/null || echo missing)
if [ "$status" != 0 ] || [ "$part" -eq 1 ]; then
  echo "pg_dump failed (status $status, $((part - 1)) parts read): upload aborted" >&2
  exit 1
fi
# The checksum before the dump: a dump is never visible without its checksum (the drill takes the
# newest .dump and checks it), while a stray checksum without a dump is ignored.
printf '%s  %s\\n' "$(cat {SHARED}/dump.sha256)" "$stamp.dump" > {SHARED}/checksum
aws s3api put-object --bucket "$BUCKET" --key "$key.sha256" --body {SHARED}/checksum \\
  --content-type text/plain --if-none-match '*' > /dev/null
aws s3api complete-multipart-upload --bucket "$BUCKET" --key "$key" --upload-id "$upload_id" \\
  --multipart-upload file://{SHARED}/parts.json --if-none-match '*' > /dev/null
done=true
echo "uploaded s3://$BUCKET/$key in $((part - 1)) parts, sha256 $(cat {SHARED}/dump.sha256)"
"""

# Keys are UTC timestamps, so the greatest key is the newest dump.
FETCH_SCRIPT = f"""set -euo pipefail
mkdir -p {SCRATCH}/dump
# JSON output: the CLI applies --query to the merged pages (text output applies it per page of
# 1,000 keys), so the newest key is one key however many dumps the prefix holds.
key=$(aws s3api list-objects-v2 --bucket "$BUCKET" --prefix "$PREFIX/" --output json \\
  --query "sort_by(Contents[?ends_with(Key, '.dump')] || \\`[]\\`, &Key)[-1].Key" | tr -d '"')
if [ -z "$key" ] || [ "$key" = null ] || [ "$key" = None ]; then echo "no dump under s3://$BUCKET/$PREFIX/" >&2; exit 1; fi
aws s3 cp --only-show-errors "s3://$BUCKET/$key" {DUMP_FILE}
aws s3 cp --only-show-errors "s3://$BUCKET/$key.sha256" {DUMP_FILE}.sha256
echo "$(cut -d' ' -f1 {DUMP_FILE}.sha256)  {DUMP_FILE}" | sha256sum -c -
echo "$key" > {SCRATCH}/dump/key
"""

USER_TABLES = (
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%'"
)
# pg_restore's exit status (set -e), then: at least one table, and the row count of the 20 largest
# (each a full scan: every one of them must be readable).
RESTORE_SCRIPT = f"""set -euo pipefail
until pg_isready -q; do sleep 2; done
echo "restoring $(cat {SCRATCH}/dump/key)"
createdb restored
pg_restore --exit-on-error --no-owner --no-privileges --jobs=2 --dbname=restored {DUMP_FILE}
tables=$(psql -XAtq -v ON_ERROR_STOP=1 -d restored -c "SELECT count(*) {USER_TABLES}")
if [ "$tables" -lt 1 ]; then echo "the restored database has no tables" >&2; exit 1; fi
echo "restored $tables tables; row counts of the largest:"
psql -XAq -v ON_ERROR_STOP=1 -d restored <<'SQL'
SELECT format('SELECT %L AS "table", count(*) AS "rows" FROM %I.%I', n.nspname || '.' || c.relname, n.nspname, c.relname)
{USER_TABLES.replace("('r', 'p')", "('r')")}
ORDER BY pg_catalog.pg_total_relation_size(c.oid) DESC LIMIT 20
\\gexec
SQL
echo "restore drill passed"
"""


def _restricted() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        # The emptyDirs are group-writable for the uid's group.
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def job_spec(
    pod: dict[str, Any], *, name: str, timeout_seconds: int, backoff_limit: int, labels: dict[str, str]
) -> dict[str, Any]:
    """`jobTemplate.spec`: one pod per attempt (restartPolicy Never: a retry starts from a clean
    emptyDir and a new upload), killed with its containers at `timeout_seconds`."""
    return {
        "activeDeadlineSeconds": timeout_seconds,
        "backoffLimit": backoff_limit,
        "template": {
            "metadata": {"labels": {**labels, "app.kubernetes.io/name": name}, "annotations": NO_SIDECAR},
            "spec": {"restartPolicy": "Never", **pod},
        },
    }


def dump_pod(
    *,
    postgres_image: str,
    service_account: str,
    host: str,
    port: int,
    database: str,
    user: str,
    password_secret: str,
    password_key: str,
    ca_configmap: str,
    ca_file: str,
    bucket: str,
    prefix: str,
    region: str,
    part_mib: int,
) -> dict[str, Any]:
    """The dump pod's spec (without restartPolicy)."""
    return {
        "serviceAccountName": service_account,
        # No Kubernetes API token: the IRSA token is a separate projected volume the EKS pod
        # identity webhook adds for the annotated service account.
        "automountServiceAccountToken": False,
        "securityContext": _pod_security(),
        "containers": [
            {
                "name": "dump",
                "image": postgres_image,
                "command": ["/bin/bash", "-c", DUMP_SCRIPT],
                "env": [
                    {"name": "PGHOST", "value": host},
                    {"name": "PGPORT", "value": str(port)},
                    {"name": "PGDATABASE", "value": database},
                    {"name": "PGUSER", "value": user},
                    {
                        "name": "PGPASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": password_secret, "key": password_key}},
                    },
                    # RDS's certificate names its endpoint and chains to the region's RDS root.
                    {"name": "PGSSLMODE", "value": "verify-full"},
                    {"name": "PGSSLROOTCERT", "value": f"{CA_MOUNT}/{ca_file}"},
                    {"name": "PGCONNECT_TIMEOUT", "value": "30"},
                    {"name": "PGAPPNAME", "value": "postgres-dump"},
                ],
                # pg_dump is mostly waiting on the network; compression (custom format's default) is the CPU.
                "resources": _resources("250m", "256Mi", "1", "512Mi"),
                "securityContext": _restricted(),
                "volumeMounts": [
                    {"name": "shared", "mountPath": SHARED},
                    {"name": "rds-ca", "mountPath": CA_MOUNT, "readOnly": True},
                ],
            },
            {
                "name": "upload",
                "image": AWS_CLI_IMAGE,
                "command": ["/bin/bash", "-c", UPLOAD_SCRIPT],
                "env": [
                    {"name": "BUCKET", "value": bucket},
                    {"name": "PREFIX", "value": prefix},
                    {"name": "PART_MIB", "value": str(part_mib)},
                    {"name": "AWS_REGION", "value": region},
                    {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
                    # The CLI's cache and config under a writable home (the root filesystem is read-only).
                    {"name": "HOME", "value": "/tmp"},
                ],
                "resources": _resources("100m", "256Mi", "500m", "512Mi"),
                "securityContext": _restricted(),
                "volumeMounts": [{"name": "shared", "mountPath": SHARED}, {"name": "tmp", "mountPath": "/tmp"}],
            },
        ],
        "volumes": [
            # The FIFO, one part at a time and the checksum: a few parts' room is plenty.
            {"name": "shared", "emptyDir": {"sizeLimit": f"{2 * part_mib + 64}Mi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "rds-ca", "configMap": {"name": ca_configmap}},
        ],
    }


def drill_pod(
    *, postgres_image: str, service_account: str, bucket: str, prefix: str, region: str, scratch_gib: int
) -> dict[str, Any]:
    """The restore drill pod's spec (without restartPolicy)."""
    local = [
        {"name": "PGHOST", "value": "127.0.0.1"},
        {"name": "PGUSER", "value": "postgres"},
        {"name": "PGDATABASE", "value": "postgres"},
        {"name": "HOME", "value": "/tmp"},
    ]
    postgres_mounts = [
        {"name": "scratch", "mountPath": SCRATCH},
        {"name": "run", "mountPath": "/var/run/postgresql"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "securityContext": _pod_security(),
        "initContainers": [
            {
                "name": "fetch",
                "image": AWS_CLI_IMAGE,
                "command": ["/bin/bash", "-c", FETCH_SCRIPT],
                "env": [
                    {"name": "BUCKET", "value": bucket},
                    {"name": "PREFIX", "value": prefix},
                    {"name": "AWS_REGION", "value": region},
                    {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
                    {"name": "HOME", "value": "/tmp"},
                ],
                "resources": _resources("100m", "256Mi", "500m", "512Mi"),
                "securityContext": _restricted(),
                "volumeMounts": [{"name": "scratch", "mountPath": SCRATCH}, {"name": "tmp", "mountPath": "/tmp"}],
            },
            {
                # The throwaway server: a native sidecar, so the Job completes when `restore` exits.
                "name": "postgres",
                "image": postgres_image,
                "restartPolicy": "Always",
                "args": [
                    "postgres",
                    # Only this pod's containers reach it; trust is then no weaker than the pod boundary.
                    "-c",
                    "listen_addresses=127.0.0.1",
                    # Throwaway data: durability settings only slow the restore down.
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "synchronous_commit=off",
                ],
                "env": [
                    {"name": "POSTGRES_HOST_AUTH_METHOD", "value": "trust"},
                    # A directory initdb creates (and owns) inside the emptyDir.
                    {"name": "PGDATA", "value": PGDATA},
                ],
                "startupProbe": {
                    "exec": {"command": ["pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres"]},
                    "periodSeconds": 5,
                    "failureThreshold": 60,
                },
                # The restore's memory is mostly the server's (maintenance_work_mem, shared buffers).
                "resources": {
                    **_resources("500m", "1Gi", "2", "2Gi"),
                    "requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": f"{scratch_gib}Gi"},
                },
                "securityContext": _restricted(),
                "volumeMounts": postgres_mounts,
            },
        ],
        "containers": [
            {
                "name": "restore",
                "image": postgres_image,
                "command": ["/bin/bash", "-c", RESTORE_SCRIPT],
                "env": local,
                "resources": _resources("250m", "256Mi", "1", "512Mi"),
                "securityContext": _restricted(),
                "volumeMounts": [{"name": "scratch", "mountPath": SCRATCH, "readOnly": True}, postgres_mounts[2]],
            }
        ],
        "volumes": [
            # The dump and the restored database, on the node's disk.
            {"name": "scratch", "emptyDir": {"sizeLimit": f"{scratch_gib}Gi"}},
            {"name": "run", "emptyDir": {"sizeLimit": "16Mi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }
