"""Checks of strategy options (`SearchConfig.options`): each returns the value or raises a
ValueError that names the option and says what it accepts."""

from __future__ import annotations


def positive_int(key: str, value: object, *, least: int = 1, alternative: str = "") -> int:
    """`value` if it is an integer of at least `least` (1: a positive integer); otherwise a
    ValueError naming the option `key` (`alternative` says what else the option accepts)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        wanted = "a positive integer" if least == 1 else f"an integer of at least {least}"
        raise ValueError(f"option {key} must be {wanted}{alternative}, got {value!r}")
    return value


def unit_number(key: str, value: object, *, closed: bool, alternative: str = "") -> float:
    """`value` as a float if it is a number in [0, 1] (`closed`) or in (0, 1); otherwise a
    ValueError naming the option `key` (`alternative` says what else the option accepts)."""
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and ((0 <= value <= 1) if closed else (0 < value < 1))
    ):
        return float(value)
    interval = "[0, 1]" if closed else "(0, 1)"
    raise ValueError(f"option {key} must be a number in {interval}{alternative}, got {value!r}")
