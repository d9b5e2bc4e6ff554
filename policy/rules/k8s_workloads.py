"""Pod-level controls for Kubernetes workloads (the checkov CKV_K8S checks that apply to
Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Pods and Argo Rollouts, and the requirement
documents' rules: non-root uid 1001, requests and limits, probes). How a workload rolls out and
where its pods may run are in k8s_scheduling.py."""

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import Config, ResourceCheck, ResourceControl, as_list, checkov, cis_eks, get, requirement

FAMILY = "kubernetes"
# Argo Rollouts' replacement for a Deployment (canary and blueGreen delivery): same pod template
# at spec.template, its own strategy (argo-rollouts docs/features/specification.md).
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS = {
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    "kubernetes:core/v1:Pod": "spec",
    ROLLOUT: "spec.template.spec",
}
WORKLOADS = list(POD_SPEC_PATHS)
# Long-running workloads: run-to-completion Jobs have no probes and no rollout strategy.
SERVING = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet", ROLLOUT]

Container = Mapping[str, Any]


def pod_spec(args: ResourceValidationArgs) -> Mapping[str, Any]:
    return get(args.props, POD_SPEC_PATHS[args.resource_type]) or {}


def delegates_pod_template(args: ResourceValidationArgs) -> bool:
    """A Rollout with `spec.workloadRef` has no pod template of its own: it runs the referenced
    Deployment's, which the pod controls check on that Deployment (argo-rollouts docs/migrating.md)."""
    return args.resource_type == ROLLOUT and get(args.props, "spec.workloadRef") is not None


