"""Talking to a Kubeflow Pipelines (KFP v2) API server: authentication, runs and recurring runs.

Used by ``proxybo submit`` and ``proxybo schedule``; the compiled pipeline package is an input
(a path), so this module knows nothing of how the pipeline is built.

Authentication, as Kubeflow users expect it (`resolve_auth`, ``mode="auto"`` tries them in this
order):

1. ``token``: a bearer token from an environment variable (default ``KF_PIPELINES_TOKEN``), e.g.
   ``kubectl create token ...`` or an OIDC id token of the Kubeflow login;
2. ``service-account``: inside a pod, the audience-bound service-account token that KFP
   mounts (``KF_PIPELINES_SA_TOKEN_PATH`` or ``/var/run/secrets/kubeflow/pipelines/token``),
   via `kfp.client.ServiceAccountTokenVolumeCredentials` (re-read before each call, so the
   kubelet's refreshes are picked up);
3. ``kubeconfig``: the token and namespace of a kubeconfig context (the current one unless named),
   read with the ``kubernetes`` client (exec and OIDC auth providers included);
4. ``none``: no credentials (a port-forwarded single-user KFP).

Before anything is sent, `preflight` calls ``/apis/v2beta1/healthz`` with those credentials, so
a wrong host, an unreachable one, a login redirect, 401 and 403 become a `KfpError` whose message
says what to change, instead of the KFP client's retries and tracebacks.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import re
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

if TYPE_CHECKING:
    import kfp.client

__all__ = [
    "AUTH_MODES",
    "DEFAULT_TOKEN_ENV",
    "Auth",
    "KfpAuthError",
    "KfpError",
    "KfpUnreachableError",
    "RecurringRunInfo",
    "RunInfo",
    "connect",
    "parse_parameters",
    "pipeline_parameters",
    "preflight",
    "resolve_auth",
    "schedule",
    "submit",
    "validate_cron",
]

AuthMode = Literal["auto", "token", "service-account", "kubeconfig", "none"]
AUTH_MODES: tuple[str, ...] = ("auto", "token", "service-account", "kubeconfig", "none")
DEFAULT_TOKEN_ENV = "KF_PIPELINES_TOKEN"
SA_TOKEN_PATH_ENV = "KF_PIPELINES_SA_TOKEN_PATH"
DEFAULT_SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
POD_NAMESPACE_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
API = "/apis/v2beta1"


class KfpError(RuntimeError):
    """A submission that cannot go through; the message says what to change."""


class KfpUnreachableError(KfpError):
    """Nothing (or no KFP API) answers at the host."""


class KfpAuthError(KfpError):
    """The API refused the credentials (401, 403 or a redirect to a login page)."""


# --------------------------------------------------------------------------------- auth


@dataclass(frozen=True)
class Auth:
    """Resolved credentials: how (`mode`), a static bearer `token` or a service-account
    `token_path`, the `namespace` to use (multi-user Kubeflow: the profile namespace) and a
    human-readable `source`."""

    mode: str
    token: str | None = None
    token_path: str | None = None
    namespace: str | None = None
    source: str = "no credentials"

    def bearer(self) -> str | None:
        """The token to send now (read from `token_path` each time: the kubelet rotates it)."""
        if self.token_path:
            try:
                return Path(self.token_path).read_text().strip() or None
            except OSError as exc:
                raise KfpAuthError(
                    f"cannot read the service-account token {self.token_path}: {exc}"
                ) from None
        return self.token

    def headers(self) -> dict[str, str]:
        token = self.bearer()
        return {"Authorization": f"Bearer {token}"} if token else {}


def _kubeconfig_auth(context: str | None, config_file: str | None) -> Auth:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    try:
        contexts, current = k8s_config.list_kube_config_contexts(config_file=config_file)
    except (k8s_config.ConfigException, OSError) as exc:
        raise KfpAuthError(f"cannot read the kubeconfig: {exc}") from None
    chosen = current
    if context is not None:
        chosen = next((c for c in contexts if c["name"] == context), None)
        if chosen is None:
            names = ", ".join(c["name"] for c in contexts) or "none"
            raise KfpAuthError(f"kubeconfig has no context {context!r} (contexts: {names})")
    if not chosen:
        raise KfpAuthError("the kubeconfig has no current context; pass --kube-context")
    cfg = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=config_file, context=chosen["name"], client_configuration=cfg
        )
    except (k8s_config.ConfigException, OSError) as exc:
        raise KfpAuthError(f"cannot load kubeconfig context {chosen['name']!r}: {exc}") from None
    header = str(cfg.api_key.get("authorization") or "")
    token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    if not token:
        raise KfpAuthError(
            f"kubeconfig context {chosen['name']!r} has no bearer token (client certificates "
            "and basic auth are not accepted by the KFP API); use a token (--token-env) instead"
        )
    namespace = chosen.get("context", {}).get("namespace")
    return Auth(
        mode="kubeconfig",
        token=token,
        namespace=namespace,
        source=f"kubeconfig context {chosen['name']!r}",
    )


def _pod_namespace() -> str | None:
    try:
        return Path(POD_NAMESPACE_PATH).read_text().strip() or None
    except OSError:
        return None


def resolve_auth(
    mode: str = "auto",
    *,
    token_env: str = DEFAULT_TOKEN_ENV,
    kube_context: str | None = None,
    kubeconfig: str | None = None,
    namespace: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Auth:
    """Credentials and namespace for the KFP API (see the module docstring for the order).

    An explicit `namespace` wins over the kubeconfig context's and the pod's.
    """
    env = os.environ if environ is None else environ
    if mode not in AUTH_MODES:
        raise KfpError(f"unknown auth mode {mode!r}; use one of {', '.join(AUTH_MODES)}")
    sa_path = env.get(SA_TOKEN_PATH_ENV) or DEFAULT_SA_TOKEN_PATH
    auth: Auth | None = None
    if mode in ("auto", "token") and env.get(token_env):
        auth = Auth(mode="token", token=env[token_env].strip(), source=f"${token_env}")
    elif mode == "token":
        raise KfpAuthError(f"--auth token: environment variable {token_env} is not set or empty")
    if auth is None and mode in ("auto", "service-account"):
        if Path(sa_path).is_file():
            auth = Auth(
                mode="service-account",
                token_path=sa_path,
                namespace=_pod_namespace(),
                source=f"service-account token {sa_path}",
            )
        elif mode == "service-account":
            raise KfpAuthError(
                f"--auth service-account: no token file at {sa_path} (set {SA_TOKEN_PATH_ENV}, "
                "or run in a pod with the KFP service-account token volume)"
            )
    if auth is None and mode == "kubeconfig":
        auth = _kubeconfig_auth(kube_context, kubeconfig)
    if auth is None and mode == "auto" and (kube_context or kubeconfig or _has_kubeconfig(env)):
        with contextlib.suppress(KfpAuthError):
            auth = _kubeconfig_auth(kube_context, kubeconfig)
        if auth is None and kube_context:
            auth = _kubeconfig_auth(kube_context, kubeconfig)  # raise the clear error
    auth = auth or Auth(mode="none")
    if namespace:
        auth = Auth(auth.mode, auth.token, auth.token_path, namespace, auth.source)
    return auth


def _has_kubeconfig(env: Mapping[str, str]) -> bool:
    paths = env.get("KUBECONFIG", "").split(os.pathsep) if env.get("KUBECONFIG") else []
    paths.append(os.path.expanduser("~/.kube/config"))
    return any(p and Path(p).is_file() for p in paths)


# --------------------------------------------------------------------------------- preflight


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _auth_hint(auth: Auth) -> str:
    if auth.mode == "none":
        return (
            f"no credentials were sent: set ${DEFAULT_TOKEN_ENV} (or --token-env NAME) to a "
            "bearer token, use --auth kubeconfig, or run in-cluster with a service-account token"
        )
    return f"credentials from {auth.source} were sent"


def preflight(host: str, auth: Auth, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """Check that a KFP v2 API answers at `host` and accepts `auth`; return its healthz."""
    url = host.rstrip("/") + f"{API}/healthz"
    request = urllib.request.Request(url, headers={"Accept": "application/json", **auth.headers()})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            what = (
                "rejected the credentials (401 Unauthorized)"
                if exc.code == 401
                else (
                    "refused access (403 Forbidden): the identity has no access to KFP"
                    + (f" in namespace {auth.namespace!r}" if auth.namespace else "")
                )
            )
            raise KfpAuthError(f"KFP API at {host} {what}; {_auth_hint(auth)}") from None
        if 300 <= exc.code < 400:
            raise KfpAuthError(
                f"KFP API at {host} redirected to {exc.headers.get('Location', 'a login page')} "
                f"(HTTP {exc.code}): the endpoint is behind a login; {_auth_hint(auth)}"
            ) from None
        if exc.code == 404:
            raise KfpUnreachableError(
                f"{host} answered 404 for {API}/healthz: it is not a KFP v2 API endpoint "
                "(point --host at the ml-pipeline service or the Kubeflow '/pipeline' URL)"
            ) from None
        raise KfpUnreachableError(
            f"KFP API at {host} answered HTTP {exc.code} for healthz"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise KfpUnreachableError(
            f"cannot reach the KFP API at {host} ({reason}); check --host (e.g. "
            "http://localhost:8888 after `kubectl -n kubeflow port-forward svc/ml-pipeline "
            "8888:8888`)"
        ) from None
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise KfpUnreachableError(
            f"{host} answered healthz with something other than JSON (a login page?); "
            f"{_auth_hint(auth)}"
        ) from None
    return doc if isinstance(doc, dict) else {}


# --------------------------------------------------------------------------------- client


@contextlib.contextmanager
def _api_errors(host: str, auth: Auth, action: str) -> Iterator[None]:
    """Turn the KFP client's exceptions into `KfpError`s, and keep its prints off stdout."""
    import kfp_server_api

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        except kfp_server_api.ApiException as exc:
            status = int(exc.status or 0)
            detail = _error_detail(exc.body)
            if status in (401, 403):
                raise KfpAuthError(
                    f"KFP API at {host} refused to {action} (HTTP {status}{detail}); "
                    f"{_auth_hint(auth)}"
                    + (f", namespace {auth.namespace!r}" if auth.namespace else "")
                ) from None
            if status == 0:
                raise KfpUnreachableError(
                    f"lost the KFP API at {host} while trying to {action}: {exc.reason}"
                ) from None
            raise KfpError(
                f"KFP API at {host} failed to {action} (HTTP {status}{detail})"
            ) from None
        except (OSError, ValueError) as exc:
            raise KfpError(f"could not {action}: {exc}") from None


