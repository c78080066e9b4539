"""``proxybo compile | submit | schedule``: the Kubeflow Pipelines commands.

- ``compile`` writes the pipeline package (YAML) from `pipelines.search_pipeline`;
- ``submit`` starts one run of a compiled package on a KFP v2 API (``--host``);
- ``schedule`` creates a recurring run (KFP cron: six fields, seconds first).

The logic lives in `components.kfp_client` (API, auth, cron) and `pipelines.search_pipeline`
(the pipeline); this module only parses options and prints results. Exit status: 0 on success,
2 for invalid input (cron, parameters, package), 1 when the API cannot be reached or refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from proxybo.cli_common import fail

if TYPE_CHECKING:
    from components.kfp_client import Auth

app = typer.Typer(add_completion=False)

_AUTH_HELP = (
    "Credentials: auto (token env var, then in-cluster service-account token, then kubeconfig "
    "context), token, service-account, kubeconfig or none."
)


def _default_package() -> Path:
    from pipelines.search_pipeline import DEFAULT_PACKAGE

    return DEFAULT_PACKAGE


def _fail(exc: Exception) -> typer.Exit:
    from components.kfp_client import KfpAuthError, KfpUnreachableError

    return fail(str(exc), 1 if isinstance(exc, KfpAuthError | KfpUnreachableError) else 2)


def _request(
    package: Path | None,
    param: list[str],
    auth: str,
    token_env: str,
    kube_context: str | None,
    kubeconfig: str | None,
    namespace: str | None,
) -> tuple[Path, dict[str, Any], Auth]:
    """What submit and schedule send: the package (default: the checked-in one), its
    parameters typed from it, and the credentials. Raises `KfpError` on invalid input."""
    from components.kfp_client import parse_parameters, resolve_auth

    package = package or _default_package()
    arguments = parse_parameters(package, param)
    creds = resolve_auth(
        auth,
        token_env=token_env,
        kube_context=kube_context,
        kubeconfig=kubeconfig,
        namespace=namespace,
    )
    return package, arguments, creds


# Options shared by submit and schedule.
HostOpt = typer.Option(
    ..., "--host", envvar="KF_PIPELINES_ENDPOINT", help="KFP API URL, e.g. http://localhost:8888."
)
PackageOpt = typer.Option(
    None, "--package", help="Compiled pipeline YAML (default: the checked-in one)."
)
ParamOpt = typer.Option(
    [], "--param", "-p", help="Pipeline parameter NAME=VALUE (repeatable), typed from the package."
)
ExperimentOpt = typer.Option("proxybo", "--experiment", help="KFP experiment (created if missing).")
SaOpt = typer.Option(
    "proxybo-pipeline", "--service-account", help="Kubernetes service account of the run's pods."
)
AuthOpt = typer.Option("auto", "--auth", help=_AUTH_HELP)
TokenEnvOpt = typer.Option(
    "KF_PIPELINES_TOKEN", "--token-env", help="Environment variable holding a bearer token."
)
KubeContextOpt = typer.Option(None, "--kube-context", help="kubeconfig context (default: current).")
KubeconfigOpt = typer.Option(None, "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG).")
NamespaceOpt = typer.Option(
    None, "--namespace", help="Kubeflow profile namespace (default: from the context or pod)."
)


@app.command("compile")
def compile_cmd(
    out: Path = typer.Option(None, "--out", help="Output YAML (default: the checked-in package)."),
    rounds: int = typer.Option(5, min=1, max=50, help="Rounds unrolled per run."),
    batch_size: int = typer.Option(
        4, min=1, max=64, help="Architectures trained in parallel per round."
    ),
    node_selector: list[str] = typer.Option(
        None, "--node-selector", help="GPU node label KEY=VALUE for train-evaluate (repeatable)."
    ),
    toleration: list[str] = typer.Option(
        None, "--toleration", help="Taint KEY tolerated by train-evaluate (NoSchedule, Exists)."
    ),
    image: str = typer.Option(None, "--image", help="Component image (default: versioned tag)."),
    accelerator_type: str = typer.Option(
        "nvidia.com/gpu", "--accelerator-type", help="GPU resource of train-evaluate pods."
    ),
    gpus: int = typer.Option(
        1, "--gpus", min=0, max=16, help="GPUs per train-evaluate pod (0: CPU only)."
    ),
) -> None:
    """Compile the search pipeline to a KFP package (YAML)."""
    from pipelines.search_pipeline import CompileOptions, compile_pipeline

    try:
        options = CompileOptions.from_cli(
            rounds=rounds,
            batch_size=batch_size,
            node_selector=node_selector,
            tolerations=toleration,
            image=image,
            accelerator_type=accelerator_type,
            accelerator_count=gpus,
        )
        path = compile_pipeline(out or _default_package(), options)
    except ValueError as exc:
        raise _fail(exc) from None
    except OSError as exc:  # e.g. a file where a folder of the path should be, a read-only disk
        raise fail(f"cannot write the package to {out or _default_package()}: {exc}", 2) from None
    typer.echo(f"wrote {path} ({options.rounds} rounds, batch {options.batch_size})")


@app.command()
def submit(
    host: str = HostOpt,
    package: Path = PackageOpt,
    param: list[str] = ParamOpt,
    experiment: str = ExperimentOpt,
    run_name: str = typer.Option(None, "--run-name", help="Run name (default: timestamped)."),
    service_account: str = SaOpt,
    auth: str = AuthOpt,
    token_env: str = TokenEnvOpt,
    kube_context: str = KubeContextOpt,
    kubeconfig: str = KubeconfigOpt,
    namespace: str = NamespaceOpt,
) -> None:
    """Start one run of the compiled search pipeline on Kubeflow Pipelines."""
    from components import kfp_client

    try:
        package, arguments, creds = _request(
            package, param, auth, token_env, kube_context, kubeconfig, namespace
        )
        run = kfp_client.submit(
            host,
            creds,
            package,
            arguments=arguments,
            experiment=experiment,
            run_name=run_name,
            service_account=service_account or None,
        )
    except kfp_client.KfpError as exc:
        raise _fail(exc) from None
    typer.echo(f"run {run.run_id} started ({creds.source}): {run.url}")


@app.command()
def schedule(
    host: str = HostOpt,
    cron: str = typer.Option(
        ..., "--cron", help="KFP cron, six fields, seconds first: '0 0 2 * * *' = 02:00 daily."
    ),
    package: Path = PackageOpt,
    param: list[str] = ParamOpt,
    experiment: str = ExperimentOpt,
    name: str = typer.Option("proxybo-search", "--name", help="Recurring run name."),
    pipeline_name: str = typer.Option(
        "proxybo-search", "--pipeline-name", help="Pipeline to upload the package to, as a version."
    ),
    max_concurrency: int = typer.Option(
        1, min=1, help="Runs at once (1: runs share one search state)."
    ),
    catchup: bool = typer.Option(False, "--catchup/--no-catchup", help="Back-fill missed slots."),
    service_account: str = SaOpt,
    auth: str = AuthOpt,
    token_env: str = TokenEnvOpt,
    kube_context: str = KubeContextOpt,
    kubeconfig: str = KubeconfigOpt,
    namespace: str = NamespaceOpt,
) -> None:
    """Create a recurring run: the search continues from its state on every trigger."""
    from components import kfp_client

    try:
        cron = kfp_client.validate_cron(cron)
        package, arguments, creds = _request(
            package, param, auth, token_env, kube_context, kubeconfig, namespace
        )
        rec = kfp_client.schedule(
            host,
            creds,
            package,
            cron=cron,
            arguments=arguments,
            experiment=experiment,
            name=name,
            pipeline_name=pipeline_name,
            service_account=service_account or None,
            max_concurrency=max_concurrency,
            catchup=catchup,
        )
    except kfp_client.KfpError as exc:
        raise _fail(exc) from None
    typer.echo(
        f"recurring run {rec.recurring_run_id} ({rec.cron}) of pipeline version "
        f"{rec.pipeline_version_id} created ({creds.source}): {rec.url}"
    )
