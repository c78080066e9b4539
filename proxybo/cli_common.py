"""What every `proxybo` command shares: how an error reaches the user."""

from __future__ import annotations

import typer

__all__ = ["fail"]


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: <message>`` on stderr; the exit to raise (``raise fail(...) from None``).

    Codes, as in every command: 1 the environment is not usable (a service unreachable or
    refusing), 2 invalid input.
    """
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)