def _error_detail(body: Any) -> str:
    try:
        doc = json.loads(body) if body else {}
    except (TypeError, ValueError):
        return ""
    message = doc.get("error") or doc.get("message") if isinstance(doc, dict) else None
    return f": {message}" if message else ""


def connect(host: str, auth: Auth) -> kfp.client.Client:
    """A `kfp.Client` for `host` with `auth`, after a successful `preflight`."""
    import kfp.client

    preflight(host, auth)
    kwargs: dict[str, Any] = {"host": host.rstrip("/")}
    if auth.token_path:
        kwargs["credentials"] = kfp.client.ServiceAccountTokenVolumeCredentials(auth.token_path)
    elif auth.token:
        kwargs["existing_token"] = auth.token
    if auth.namespace:
        kwargs["namespace"] = auth.namespace
    with _api_errors(host, auth, "connect"):
        client = kfp.client.Client(**kwargs)
        if auth.namespace:
            client.set_user_namespace(auth.namespace)
    return client


# --------------------------------------------------------------------------------- parameters


def _pipeline_spec(package: str | Path) -> dict[str, Any]:
    path = Path(package)
    if not path.is_file():
        raise KfpError(f"pipeline package {path} not found; run `proxybo compile` first")
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except yaml.YAMLError as exc:
        raise KfpError(f"pipeline package {path} is not valid YAML: {exc}") from None
    if not docs or not isinstance(docs[0], dict) or "root" not in docs[0]:
        raise KfpError(f"{path} is not a compiled KFP pipeline (no 'root' section)")
    return docs[0]


