"""``proxybo submit`` / ``proxybo schedule`` against the KFP API double: what is posted
(pipeline, parameters, cron, auth header, namespace), and the errors a user gets for bad input,
401, 403 and an unreachable host."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from components import kfp_client
from proxybo.cli import app
from tests.fixtures.kfp_api_double import KfpApiDouble
from tests.fixtures.s3server import free_port

PACKAGE = Path(__file__).resolve().parents[2] / "pipelines" / "compiled" / "proxybo_search.yaml"
STATE = "state_uri=s3://proxybo/searches/nightly"


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests see only the credentials they set: no token, SA token file or kubeconfig."""
    for name in ("KF_PIPELINES_TOKEN", "KF_PIPELINES_ENDPOINT", "MY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(kfp_client.SA_TOKEN_PATH_ENV, str(tmp_path / "no-sa-token"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_submit_posts_a_run_with_the_compiled_pipeline_and_typed_parameters(
    kfp_api: KfpApiDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    kfp_api.token = "s3cr3t"
    monkeypatch.setenv("KF_PIPELINES_TOKEN", "s3cr3t")
    code, out = run(
        "submit",
        "--host",
        kfp_api.url,
        "-p",
        STATE,
        "-p",
        "budget=40",
        "-p",
        'settings={"network": {"C": 8}}',
        "--experiment",
        "nas",
        "--run-name",
        "night-1",
    )
    assert code == 0, out
    assert len(kfp_api.runs) == 1
    run_doc = kfp_api.runs[0]
    assert f"run {run_doc['run_id']} started" in out
    assert run_doc["display_name"] == "night-1"
    assert run_doc["service_account"] == "proxybo-pipeline"
    assert run_doc["runtime_config"]["parameters"] == {
        "state_uri": "s3://proxybo/searches/nightly",
        "budget": 40,
        "settings": {"network": {"C": 8}},
    }
    compiled, platform = yaml.safe_load_all(PACKAGE.read_text())
    assert run_doc["pipeline_spec"]["pipeline_spec"] == compiled
    assert run_doc["pipeline_spec"]["platform_spec"] == platform
    exp = kfp_api.posted("/experiments")[0].json()
    assert exp["display_name"] == "nas"
    assert run_doc["experiment_id"] in kfp_api.experiments
    assert {r.headers.get("authorization") for r in kfp_api.requests} == {"Bearer s3cr3t"}


def test_schedule_uploads_a_version_and_posts_a_recurring_run_with_the_cron(
    kfp_api: KfpApiDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TOKEN", "tok-1")
    kfp_api.token = "tok-1"
    code, out = run(
        "schedule",
        "--host",
        kfp_api.url,
        "--cron",
        "0 0 2 * * *",
        "-p",
        STATE,
        "--token-env",
        "MY_TOKEN",
        "--name",
        "nightly",
    )
    assert code == 0, out
    upload = kfp_api.posted("/pipelines/upload")
    assert len(upload) == 1
    assert upload[0].query["name"] == ["proxybo-search"]
    assert list(yaml.safe_load_all(upload[0].multipart_file())) == list(
        yaml.safe_load_all(PACKAGE.read_text())
    )
    (rec,) = kfp_api.recurring_runs
    assert rec["trigger"] == {"cron_schedule": {"cron": "0 0 2 * * *"}}
    assert rec["display_name"] == "nightly"
    assert rec["max_concurrency"] == 1
    assert rec["no_catchup"] is True
    assert rec["mode"] == "ENABLE"
    assert rec["runtime_config"]["parameters"] == {"state_uri": "s3://proxybo/searches/nightly"}
    (pid,) = kfp_api.pipelines
    assert rec["pipeline_version_reference"] == {
        "pipeline_id": pid,
        "pipeline_version_id": kfp_api.versions[pid][0]["pipeline_version_id"],
    }
    assert "0 0 2 * * *" in out

    # A second schedule adds a version to the same pipeline instead of a second pipeline.
    code, out = run(
        "schedule",
        "--host",
        kfp_api.url,
        "--cron",
        "@daily",
        "-p",
        STATE,
        "--token-env",
        "MY_TOKEN",
    )
    assert code == 0, out
    assert len(kfp_api.pipelines) == 1
    assert len(kfp_api.posted("/pipelines/upload_version")) == 1
    assert (
        kfp_api.recurring_runs[1]["pipeline_version_reference"]["pipeline_version_id"]
        == kfp_api.versions[pid][1]["pipeline_version_id"]
    )


@pytest.mark.parametrize(
    ("cron", "hint"),
    [
        ("0 2 * * *", "Did you mean '0 0 2 * * *'?"),
        ("0 0 25 * * *", "field 3 (hour)"),
        ("0 0 2 * * MON-", "field 6 (day of week)"),
        ("every night", "has 2 fields"),
        ("0 */0 * * * *", "step"),
    ],
)
def test_schedule_refuses_an_invalid_cron_before_sending_anything(
    kfp_api: KfpApiDouble, cron: str, hint: str
) -> None:
    code, out = run("schedule", "--host", kfp_api.url, "--cron", cron, "-p", STATE)
    assert code == 2
    assert "six fields, seconds first" in out
    assert hint in out
    assert kfp_api.requests == []


@pytest.mark.parametrize(
    "cron", ["0 0 2 * * *", "0 30 */6 * * MON-FRI", "0 0 0 1 JAN,JUL ?", "@every 12h", "@weekly"]
)
def test_valid_kfp_crons_pass(cron: str) -> None:
    assert kfp_client.validate_cron(cron) == cron


def test_unknown_or_malformed_parameters_are_refused_before_sending(
    kfp_api: KfpApiDouble,
) -> None:
    code, out = run("submit", "--host", kfp_api.url, "-p", STATE, "-p", "budjet=3")
    assert code == 2
    assert "no parameter 'budjet'" in out and "budget" in out
    code, out = run("submit", "--host", kfp_api.url, "-p", STATE, "-p", "budget=many")
    assert code == 2 and "NUMBER_INTEGER" in out
    code, out = run("submit", "--host", kfp_api.url)
    assert code == 2 and "state_uri" in out
    assert kfp_api.requests == []


def test_missing_token_gives_401_message_and_nonzero_exit(kfp_api: KfpApiDouble) -> None:
    kfp_api.token = "expected"
    code, out = run("submit", "--host", kfp_api.url, "-p", STATE)
    assert code == 1
    assert "401" in out and "no credentials were sent" in out and "KF_PIPELINES_TOKEN" in out
    assert kfp_api.runs == []


def test_wrong_token_gives_403_message_and_nonzero_exit(
    kfp_api: KfpApiDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    kfp_api.token = "expected"
    monkeypatch.setenv("KF_PIPELINES_TOKEN", "stale")
    code, out = run("schedule", "--host", kfp_api.url, "--cron", "0 0 2 * * *", "-p", STATE)
    assert code == 1
    assert "403" in out and "$KF_PIPELINES_TOKEN" in out
    assert kfp_api.recurring_runs == [] and kfp_api.posted("/pipelines/upload") == []


def test_unreachable_host_fails_fast_with_a_clear_message() -> None:
    host = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    code, out = run("submit", "--host", host, "-p", STATE)
    assert code == 1
    assert f"cannot reach the KFP API at {host}" in out
    assert time.monotonic() - start < 10  # no silent client retries


def test_a_host_that_is_not_kfp_is_named_as_such(kfp_api: KfpApiDouble) -> None:
    code, out = run("submit", "--host", kfp_api.url + "/not-kfp", "-p", STATE)
    assert code == 1
    assert "not a KFP v2 API endpoint" in out


def test_in_cluster_service_account_token_is_read_from_its_file(
    kfp_api: KfpApiDouble, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("sa-token-1\n")
    monkeypatch.setenv(kfp_client.SA_TOKEN_PATH_ENV, str(token))
    kfp_api.token = "sa-token-1"
    code, out = run("submit", "--host", kfp_api.url, "-p", STATE)
    assert code == 0, out
    assert "service-account token" in out
    assert kfp_api.runs and kfp_api.requests[-1].headers["authorization"] == "Bearer sa-token-1"


def _kubeconfig(path: Path, token: str | None, namespace: str) -> Path:
    user: dict[str, object] = {"token": token} if token else {"username": "u", "password": "p"}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://k8s.example:6443"}}],
                "users": [{"name": "alice", "user": user}],
                "contexts": [
                    {
                        "name": "kf",
                        "context": {"cluster": "c", "user": "alice", "namespace": namespace},
                    }
                ],
                "current-context": "kf",
            }
        )
    )
    return path


def test_kubeconfig_context_gives_token_and_profile_namespace(
    kfp_api: KfpApiDouble, tmp_path: Path
) -> None:
    cfg = _kubeconfig(tmp_path / "kubeconfig", "kube-token", "team-nas")
    kfp_api.token = "kube-token"
    kfp_api.multi_user = True
    code, out = run(
        "submit",
        "--host",
        kfp_api.url,
        "-p",
        STATE,
        "--auth",
        "kubeconfig",
        "--kubeconfig",
        str(cfg),
        "--kube-context",
        "kf",
    )
    assert code == 0, out
    assert "kubeconfig context 'kf'" in out
    exp = kfp_api.posted("/experiments")[0].json()
    assert exp["namespace"] == "team-nas"
    assert kfp_api.requests[-1].headers["authorization"] == "Bearer kube-token"


def test_kubeconfig_without_a_token_or_with_an_unknown_context_is_explained(
    tmp_path: Path,
) -> None:
    cfg = _kubeconfig(tmp_path / "kubeconfig", None, "team-nas")
    with pytest.raises(kfp_client.KfpAuthError, match="no bearer token"):
        kfp_client.resolve_auth("kubeconfig", kubeconfig=str(cfg))
    with pytest.raises(kfp_client.KfpAuthError, match=r"no context 'prod' \(contexts: kf\)"):
        kfp_client.resolve_auth("kubeconfig", kubeconfig=str(cfg), kube_context="prod")


def test_auto_auth_prefers_the_token_variable(tmp_path: Path) -> None:
    token = tmp_path / "sa"
    token.write_text("sa")
    env = {"KF_PIPELINES_TOKEN": "env-token", kfp_client.SA_TOKEN_PATH_ENV: str(token)}
    assert kfp_client.resolve_auth(environ=env).headers() == {"Authorization": "Bearer env-token"}
    del env["KF_PIPELINES_TOKEN"]
    auth = kfp_client.resolve_auth(environ=env, namespace="ns")
    assert (auth.mode, auth.namespace, auth.bearer()) == ("service-account", "ns", "sa")


def test_compile_writes_a_package_with_the_requested_rounds(tmp_path: Path) -> None:
    out_path = tmp_path / "p.yaml"
    code, out = run(
        "compile", "--out", str(out_path), "--rounds", "2", "--batch-size", "3", "--gpus", "2"
    )
    assert code == 0, out
    spec = next(yaml.safe_load_all(out_path.read_text()))
    executors = spec["deploymentSpec"]["executors"]
    assert sorted(k for k in executors if k.startswith("exec-train-evaluate")) == [
        "exec-train-evaluate",
        "exec-train-evaluate-2",
    ]
    res = executors["exec-train-evaluate"]["container"]["resources"]["accelerator"]
    assert (res["resourceType"], res["resourceCount"]) == ("nvidia.com/gpu", "2")
    code, out = run("compile", "--out", str(out_path), "--node-selector", "gpu")
    assert code == 2 and "KEY=VALUE" in out
    # a place no file can be written: a message, not a traceback
    code, out = run("compile", "--out", str(out_path / "p.yaml"))
    assert code == 2 and f"cannot write the package to {out_path / 'p.yaml'}" in out, out
