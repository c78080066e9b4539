"""The search state: one JSON document with a schema version.

It holds the history (architecture, metrics, cost, proxy scores, status), the pending
evaluations, the proxy reliability and weights of every round, the RNG state, the surrogate's
hyperparameters and the config fingerprint. No pickle: `to_json` gives plain JSON types and
`from_json(to_json(s))` round-trips exactly. Telling the same result twice changes nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 1


class StateError(ValueError):
    """The state document is not valid, or belongs to another schema version or config."""


@dataclass(frozen=True)
class SearchConfig:
    """What defines a search; its fingerprint guards against resuming with other settings.

    `objective` is maximised. `options` holds strategy-specific settings (plain JSON values).
    """

    strategy: str
    space: str
    proxies: tuple[str, ...] = ()
    objective: str = "val_acc"
    seed: int = 0
    budget: int = 100
    batch_size: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise StateError(f"budget must be at least 1, got {self.budget}")
        if self.batch_size < 1:
            raise StateError(f"batch_size must be at least 1, got {self.batch_size}")
        if len(set(self.proxies)) != len(self.proxies):
            raise StateError(f"proxies must be distinct, got {list(self.proxies)}")
        object.__setattr__(self, "proxies", tuple(self.proxies))
        object.__setattr__(self, "options", dict(self.options))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["proxies"] = list(self.proxies)
        out["options"] = dict(self.options)
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SearchConfig:
        try:
            return cls(
                strategy=str(doc["strategy"]),
                space=str(doc["space"]),
                proxies=tuple(doc.get("proxies", ())),
                objective=str(doc.get("objective", "val_acc")),
                seed=int(doc.get("seed", 0)),
                budget=int(doc.get("budget", 100)),
                batch_size=int(doc.get("batch_size", 1)),
                options=dict(doc.get("options", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"invalid search config: {exc}") from None

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the settings that define the search.

        The budget is left out on purpose: raising it continues the same search.
        """
        doc = self.to_json()
        doc.pop("budget")
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Evaluation:
    """One finished evaluation. `status` is "ok" or "failed" (then `error` says why)."""

    arch: str
    round: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    cost: Mapping[str, float] = field(default_factory=dict)
    proxies: Mapping[str, float] = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in ("ok", "failed"):
            raise StateError(f"evaluation status must be 'ok' or 'failed', got {self.status!r}")
        object.__setattr__(self, "metrics", {k: float(v) for k, v in self.metrics.items()})
        object.__setattr__(self, "cost", {k: float(v) for k, v in self.cost.items()})
        object.__setattr__(self, "proxies", {k: float(v) for k, v in self.proxies.items()})

    def to_json(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "round": self.round,
            "metrics": {k: _json_float(v) for k, v in self.metrics.items()},
            "cost": {k: _json_float(v) for k, v in self.cost.items()},
            "proxies": {k: _json_float(v) for k, v in self.proxies.items()},
            "status": self.status,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Evaluation:
        return cls(
            arch=str(doc["arch"]),
            round=int(doc["round"]),
            metrics={k: _from_json_float(v) for k, v in doc.get("metrics", {}).items()},
            cost={k: _from_json_float(v) for k, v in doc.get("cost", {}).items()},
            proxies={k: _from_json_float(v) for k, v in doc.get("proxies", {}).items()},
            status=str(doc.get("status", "ok")),
            error=doc.get("error"),
        )


@dataclass(frozen=True)
class Pending:
    """An architecture chosen for evaluation whose result has not been told yet."""

    arch: str
    round: int
    proxies: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "round": self.round,
            "proxies": {k: _json_float(float(v)) for k, v in self.proxies.items()},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Pending:
        return cls(
            arch=str(doc["arch"]),
            round=int(doc["round"]),
            proxies={k: _from_json_float(v) for k, v in doc.get("proxies", {}).items()},
        )


@dataclass(frozen=True)
class RoundReliability:
    """Reliability (pairwise ordering accuracy) and weight of every scorer after a round.

    Scorers are "gp" and each proxy name; weights sum to one.
    """

    round: int
    n_observed: int
    reliability: Mapping[str, float]
    weights: Mapping[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "n_observed": self.n_observed,
            "reliability": {k: _json_float(v) for k, v in self.reliability.items()},
            "weights": {k: _json_float(v) for k, v in self.weights.items()},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RoundReliability:
        return cls(
            round=int(doc["round"]),
            n_observed=int(doc["n_observed"]),
            reliability={k: _from_json_float(v) for k, v in doc["reliability"].items()},
            weights={k: _from_json_float(v) for k, v in doc["weights"].items()},
        )


def _json_float(v: float) -> float | str:
    """JSON has no NaN or infinity: those are stored as strings."""
    v = float(v)
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def _from_json_float(v: float | str | int) -> float:
    return float(v)


_NON_FINITE = ("nan", "inf", "-inf")


def _tree_to_json(v: Any) -> Any:
    """Non-finite floats anywhere in nested lists / dicts as strings (e.g. the surrogate's
    unbounded constraint limits), so the state stays strict JSON."""
    if isinstance(v, float):
        return _json_float(v)
    if isinstance(v, dict):
        return {k: _tree_to_json(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_tree_to_json(x) for x in v]
    return v


def _tree_from_json(v: Any) -> Any:
    """Inverse of `_tree_to_json` (for trees that hold no other such strings)."""
    if isinstance(v, str) and v in _NON_FINITE:
        return float(v)
    if isinstance(v, dict):
        return {k: _tree_from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_tree_from_json(x) for x in v]
    return v


class SearchState:
    """Everything a search needs to continue, in memory; (de)serialised with `to_json`."""

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self.history: list[Evaluation] = []
        self.pending: list[Pending] = []
        self.reliability: list[RoundReliability] = []
        self.round = 0
        self.rng_state: dict[str, Any] = dict(
            np.random.default_rng(config.seed).bit_generator.state
        )
        self.surrogate: dict[str, Any] | None = None
        self.extras: dict[str, Any] = {}

    # ----- queries -------------------------------------------------------------------------
    @property
    def evaluated_archs(self) -> set[str]:
        return {e.arch for e in self.history}

    @property
    def busy_archs(self) -> set[str]:
        """Archs evaluated or pending: never proposed again."""
        return self.evaluated_archs | {p.arch for p in self.pending}

    def observed(self) -> list[Evaluation]:
        """Successful evaluations, in the order they were told."""
        return [e for e in self.history if e.status == "ok" and self.config.objective in e.metrics]

    def objective_values(self) -> np.ndarray:
        """Objective of the successful evaluations, `n`."""
        return np.array([e.metrics[self.config.objective] for e in self.observed()], dtype=float)

    @property
    def n_evaluated(self) -> int:
        return len(self.history)

    @property
    def remaining_budget(self) -> int:
        return max(0, self.config.budget - len(self.history) - len(self.pending))

    @property
    def done(self) -> bool:
        return len(self.history) >= self.config.budget

    def best(self) -> Evaluation | None:
        obs = self.observed()
        if not obs:
            return None
        return max(obs, key=lambda e: e.metrics[self.config.objective])

    def best_so_far(self) -> list[float]:
        """Best objective after each evaluation (NaN until the first success), `n_evaluated`."""
        out: list[float] = []
        best = -math.inf
        for e in self.history:
            if e.status == "ok" and self.config.objective in e.metrics:
                best = max(best, e.metrics[self.config.objective])
            out.append(best if math.isfinite(best) else math.nan)
        return out

    # ----- RNG -------------------------------------------------------------------------------
    def rng(self) -> np.random.Generator:
        """A generator at the stored state; call `save_rng` with it after use."""
        gen = np.random.default_rng()
        gen.bit_generator.state = self.rng_state
        return gen

    def save_rng(self, gen: np.random.Generator) -> None:
        self.rng_state = dict(gen.bit_generator.state)

    # ----- updates ---------------------------------------------------------------------------
    def add_pending(self, archs: Sequence[str], proxies: Sequence[Mapping[str, float]]) -> None:
        busy = self.busy_archs
        for arch, scores in zip(archs, proxies, strict=True):
            if arch in busy:
                raise StateError(f"architecture {arch} is already evaluated or pending")
            self.pending.append(Pending(arch=arch, round=self.round, proxies=dict(scores)))
            busy.add(arch)

    def record(self, results: Iterable[Evaluation]) -> list[Evaluation]:
        """Add results to the history; returns the ones that were new.

        Idempotent: a result for an architecture already in the history is ignored, so a retried
        pod cannot double-count. Its pending entry, if any, is cleared.
        """
        added: list[Evaluation] = []
        known = self.evaluated_archs
        for res in results:
            if res.arch in known:
                continue
            self.history.append(res)
            known.add(res.arch)
            added.append(res)
        self.pending = [p for p in self.pending if p.arch not in known]
        return added

    # ----- JSON ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "config": self.config.to_json(),
            "config_fingerprint": self.config.fingerprint(),
            "round": self.round,
            "history": [e.to_json() for e in self.history],
            "pending": [p.to_json() for p in self.pending],
            "reliability": [r.to_json() for r in self.reliability],
            "rng": _rng_to_json(self.rng_state),
            "surrogate": _tree_to_json(self.surrogate),
            "extras": copy.deepcopy(self.extras),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], expected: SearchConfig | None = None) -> SearchState:
        """Load a state; with `expected`, refuse a state made with other settings."""
        if not isinstance(doc, Mapping):
            raise StateError("a search state must be a JSON object")
        version = doc.get("schema_version")
        if version != SCHEMA_VERSION:
            raise StateError(
                f"state has schema_version {version!r}, this proxybo reads version "
                f"{SCHEMA_VERSION}: use a new state location or the matching proxybo release"
            )
        try:
            config = SearchConfig.from_json(doc["config"])
            if doc.get("config_fingerprint") != config.fingerprint():
                raise StateError("state config_fingerprint does not match its config")
            if expected is not None and expected.fingerprint() != config.fingerprint():
                diff = _config_diff(config, expected)
                raise StateError(
                    "the stored search was made with other settings "
                    f"({diff}); use a new state location or the stored settings"
                )
            state = cls(expected if expected is not None else config)
            state.round = int(doc["round"])
            state.history = [Evaluation.from_json(e) for e in doc["history"]]
            state.pending = [Pending.from_json(p) for p in doc["pending"]]
            state.reliability = [RoundReliability.from_json(r) for r in doc["reliability"]]
            state.rng_state = _rng_from_json(doc["rng"])
            state.surrogate = _tree_from_json(doc.get("surrogate"))
            state.extras = copy.deepcopy(dict(doc.get("extras") or {}))
        except StateError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"invalid search state: {type(exc).__name__}: {exc}") from None
        return state


def validate_state(doc: Mapping[str, Any]) -> None:
    """Raise `StateError` unless `doc` is a valid search state (for storage backends)."""
    SearchState.from_json(doc)


def _config_diff(a: SearchConfig, b: SearchConfig) -> str:
    da, db = a.to_json(), b.to_json()
    keys = [k for k in da if k != "budget" and da[k] != db.get(k)]
    return ", ".join(f"{k}: stored {da[k]!r} vs requested {db.get(k)!r}" for k in keys)


def _rng_to_json(state: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(state))


def _rng_from_json(doc: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(doc, Mapping) or "bit_generator" not in doc:
        raise StateError("state 'rng' must be a numpy bit-generator state")
    return dict(doc)