def pipeline_parameters(package: str | Path) -> dict[str, dict[str, Any]]:
    """The pipeline's input parameters: name -> ``{"type", "default", "optional"}``."""
    spec = _pipeline_spec(package)
    params = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    return {
        name: {
            "type": p.get("parameterType", "STRING"),
            "default": p.get("defaultValue"),
            "optional": bool(p.get("isOptional", False)),
        }
        for name, p in params.items()
    }


def _convert(name: str, raw: str, kind: str) -> Any:
    try:
        if kind == "NUMBER_INTEGER":
            return int(raw)
        if kind == "NUMBER_DOUBLE":
            return float(raw)
        if kind == "BOOLEAN":
            low = raw.strip().lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError("expected true or false")
        if kind in ("STRUCT", "LIST"):
            value = json.loads(raw)
            want = dict if kind == "STRUCT" else list
            if not isinstance(value, want):
                raise ValueError(f"expected a JSON {'object' if want is dict else 'array'}")
            return value
    except ValueError as exc:
        raise KfpError(f"parameter {name}: {raw!r} is not a valid {kind}: {exc}") from None
    return raw


def parse_parameters(package: str | Path, pairs: list[str]) -> dict[str, Any]:
    """``["name=value", ...]`` -> typed pipeline arguments, checked against the package's
    declared parameters (unknown names and bad values are errors, before anything is sent)."""
    declared = pipeline_parameters(package)
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise KfpError(f"parameter {pair!r} is not NAME=VALUE")
        if name not in declared:
            known = ", ".join(sorted(declared))
            raise KfpError(f"the pipeline has no parameter {name!r}; it takes: {known}")
        out[name] = _convert(name, raw, declared[name]["type"])
    missing = [n for n, p in declared.items() if p["default"] is None and not p["optional"]]
    missing = [n for n in missing if n not in out]
    if missing:
        raise KfpError(f"required pipeline parameters missing: {', '.join(missing)} (use --param)")
    return out


