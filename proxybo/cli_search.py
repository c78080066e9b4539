"""`proxybo search`, `proxybo status`, `proxybo best`: a real local search and its results.

Exit codes: 0 success; 1 the environment is not usable (MLflow or the state store unreachable,
no champion yet); 2 bad settings (nothing is written).
"""

from __future__ import annotations

import json
import math
from typing import Any

import typer

from proxybo.cli_common import fail

__all__ = ["register"]


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.2f}%"


def _weights(w: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.2f}" for k, v in w.items())


def search(
    config: str | None = typer.Option(None, "--config", "-c", help="YAML settings file."),
    state: str | None = typer.Option(None, "--state", help="State location: folder or s3://."),
    budget: int | None = typer.Option(None, "--budget", help="Architectures to train in total."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Architectures per round."),
    strategy: str | None = typer.Option(None, "--strategy", help="Search strategy."),
    proxies: str | None = typer.Option(None, "--proxies", help="Comma-separated proxy names."),
    fusion: str | None = typer.Option(
        None,
        "--fusion",
        help="How proxies steer the pick (proxybo strategies): sample, rank or none; "
        "unset: the strategy's own (proxybo-features: sample, proxybo: rank).",
    ),
    seed: int | None = typer.Option(None, "--seed"),
    dataset: str | None = typer.Option(
        None, "--dataset", help="digits, fashion-mnist, .npz, s3://"
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs per architecture."),
    tracking_uri: str | None = typer.Option(
        None, "--tracking-uri", help="MLflow URI (default $MLFLOW_TRACKING_URI, else sqlite)."
    ),
    registry_name: str | None = typer.Option(None, "--registry-name", help="Registered model."),
    search_id: str | None = typer.Option(None, "--search-id", help="MLflow experiment suffix."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run (or resume) a search: proxies steer BO, MLflow logs it, the best model is `champion`."""
    from components.config import SettingsError, load_settings
    from components.data import DatasetError
    from components.runner import limit_torch_threads, preflight, run_search
    from components.state_store import StateStoreConfigError, StateStoreError
    from components.tracking import TrackingUnavailable
    from optimizer.state import StateError

    try:
        settings = load_settings(config).with_overrides(
            {
                "state.uri": state,
                "search.budget": budget,
                "search.batch_size": batch_size,
                "search.strategy": strategy,
                "search.proxies": proxies,
                "search.fusion": fusion,
                "search.seed": seed,
                "data.dataset": dataset,
                "training.epochs": epochs,
                "tracking.tracking_uri": tracking_uri,
                "tracking.registry_name": registry_name,
                "tracking.search_id": search_id,
            }
        )
        preflight(settings)
    except (SettingsError, StateError, DatasetError, StateStoreConfigError) as exc:
        raise fail(str(exc), 2) from None
    except (TrackingUnavailable, StateStoreError) as exc:
        raise fail(str(exc), 1) from None

    limit_torch_threads()
    from tqdm import tqdm

    from components import rounds

    stored = rounds.load_state(settings)
    before = stored.n_evaluated if stored else 0
    bar = tqdm(
        total=max(settings.search.budget, before),
        initial=before,
        desc="search",
        unit="arch",
        disable=quiet,
        dynamic_ncols=True,
    )

    def progress(summary: dict[str, Any]) -> None:
        bar.n = summary["n_evaluated"]
        bar.set_postfix_str(
            f"round {summary['round']} best {_pct(summary['best_val_acc'])} "
            f"weights {_weights(summary['weights'])}",
            refresh=False,
        )
        bar.refresh()

    try:
        out = run_search(settings, progress)
    except (SettingsError, StateError) as exc:
        raise fail(str(exc), 2) from None
    except (TrackingUnavailable, StateStoreError) as exc:
        raise fail(str(exc), 1) from None
    finally:
        bar.close()
    s, champ = out["summary"], out["champion"]
    if before >= settings.search.budget:  # budget >= 1, so a search is stored
        typer.echo(
            f"the budget of {settings.search.budget} architectures was already spent "
            f"({before} evaluated), so nothing was trained: raise --budget (search.budget) "
            "to continue this search"
        )
    typer.echo(
        f"done: {s.get('n_evaluated', 0)} architectures, best {s.get('best_arch')} "
        f"val_acc {_pct(s.get('best_val_acc'))}{_test(s, 'best')}"
    )
    _echo_recommended(s)
    if champ:
        typer.echo(
            f"champion: {champ['model_uri']} (version {champ['version']}, "
            f"val_acc {_pct(champ['val_accuracy'])})"
        )


def _test(summary: dict[str, Any], key: str) -> str:
    """`` test_acc X`` where the summary has the test accuracy of `key` (best, recommended)."""
    value = summary.get(f"{key}_test_acc")
    return "" if value is None else f" test_acc {_pct(value)}"


def _echo_recommended(summary: dict[str, Any]) -> None:
    """The strategy's recommendation, where it is not the best observed architecture."""
    arch = summary.get("recommended_arch")
    if arch is None or arch == summary.get("best_arch"):
        return
    typer.echo(
        f"recommended: {arch} val_acc {_pct(summary.get('recommended_val_acc'))}"
        f"{_test(summary, 'recommended')} (highest GP posterior mean of the evaluated; its "
        "MLflow run is tagged on the search's parent run as proxybo.recommended_run_id)"
    )


def status(
    state: str = typer.Option("./proxybo-state/", "--state", help="State location."),
    as_json: bool = typer.Option(False, "--json", help="One machine-readable JSON line."),
) -> None:
    """Best and recommended architecture, evaluations done, proxy reliability and weights."""
    from components import rounds
    from components.state_store import StateStoreError, open_store
    from optimizer.state import SearchState, StateError

    try:
        found = open_store(state).load()
        if found is None:
            raise fail(f"no search state at {state}; start one with `proxybo search`", 1)
        summary = rounds.search_summary(SearchState.from_json(found.doc))
    except (StateError, StateStoreError) as exc:
        raise fail(str(exc), 1) from None
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True))
        return
    typer.echo(f"search {summary['search_id']} ({summary['strategy']}) at {state}")
    typer.echo(
        f"evaluated {summary['n_evaluated']}/{summary['budget']}"
        f" ({summary['n_failed']} failed, {summary['n_pending']} pending)"
        + (" - done" if summary["done"] else "")
    )
    typer.echo(
        f"best: {summary['best_arch']} val_acc {_pct(summary['best_val_acc'])}"
        + _test(summary, "best")
    )
    _echo_recommended(summary)
    rel = summary["reliability"]
    typer.echo("reliability: " + (_weights(rel) if rel else "- (needs 3 evaluations)"))
    typer.echo("weights:     " + _weights(summary["weights"]))
    if summary.get("kernel"):
        typer.echo(f"GP kernel:   {summary['kernel']}")


def best(
    registry_name: str = typer.Option("proxybo", "--registry-name", help="Registered model."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow URI."),
    as_json: bool = typer.Option(False, "--json", help="One machine-readable JSON line."),
) -> None:
    """The champion model: version, architecture, accuracy, and how to load it."""
    from components.tracking import TrackingUnavailable, champion_info

    try:
        info = champion_info(registry_name, tracking_uri)
    except TrackingUnavailable as exc:
        raise fail(str(exc), 1) from None
    if info is None:
        raise fail(
            f"registered model {registry_name!r} has no champion yet; run `proxybo search` first",
            1,
        )
    if as_json:
        typer.echo(json.dumps({k: v for k, v in info.items() if k != "tags"}, sort_keys=True))
        return
    typer.echo(f"champion: {info['name']} version {info['version']}")
    typer.echo(f"arch:     {info['arch']}")
    typer.echo(f"val_acc:  {_pct(info['val_accuracy'])}")
    typer.echo(f"load:     mlflow.pyfunc.load_model({info['model_uri']!r})")


def register(app: typer.Typer) -> None:
    """Add `search`, `status` and `best` to the `proxybo` command line."""
    app.command()(search)
    app.command()(status)
    app.command()(best)