def pod_check(check: ResourceCheck) -> ResourceCheck:
    """`check`, except on a workload whose pod template lives elsewhere (`delegates_pod_template`)."""

    def checked(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
        if not delegates_pod_template(args):
            yield from check(args, config)

    return checked


def containers(args: ResourceValidationArgs, include_init: bool = True) -> list[Container]:
    spec = pod_spec(args)
    found = as_list(get(spec, "containers"))
    return found + as_list(get(spec, "initContainers")) if include_init else found


def security_setting(args: ResourceValidationArgs, container: Container, key: str) -> Any:
    """A container's securityContext value, falling back to the pod's (Kubernetes' own precedence)."""
    value = get(container, f"securityContext.{key}")
    return get(pod_spec(args), f"securityContext.{key}") if value is None else value


def _per_container(
    problem: Callable[[ResourceValidationArgs, Container, Config], str | None], include_init: bool = True
) -> ResourceCheck:
    @pod_check
    def check(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
        for container in containers(args, include_init):
            message = problem(args, container, config)
            if message:
                yield f"container {get(container, 'name')!r}: {message}"

    return check


def _probe(kind: str):
    return _per_container(lambda _a, c, _c: None if get(c, kind) else f"no {kind}", include_init=False)


def _resource(section: str, resource: str):
    return _per_container(
        lambda _a, c, _c: (
            None
            if get(c, f"resources.{section}.{resource}")
            else f"no {resource} {section[:-1]} (resources.{section}.{resource})"
        )
    )


def image_tag(image: str) -> str | None:
    """The tag of an image reference, or None when it has none (a digest is not a tag)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _no_latest(_: ResourceValidationArgs, container: Container, __: Config) -> str | None:
    image = get(container, "image") or ""
    tag = image_tag(image)
    if tag == "latest" or (tag is None and "@sha256:" not in image):
        return f"image {image!r} names the {'latest' if tag else 'implicit latest'} tag"
    return None


def _digest(_: ResourceValidationArgs, container: Container, __: Config) -> str | None:
    image = get(container, "image") or ""
    return None if "@sha256:" in image else f"image {image!r} is not pinned by digest"


def _pod_flag(flag: str, problem: str) -> ResourceCheck:
    @pod_check
    def check(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
        if get(pod_spec(args), flag) is True:
            yield f"{problem} ({flag})"

    return check


def _privileged(_: ResourceValidationArgs, container: Container, __: Config) -> str | None:
    return "runs privileged (securityContext.privileged)" if get(container, "securityContext.privileged") else None


def _no_escalation(_: ResourceValidationArgs, container: Container, __: Config) -> str | None:
    # Kubernetes allows escalation unless the field is false.
    if get(container, "securityContext.allowPrivilegeEscalation") is not False:
        return "may gain privileges (securityContext.allowPrivilegeEscalation is not false)"
    return None


def _read_only_root(_: ResourceValidationArgs, container: Container, __: Config) -> str | None:
    if get(container, "securityContext.readOnlyRootFilesystem") is not True:
        return "writes to its root filesystem (securityContext.readOnlyRootFilesystem)"
    return None


def _non_root(args: ResourceValidationArgs, container: Container, _: Config) -> str | None:
    # Pod Security "restricted": runAsNonRoot true makes the kubelet refuse a root user.
    non_root = security_setting(args, container, "runAsNonRoot") is True
    if not non_root or security_setting(args, container, "runAsUser") == 0:
        return "may run as root (securityContext.runAsNonRoot is not true, or runAsUser is 0)"
    return None


def _application_uid(args: ResourceValidationArgs, container: Container, config: Config) -> str | None:
    user = security_setting(args, container, "runAsUser")
    if user != config["runAsUser"]:
        shown = f"uid {user:g}" if isinstance(user, (int, float)) else "the image's user"
        return f"runs as {shown}, not uid {config['runAsUser']:g} (securityContext.runAsUser)"
    return None


def _drop_all(_: ResourceValidationArgs, container: Container, config: Config) -> str | None:
    dropped = as_list(get(container, "securityContext.capabilities.drop"))
    added = [c for c in as_list(get(container, "securityContext.capabilities.add")) if c not in config["allowedAdded"]]
    if "ALL" not in dropped:
        return "keeps the runtime's default capabilities (capabilities.drop ['ALL'])"
    return f"adds capabilities {added}" if added else None


def _seccomp(args: ResourceValidationArgs, container: Container, _: Config) -> str | None:
    profile = security_setting(args, container, "seccompProfile.type")
    if profile in ("RuntimeDefault", "Localhost"):
        return None
    return f"runs without a seccomp profile ({profile or 'unset'})"


@pod_check
def _token_automount(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    spec = pod_spec(args)
    account = get(spec, "serviceAccountName") or "default"
    if account not in config["apiClients"] and get(spec, "automountServiceAccountToken") is not False:
        yield f"service account {account!r} gets an API token it does not need (automountServiceAccountToken)"


@pod_check
def _named_service_account(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if (get(pod_spec(args), "serviceAccountName") or "default") == "default":
        yield "pods run as the namespace's default service account (serviceAccountName)"


def kubernetes_control(
    name: str,
    description: str,
    severity: Severity,
    framework,
    types: list[str],
    when_absent: str,
    remediation: str,
    check,
    settings=None,
) -> ResourceControl:
    """A control of the kubernetes family, arguments in the order the tables below read."""
    return ResourceControl(
        name=name,
        description=description,
        severity=severity,
        framework=framework,
        family=FAMILY,
        resource_types=types,
        when_absent=when_absent,
        remediation=remediation,
        check=check,
        settings=settings,
    )


_control = kubernetes_control

POLICIES = [
    _control(
        "k8s-liveness-probe",
        "Serving containers declare a liveness probe.",
        Severity.MEDIUM,
        checkov("CKV_K8S_8"),
        SERVING,
        "insecure: without a probe a hung container is never restarted",
        "add livenessProbe (the app's /health)",
        _probe("livenessProbe"),
    ),
    _control(
        "k8s-readiness-probe",
        "Serving containers declare a readiness probe.",
        Severity.MEDIUM,
        checkov("CKV_K8S_9"),
        SERVING,
        "insecure: without a probe traffic reaches pods before they are ready",
        "add readinessProbe (the app's /ready)",
        _probe("readinessProbe"),
    ),
    _control(
        "k8s-cpu-requests",
        "Containers request CPU.",
        Severity.MEDIUM,
        checkov("CKV_K8S_10"),
        WORKLOADS,
        "insecure: an unset request schedules the pod as best-effort",
        "set resources.requests.cpu",
        _resource("requests", "cpu"),
    ),
    _control(
        "k8s-cpu-limits",
        "Containers limit CPU.",
        Severity.MEDIUM,
        checkov("CKV_K8S_11"),
        WORKLOADS,
        "insecure: an unset limit lets one pod starve its node",
        "set resources.limits.cpu",
        _resource("limits", "cpu"),
    ),
    _control(
        "k8s-memory-requests",
        "Containers request memory.",
        Severity.MEDIUM,
        checkov("CKV_K8S_12"),
        WORKLOADS,
        "insecure: an unset request hides the pod's size from the scheduler",
        "set resources.requests.memory",
        _resource("requests", "memory"),
    ),
    _control(
        "k8s-memory-limits",
        "Containers limit memory.",
        Severity.MEDIUM,
        checkov("CKV_K8S_13"),
        WORKLOADS,
        "insecure: an unset limit lets one pod exhaust its node",
        "set resources.limits.memory",
        _resource("limits", "memory"),
    ),
    _control(
        "k8s-image-no-latest",
        "Images name a version, never latest.",
        Severity.HIGH,
        checkov("CKV_K8S_14"),
        WORKLOADS,
        "insecure: an image without a tag means latest",
        "pin a version tag or a digest",
        _per_container(_no_latest),
    ),
    _control(
        "k8s-image-digest",
        "Images are pinned by digest.",
        Severity.HIGH,
        checkov("CKV_K8S_43"),
        WORKLOADS,
        "insecure: a tag can be re-pointed; only a digest is immutable",
        "reference images as <repo>@sha256:<digest>",
        _per_container(_digest),
    ),
    _control(
        "k8s-no-privileged",
        "No container runs privileged.",
        Severity.CRITICAL,
        checkov("CKV_K8S_16"),
        WORKLOADS,
        "secure: privileged defaults to false",
        "remove securityContext.privileged",
        _per_container(_privileged),
    ),
    _control(
        "k8s-no-host-pid",
        "Pods do not share the host's PID namespace.",
        Severity.HIGH,
        checkov("CKV_K8S_17"),
        WORKLOADS,
        "secure: hostPID defaults to false",
        "remove hostPID",
        _pod_flag("hostPID", "the pod sees every process on the node"),
    ),
    _control(
        "k8s-no-host-ipc",
        "Pods do not share the host's IPC namespace.",
        Severity.HIGH,
        checkov("CKV_K8S_18"),
        WORKLOADS,
        "secure: hostIPC defaults to false",
        "remove hostIPC",
        _pod_flag("hostIPC", "the pod shares the node's IPC"),
    ),
    _control(
        "k8s-no-host-network",
        "Pods do not use the host's network.",
        Severity.HIGH,
        checkov("CKV_K8S_19"),
        WORKLOADS,
        "secure: hostNetwork defaults to false",
        "remove hostNetwork",
        _pod_flag("hostNetwork", "the pod bypasses network policies on the node's network"),
    ),
    _control(
        "k8s-no-privilege-escalation",
        "Containers cannot gain more privileges than their parent.",
        Severity.HIGH,
        checkov("CKV_K8S_20"),
        WORKLOADS,
        "insecure: allowPrivilegeEscalation defaults to true",
        "set securityContext.allowPrivilegeEscalation false",
        _per_container(_no_escalation),
    ),
    _control(
        "k8s-read-only-root-filesystem",
        "Containers run with a read-only root filesystem.",
        Severity.MEDIUM,
        checkov("CKV_K8S_22"),
        WORKLOADS,
        "insecure: the root filesystem is writable by default",
        "set securityContext.readOnlyRootFilesystem true and mount an emptyDir for scratch space",
        _per_container(_read_only_root),
    ),
    _control(
        "k8s-run-as-non-root",
        "Containers run as a non-root user.",
        Severity.HIGH,
        checkov("CKV_K8S_23"),
        WORKLOADS,
        "insecure: without runAsNonRoot the kubelet runs whatever user the image names, root included",
        "set securityContext.runAsNonRoot true on the pod",
        _per_container(_non_root),
    ),
    _control(
        "k8s-application-uid",
        "Containers run as the application uid both requirement documents use (1001).",
        Severity.MEDIUM,
        requirement("Dockerfile USER 1001"),
        WORKLOADS,
        "insecure: without runAsUser the image decides",
        "set securityContext.runAsUser 1001 (pod or container)",
        _per_container(_application_uid),
        settings={"runAsUser": {"type": "integer", "minimum": 1, "default": 1001}},
    ),
    _control(
        "k8s-drop-all-capabilities",
        "Containers drop every Linux capability.",
        Severity.MEDIUM,
        checkov("CKV_K8S_37"),
        WORKLOADS,
        "insecure: the runtime's default set includes NET_RAW",
        "set securityContext.capabilities.drop ['ALL'] (add back only NET_BIND_SERVICE if needed)",
        _per_container(_drop_all),
        settings={"allowedAdded": {"type": "array", "items": {"type": "string"}, "default": ["NET_BIND_SERVICE"]}},
    ),
    _control(
        "k8s-seccomp-runtime-default",
        "Containers run under the RuntimeDefault seccomp profile.",
        Severity.MEDIUM,
        checkov("CKV_K8S_31"),
        WORKLOADS,
        "insecure: Kubernetes defaults to Unconfined",
        "set securityContext.seccompProfile.type 'RuntimeDefault' on the pod",
        _per_container(_seccomp),
    ),
    _control(
        "k8s-no-token-automount",
        "Pods mount a service-account token only when they call the API.",
        Severity.MEDIUM,
        checkov("CKV_K8S_38"),
        WORKLOADS,
        "insecure: tokens are mounted by default",
        "set automountServiceAccountToken false, or list the account in apiClients",
        _token_automount,
        settings={
            "apiClients": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "service accounts whose pods call the Kubernetes API",
            }
        },
    ),
    _control(
        "k8s-no-default-service-account",
        "Pods run as their own service account.",
        Severity.MEDIUM,
        cis_eks("4.1.5"),
        WORKLOADS,
        "insecure: serviceAccountName defaults to 'default'",
        "create a ServiceAccount per workload and set serviceAccountName",
        _named_service_account,
    ),
]
