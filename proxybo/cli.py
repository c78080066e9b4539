"""The `proxybo` command line."""

from __future__ import annotations

import typer

from proxybo import __version__
from proxybo.cli_common import fail
from proxybo.cli_kfp import app as kfp_app
from proxybo.cli_proxies import app as proxies_app

app = typer.Typer(
    help="ProxyBO neural architecture search: benchmark, search, and Kubeflow pipelines.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(proxies_app, name="proxies")
app.add_typer(kfp_app)  # compile, submit, schedule
from proxybo.cli_search import register as register_search  # noqa: E402

register_search(app)


@app.callback()
def main() -> None:
    """proxybo command line."""


@app.command()
def version() -> None:
    """Print the proxybo version."""
    typer.echo(__version__)


@app.command()
def benchmark(
    table: str = typer.Option(
        ...,
        help="CSV table, a row per architecture: columns arch, val_acc, test_acc, train_time_s "
        "and zc_<proxy> (and encoding where arch is not an NB201 string).",
    ),
    methods: str = typer.Option(
        "proxybo-features,proxybo,bo,rea,random,proxy-warmup",
        help="Comma-separated methods, each NAME or NAME:key=value;key=value (options); rea is "
        "required. proxybo-features is the default strategy, proxybo the published fusion. "
        "batch_size=Q (our methods) picks Q architectures per round.",
    ),
    proxies: str = typer.Option("jacov,synflow,snip", help="Comma-separated proxy names."),
    seeds: int = typer.Option(10, min=1, help="Seeds per method."),
    budget: int = typer.Option(150, min=1, help="Evaluations per run (every method but rea)."),
    reference_budget: int = typer.Option(300, min=1, help="Evaluations of rea, the reference."),
    out: str = typer.Option("benchmarks/results/latest", help="Output folder."),
    workers: int = typer.Option(0, min=0, help="Parallel processes (0: one per CPU)."),
    proxy_seconds: float = typer.Option(
        0.5, min=0.0, help="GPU seconds charged per architecture scored by the proxies."
    ),
) -> None:
    """Compare search strategies on a tabular benchmark; writes summary.json and curves.png."""
    from proxybo.benchmark import format_interval, format_share, run_benchmark

    try:
        summary = run_benchmark(
            table_path=table,
            methods=[m.strip() for m in methods.split(",") if m.strip()],
            proxies=[p.strip() for p in proxies.split(",") if p.strip()],
            seeds=seeds,
            budget=budget,
            reference_budget=reference_budget,
            out_dir=out,
            workers=workers or None,
            proxy_seconds=proxy_seconds,
        )
    except (ValueError, KeyError, OSError) as exc:  # OSError: the table or --out unusable
        raise fail(str(exc), 2) from None
    typer.echo(
        f"target (rea mean best at {reference_budget}): {summary['target']:.4f}; test target "
        f"(rea mean test_acc of its best at {reference_budget}): {summary['test_target']:.4f}"
    )
    for name, m in summary["methods"].items():
        e = m["evals_to_target"]
        s = m["speedup_vs_rea"]
        span = format_interval(m["evals_to_target_interval"])
        rounds = f" rounds={m['rounds_to_target']}" if e and m["batch_size"] > 1 else ""
        typer.echo(
            f"{name:18s} evals_to_target={e if e else '-':>5} (80% {span}){rounds} "
            f"speedup={f'{s:.2f}x' if s else '-':>7} final_best={m['final_best_mean']:.4f} "
            f"test={m['final_test_acc_mean']:.3f} "
            f"test_recommended={m['mean_test_of_recommended'][-1]:.3f} "
            f"ask_median={m['ask_seconds_median'] or 0:.3f}s"
        )
        if vs := m.get("against_bo"):
            lo, hi = vs["difference_interval"]
            typer.echo(
                f"{'':18s} against bo on the same seeds: reaches the target first in "
                f"{format_share(vs['first_ahead'])} of seed resamples, behind in "
                f"{format_share(vs['behind'])}; "
                f"evaluations minus bo's (80%) {lo} to {hi}"
            )
    typer.echo(f"wrote {out}/summary.json and {out}/curves.png")