# --------------------------------------------------------------------------------- cron

_CRON_FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
_NAMES = {
    4: {
        m: i + 1
        for i, m in enumerate(
            ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        )
    },
    5: {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])},
}
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_HELP = (
    "KFP cron expressions have six fields, seconds first: "
    "'SECOND MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK', e.g. '0 0 2 * * *' (02:00 every day)"
)


def _cron_value(token: str, index: int) -> int:
    names = _NAMES.get(index, {})
    if token.upper() in names:
        return names[token.upper()]
    if not token.isdigit():
        raise ValueError(f"{token!r} is not a number")
    return int(token)


def validate_cron(expr: str) -> str:
    """Check a KFP (robfig/cron) schedule: six fields, seconds first; return it normalised.

    Raises `KfpError` with a message that names the bad field, and suggests the six-field form
    for a classic five-field crontab line.
    """
    text = " ".join(expr.split())
    if text in _DESCRIPTORS:
        return text
    if text.startswith("@every "):
        if re.fullmatch(r"@every (\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", text):
            return text
        raise KfpError(f"cron {expr!r}: '@every' needs a Go duration such as '@every 6h'")
    fields = text.split(" ") if text else []
    if len(fields) == 5:
        raise KfpError(f"cron {expr!r} has 5 fields; {_CRON_HELP}. Did you mean '0 {text}'?")
    if len(fields) != 6:
        raise KfpError(f"cron {expr!r} has {len(fields)} fields; {_CRON_HELP}")
    for index, (field_text, (name, lo, hi)) in enumerate(zip(fields, _CRON_FIELDS, strict=True)):
        for item in field_text.split(","):
            try:
                base, _, step = item.partition("/")
                if step and (not step.isdigit() or int(step) == 0):
                    raise ValueError(f"step {step!r} must be a positive number")
                if base in ("*", "?"):
                    if base == "?" and index not in (3, 5):
                        raise ValueError("'?' is only allowed for day of month or day of week")
                    continue
                start, dash, end = base.partition("-")
                values = [_cron_value(start, index)]
                if dash:
                    values.append(_cron_value(end, index))
                    if values[1] < values[0]:
                        raise ValueError(f"range {base!r} goes backwards")
                for v in values:
                    if not lo <= v <= hi:
                        raise ValueError(f"{v} is outside {lo}-{hi}")
            except ValueError as exc:
                raise KfpError(
                    f"cron {expr!r}: field {index + 1} ({name}) {field_text!r} is invalid: {exc}. "
                    f"{_CRON_HELP}"
                ) from None
    return text


# --------------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class RunInfo:
    """A created run: ids, and the UI link."""

    run_id: str
    experiment_id: str
    url: str


