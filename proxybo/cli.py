"""The `proxybo` command line."""

from __future__ import annotations

import typer

from proxybo import __version__

app = typer.Typer(
    help="ProxyBO neural architecture search: benchmark, search, and Kubeflow pipelines.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """proxybo command line."""


@app.command()
def version() -> None:
    """Print the proxybo version."""
    typer.echo(__version__)
