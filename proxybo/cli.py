"""The `proxybo` command line."""

from __future__ import annotations

import typer

from proxybo import __version__
from proxybo.cli_proxies import app as proxies_app

app = typer.Typer(
    help="ProxyBO neural architecture search: benchmark, search, and Kubeflow pipelines.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(proxies_app, name="proxies")


@app.callback()
def main() -> None:
    """proxybo command line."""


@app.command()
def version() -> None:
    """Print the proxybo version."""
    typer.echo(__version__)