@dataclass(frozen=True)
class RecurringRunInfo:
    """A created recurring run, with the pipeline version it runs."""

    recurring_run_id: str
    experiment_id: str
    pipeline_id: str
    pipeline_version_id: str
    cron: str
    url: str


def submit(
    host: str,
    auth: Auth,
    package: str | Path,
    *,
    arguments: Mapping[str, Any],
    experiment: str,
    run_name: str | None = None,
    service_account: str | None = None,
) -> RunInfo:
    """Start one run of the compiled pipeline `package` (sent inline) with `arguments`."""
    _pipeline_spec(package)
    client = connect(host, auth)
    name = run_name or f"proxybo-search {_dt.datetime.now().strftime('%Y-%m-%d %H-%M-%S')}"
    with _api_errors(host, auth, "create the run"):
        result = client.create_run_from_pipeline_package(
            str(package),
            arguments=dict(arguments),
            run_name=name,
            experiment_name=experiment,
            namespace=auth.namespace,
            service_account=service_account,
        )
    run_id = str(result.run_id)
    experiment_id = str(getattr(result.run_info, "experiment_id", "") or "")
    return RunInfo(run_id, experiment_id, f"{host.rstrip('/')}/#/runs/details/{run_id}")


def _upload(
    client: kfp.client.Client, package: str | Path, pipeline_name: str, auth: Auth
) -> tuple[str, str]:
    """Upload `package` as a new version of pipeline `pipeline_name` (created if missing)."""
    pipeline_id = client.get_pipeline_id(pipeline_name)
    if pipeline_id is None:
        pipeline = client.upload_pipeline(
            str(package), pipeline_name=pipeline_name, namespace=auth.namespace
        )
        pipeline_id = str(pipeline.pipeline_id)
        versions = client.list_pipeline_versions(
            pipeline_id, page_size=1, sort_by="created_at desc"
        )
        if not versions.pipeline_versions:
            raise KfpError(f"pipeline {pipeline_name!r} was uploaded but has no version")
        return pipeline_id, str(versions.pipeline_versions[0].pipeline_version_id)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    version = client.upload_pipeline_version(
        str(package), pipeline_version_name=f"{pipeline_name}-{stamp}", pipeline_id=pipeline_id
    )
    return pipeline_id, str(version.pipeline_version_id)


def schedule(
    host: str,
    auth: Auth,
    package: str | Path,
    *,
    cron: str,
    arguments: Mapping[str, Any],
    experiment: str,
    name: str,
    pipeline_name: str = "proxybo-search",
    service_account: str | None = None,
    max_concurrency: int = 1,
    catchup: bool = False,
) -> RecurringRunInfo:
    """Create a recurring run of `package` on `cron` (validated first).

    The package is uploaded as a new version of `pipeline_name`, so the schedule points at a
    named, browsable pipeline version. At most `max_concurrency` runs at once (default 1: the
    runs share one search state), and missed slots are not back-filled unless `catchup`.
    """
    cron = validate_cron(cron)
    if max_concurrency < 1:
        raise KfpError(f"max_concurrency must be at least 1, got {max_concurrency}")
    _pipeline_spec(package)
    client = connect(host, auth)
    with _api_errors(host, auth, "upload the pipeline"):
        pipeline_id, version_id = _upload(client, package, pipeline_name, auth)
    with _api_errors(host, auth, "create the experiment"):
        exp = client.create_experiment(experiment, namespace=auth.namespace)
    with _api_errors(host, auth, "create the recurring run"):
        rec = client.create_recurring_run(
            experiment_id=str(exp.experiment_id),
            job_name=name,
            cron_expression=cron,
            max_concurrency=max_concurrency,
            no_catchup=not catchup,
            params=dict(arguments),
            pipeline_id=pipeline_id,
            version_id=version_id,
            service_account=service_account,
        )
    rec_id = str(rec.recurring_run_id)
    return RecurringRunInfo(
        recurring_run_id=rec_id,
        experiment_id=str(exp.experiment_id),
        pipeline_id=pipeline_id,
        pipeline_version_id=version_id,
        cron=cron,
        url=f"{host.rstrip('/')}/#/recurringrun/details/{rec_id}",
    )
