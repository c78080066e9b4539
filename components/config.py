"""Settings of one search: a validated pydantic model, loaded from YAML or passed as JSON.

The KFP components receive `SearchSettings` as a JSON string parameter (`to_json` /
`from_json`); the CLI loads it from a YAML file (`load_settings`) and applies command-line
overrides (`with_overrides`). Every problem is a `SettingsError` whose message names the key and
what to change: unknown keys are refused, and so are wrong types, impossible values, a proxy that
is not registered and a strategy that does not exist (both list the available names).

Which settings define the search (and so its fingerprint, see `search_config`): the strategy,
proxies, seed, batch size, pool size, `n_init`, the network, the data and the training recipe.
The budget, the tracking and the state location do not: raising the budget continues a search.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from optimizer.proxies.scoring import DEFAULT_PROXIES
from optimizer.state import SearchConfig
from optimizer.strategies import DEFAULT_STRATEGY, STRATEGIES
from optimizer.strategies.proxybo import (
    DEFAULT_KERNEL,
    FUSION_RULES,
    KERNELS,
    BayesianOptimization,
    ProxyBOFeatures,
)

FUSION_SETTINGS: tuple[str, ...] = (*FUSION_RULES, "none")
"""Values of `search.fusion` ("none": expected improvement alone)."""

__all__ = [
    "DataSettings",
    "NetworkSettings",
    "SearchSection",
    "SearchSettings",
    "SettingsError",
    "StateSettings",
    "TrackingSettings",
    "TrainingSettings",
    "load_settings",
]

SPACE = "nb201"
OBJECTIVE = "val_acc"
"""Validation accuracy as a fraction in [0, 1]; what every strategy maximises."""


class SettingsError(ValueError):
    """Settings that cannot run; the message says which key and what to change."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SearchSection(_Section):
    """How the search proceeds."""

    strategy: str = Field(
        default=DEFAULT_STRATEGY,
        description="proxybo-features (default), proxybo, bo, rea, random, proxy-warmup",
    )
    proxies: tuple[str, ...] = Field(
        default=DEFAULT_PROXIES, description="zero-cost proxies to compute"
    )
    budget: int = Field(default=16, ge=1, description="architectures to train in total")
    batch_size: int = Field(default=2, ge=1, description="architectures selected per round (q)")
    seed: int = Field(default=0, ge=0)
    pool_size: int = Field(default=64, ge=1, description="candidates proxy-scored per round")
    n_init: int = Field(
        default=4,
        ge=2,
        description="evaluations before the GP is used: they show every operation on every "
        "edge (fewer than one pass, 5 on NB201, pick among the covering cells at random; from "
        "5 on, the proxies' favourites), and beyond one pass show them again in cells the "
        "proxies rate highly",
    )
    proxy_batch_size: int = Field(default=64, ge=2, description="images in the proxies' mini-batch")
    kernel: str = Field(
        default=DEFAULT_KERNEL,
        description="GP kernel of the GP strategies: auto (the better of ard and hamming, "
        "re-chosen as results arrive), ard (a lengthscale per edge operation) or hamming",
    )
    local_phase: bool = Field(
        default=True,
        description=f"proxybo-features only: from {ProxyBOFeatures.default_local_after} "
        "evaluations on, candidates are the one-edit neighbours of the "
        f"{ProxyBOFeatures.default_local_top} best so far, one round "
        f"in {ProxyBOFeatures.default_global_every} the whole pool; false keeps the whole "
        "pool throughout",
    )
    noise_floor: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="GP strategies: hold the GP's noise variance (standardised scale) at this "
        "value or above, so the GP smooths over differences the architecture cannot explain; "
        f"unset: {BayesianOptimization.default_noise_floor}; 0: none (BoTorch's default noise "
        "prior, which lets the GP nearly interpolate)",
    )

    fusion: str | None = Field(
        default=None,
        description="proxybo and proxybo-features: how the choice listens to the proxies; "
        "sample (the default of proxybo-features: each pick by one scorer, the GP or a proxy, "
        "drawn with the reliability weights), rank (the default of proxybo: the published "
        "weighted rank sum) or none (expected improvement alone); unset: the strategy's default",
    )

    proxy_floor: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="proxybo and proxybo-features under fusion sample: the least share of "
        "picks that follow a proxy ordering the evaluated architectures better than chance "
        f"(each such proxy as likely); unset: {ProxyBOFeatures.default_proxy_floor} for "
        "proxybo-features, 0 for proxybo",
    )

    @field_validator("fusion")
    @classmethod
    def _known_fusion(cls, v: str | None) -> str | None:
        if v is not None and v not in FUSION_SETTINGS:
            raise ValueError(
                f"unknown fusion {v!r}; choose one of: {', '.join(map(repr, FUSION_SETTINGS))}"
            )
        return v

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; choose one of: {', '.join(STRATEGIES)}")
        return v

    @field_validator("kernel")
    @classmethod
    def _known_kernel(cls, v: str) -> str:
        if v not in KERNELS:
            raise ValueError(
                f"unknown kernel {v!r}; choose one of: {', '.join(map(repr, KERNELS))}"
            )
        return v

    @field_validator("proxies", mode="before")
    @classmethod
    def _split_proxies(cls, v: object) -> object:
        if isinstance(v, str):
            return tuple(p.strip() for p in v.split(",") if p.strip())
        return v

    @field_validator("proxies")
    @classmethod
    def _known_proxies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from optimizer.proxies import available_proxies

        known = available_proxies()
        bad = [p for p in v if p not in known]
        if bad:
            raise ValueError(
                f"unknown proxy {', '.join(map(repr, bad))}; available proxies: {', '.join(known)}"
            )
        if len(set(v)) != len(v):
            raise ValueError(f"proxies must be distinct, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _proxies_for_strategy(self) -> SearchSection:
        if STRATEGIES[self.strategy].uses_proxies and not self.proxies:
            raise ValueError(f"strategy {self.strategy!r} needs at least one proxy")
        if self.fusion is not None and "fusion" not in STRATEGIES[self.strategy].option_names:
            fusing = " and ".join(
                n for n, c in sorted(STRATEGIES.items()) if "fusion" in c.option_names
            )
            raise ValueError(
                f"fusion applies to {fusing}, not to {self.strategy!r}: "
                "remove it or change the strategy"
            )
        cls = STRATEGIES[self.strategy]
        if self.proxy_floor is not None and "proxy_floor" not in cls.option_names:
            raise ValueError(
                f"proxy_floor applies to proxybo and proxybo-features, not to {self.strategy!r}: "
                "remove it or change the strategy"
            )
        rule = self.fusion or getattr(cls, "default_fusion", None)
        if self.proxy_floor and rule != "sample":
            raise ValueError(
                f"proxy_floor applies under fusion sample, and {self.strategy} runs with fusion "
                f"{rule}: remove proxy_floor or set fusion: sample"
            )
        return self


class NetworkSettings(_Section):
    """The NB201 network every architecture is built into (stages of C, 2C, 4C channels)."""

    C: int = Field(default=16, ge=1, le=256, description="channels of the first stage")
    N: int = Field(default=1, ge=1, le=10, description="cells per stage")


class DataSettings(_Section):
    """The dataset: `digits`, `fashion-mnist`, an IDX folder, a .npz path or an s3:// URI."""

    dataset: str = "digits"
    limit: int | None = Field(default=None, ge=10, description="keep the first N training images")

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        v = v.strip()
        if v in ("digits", "fashion-mnist", "fashion_mnist") or v.startswith("s3://"):
            return v
        if v.endswith(".npz") or pathlib.Path(v).is_dir():
            return v
        raise ValueError(
            f"unknown dataset {v!r}: use 'digits', 'fashion-mnist', a folder of IDX files, a "
            ".npz file or an s3://bucket/key.npz URI"
        )


class TrainingSettings(_Section):
    """SGD with Nesterov momentum and a cosine schedule (see components/training.py)."""

    epochs: int = Field(default=5, ge=1)
    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=0.05, gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    nesterov: bool = True
    weight_decay: float = Field(default=5e-4, ge=0)
    device: str | None = Field(
        default=None, description="torch device; default CUDA when available"
    )

    @field_validator("lr")
    @classmethod
    def _finite_lr(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("lr must be a finite number")
        return v


class TrackingSettings(_Section):
    """Where the search is logged (MLflow) and which registered model holds the champion."""

    tracking_uri: str | None = Field(
        default=None, description="default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns.db"
    )
    registry_name: str = Field(default="proxybo", min_length=1)
    search_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="names the MLflow experiment; default: generated once and kept in the state",
    )


class StateSettings(_Section):
    """Where the search state lives: a local folder or s3://bucket/prefix."""

    uri: str = Field(default="./proxybo-state/", min_length=1)


class SearchSettings(_Section):
    """Everything one search needs; JSON round-trips exactly (`from_json(s.to_json()) == s`)."""

    search: SearchSection = SearchSection()
    network: NetworkSettings = NetworkSettings()
    data: DataSettings = DataSettings()
    training: TrainingSettings = TrainingSettings()
    tracking: TrackingSettings = TrackingSettings()
    state: StateSettings = StateSettings()

    # ----- (de)serialisation ----------------------------------------------------------------
    def to_json(self) -> str:
        """A JSON string (what the KFP components take as their `settings` parameter)."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> SearchSettings:
        """Parse settings from a JSON string or a mapping; `SettingsError` on any problem."""
        if isinstance(text, SearchSettings):
            return text
        try:
            doc = json.loads(text) if isinstance(text, str | bytes) else dict(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"settings are not valid JSON: {exc}") from None
        return cls.from_mapping(doc)

    @classmethod
    def from_mapping(cls, doc: object, source: str = "settings") -> SearchSettings:
        if doc is None:
            doc = {}
        if not isinstance(doc, Mapping):
            raise SettingsError(
                f"{source} must be a mapping of sections (search, network, data, training, "
                f"tracking, state), got {type(doc).__name__}"
            )
        try:
            return cls.model_validate(dict(doc))
        except ValidationError as exc:
            raise SettingsError(_explain(exc, source)) from None

    def with_overrides(self, overrides: Mapping[str, Any]) -> SearchSettings:
        """A copy with dotted keys replaced (`{"search.budget": 8}`), validated again.

        None values are ignored (an option that was not given on the command line).
        """
        doc = json.loads(self.to_json())
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, _, key = dotted.partition(".")
            if section not in doc or not key:
                raise SettingsError(f"unknown setting {dotted!r}")
            doc[section][key] = value
        return SearchSettings.from_mapping(doc, "settings (with command-line options)")

    # ----- what defines the search ----------------------------------------------------------
    def search_config(self) -> SearchConfig:
        """The `SearchConfig` whose fingerprint guards the stored state against other settings."""
        s = self.search
        return SearchConfig(
            strategy=s.strategy,
            space=SPACE,
            proxies=tuple(s.proxies),
            objective=OBJECTIVE,
            seed=s.seed,
            budget=s.budget,
            batch_size=s.batch_size,
            options={
                "pool_size": s.pool_size,
                "n_init": s.n_init,
                "proxy_batch_size": s.proxy_batch_size,
                # Only a non-default kernel enters the options (and so the fingerprint): searches
                # stored before the setting existed keep their fingerprint.
                **({"kernel": s.kernel} if s.kernel != DEFAULT_KERNEL else {}),
                # Likewise only turning the local phase off enters them.
                **({} if s.local_phase else {"local_after": None}),
                # And a noise floor only when set; 0 turns the default floor off.
                **({} if s.noise_floor is None else {"noise_floor": s.noise_floor or None}),
                # And the fusion rule only when set; "none" reaches the strategy as false.
                **(
                    {}
                    if s.fusion is None
                    else {"fusion": s.fusion if s.fusion != "none" else False}
                ),
                # And the proxies' floor only when set.
                **({} if s.proxy_floor is None else {"proxy_floor": s.proxy_floor}),
                "network": self.network.model_dump(),
                "data": self.data.model_dump(),
                "training": self.training.model_dump(exclude={"device"}),
            },
        )


def _explain(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            section = ".".join(str(p) for p in err["loc"][:-1])
            allowed = _allowed_keys(err["loc"][:-1])
            lines.append(
                f"{where}: unknown setting"
                + (f" in section {section!r}" if section else "")
                + (f"; allowed: {', '.join(allowed)}" if allowed else "")
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {msg} (got {err.get('input')!r})")
    return f"invalid {source}:\n  " + "\n  ".join(lines)


def _allowed_keys(loc: Sequence[int | str]) -> list[str]:
    model: type[BaseModel] = SearchSettings
    for part in loc:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field is not None else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields)


def load_settings(path: str | pathlib.Path | None = None) -> SearchSettings:
    """Settings from a YAML file (None: the defaults); `SettingsError` names what is wrong."""
    import yaml

    if path is None:
        return SearchSettings()
    p = pathlib.Path(path)
    if not p.is_file():
        raise SettingsError(f"config file {p} does not exist")
    try:
        doc = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {p} is not valid YAML: {exc}") from None
    return SearchSettings.from_mapping(doc, f"config file {p}")
