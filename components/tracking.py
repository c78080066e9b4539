"""Experiment tracking behind a small protocol: MLflow for real searches, a no-op for benchmarks.

Layout in MLflow (one search = one experiment):

- experiment ``proxybo-<search_id>``;
- one *parent* run per search, tagged ``proxybo.search_id`` and ``proxybo.role=search``: the
  search's parameters (config, search space, proxies, strategy), and per round (step = round)
  the best-so-far accuracy, the accuracy of the architecture the strategy recommends (for the GP
  strategies the evaluated one with the highest posterior mean; the tags
  ``proxybo.recommended_arch`` and ``proxybo.recommended_run_id`` name it and its child run) and
  each scorer's reliability and weight, plus the plots ``plots/best_so_far.png`` (best and
  recommended) and ``plots/weights.png``. A resumed search finds its parent by tag and
  keeps logging there;
- one *child* run per evaluated architecture (``mlflow.parentRunId`` = the parent), named after
  the architecture, tagged with its id and round: params, proxy scores, accuracies, cost, per-epoch
  curves (step = epoch) and the trained model. Logging the same (architecture, round) twice is a
  no-op once the first run FINISHED, so a retried pod does not duplicate it;
- the registered model (default ``proxybo``) whose alias ``champion`` points at the best version
  seen so far; a version is registered only when it beats the current champion.

`mlflow` and `torch` are imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from components import plots

if TYPE_CHECKING:
    import numpy as np
    import torch
    from mlflow import MlflowClient
    from mlflow.entities import RunTag

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_TRACKING_URI",
    "ArchitectureRecord",
    "MLflowTracker",
    "NullTracker",
    "Preprocessing",
    "RoundRecord",
    "SearchSpec",
    "Tracker",
    "TrackingUnavailable",
    "arch_id",
    "champion_info",
    "check_reachable",
    "resolve_tracking_uri",
]

_log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlruns.db"
DEFAULT_MODEL_NAME = "proxybo"
CHAMPION_ALIAS = "champion"
EXPERIMENT_PREFIX = "proxybo-"

TAG_SEARCH_ID = "proxybo.search_id"
TAG_ROLE = "proxybo.role"
TAG_ARCH = "proxybo.arch"
TAG_ARCH_ID = "proxybo.arch_id"
TAG_ROUND = "proxybo.round"
TAG_CONFIG_FINGERPRINT = "proxybo.config_fingerprint"
TAG_RECOMMENDED_ARCH = "proxybo.recommended_arch"
TAG_RECOMMENDED_RUN = "proxybo.recommended_run_id"
TAG_SETTINGS_CHANGED = "proxybo.settings_changed"
"""Set on a resumed parent run whose recorded ``settings.*`` params differ from the settings the
search goes on with (a state stored before settings were pinned, resumed by a version whose
defaults differ): ``key: recorded -> now`` per setting. The params stay as recorded."""
TAG_PARENT = "mlflow.parentRunId"

METRIC_BEST = "best_so_far_val_accuracy"
METRIC_RECOMMENDED = "recommended_val_accuracy"
PLOT_BEST = "plots/best_so_far.png"
PLOT_WEIGHTS = "plots/weights.png"
PLOT_LABEL_RECOMMENDED = "recommended (highest GP posterior mean)"

_PARENT_WAIT_S = 30.0
"""How long a step that did not create the experiment waits for its parent run."""

_SEARCH_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MAX_PARAM_CHARS = 6000
_MAX_RUN_NAME_CHARS = 200
_BATCH_METRICS = 1000
_BATCH_PARAMS = 100


class TrackingUnavailable(RuntimeError):
    """The tracking server cannot be reached or refused us; raised before any training starts."""


# --------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class SearchSpec:
    """What identifies a search and what its parent run records as parameters.

    Attributes:
        search_id: letters, digits, ``.``, ``_``, ``-`` (at most 128); names the experiment.
        config: the search configuration (nested mappings are flattened to ``config.a.b`` params
            and the whole document is stored as ``config.json``).
        search_space: name of the search space, e.g. ``nb201``.
        proxies: the zero-cost proxies the search uses.
        strategy: ``proxybo``, ``bo``, ``rea``, ``random``, ...
        settings: the strategy's options with its defaults filled in (`Strategy.settings`),
            recorded as ``settings.*`` params so that a reader sees what ran, not only what was
            set. Derived from the rest, so not part of the config fingerprint. A search goes
            on with the settings pinned in its state when it started (`Strategy.for_state`), so
            a later version resumes it with the same values and adds only new keys; where they
            differ anyway (a state from before pinning) the params stay as recorded and the
            tag `TAG_SETTINGS_CHANGED` lists the differences.
    """

    search_id: str
    config: Mapping[str, Any] = field(default_factory=dict)
    search_space: str = ""
    proxies: Sequence[str] = ()
    strategy: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArchitectureRecord:
    """One evaluated architecture, as the train-evaluate step reports it.

    Attributes:
        arch: the architecture string (may be long).
        round: the BO round that selected it.
        strategy: the strategy that selected it.
        val_accuracy: validation accuracy in [0, 1] (what the search maximizes).
        test_accuracy: test accuracy in [0, 1], if measured.
        train_seconds: wall-clock training time.
        n_params: number of trainable parameters.
        proxy_scores: proxy name -> score of the untrained network.
        curves: name -> per-epoch values, logged as ``epoch/<name>`` with step = epoch index.
    """

    arch: str
    round: int
    strategy: str
    val_accuracy: float
    test_accuracy: float | None = None
    train_seconds: float | None = None
    n_params: int | None = None
    proxy_scores: Mapping[str, float] = field(default_factory=dict)
    curves: Mapping[str, Sequence[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class RoundRecord:
    """The state of the search after a round.

    Attributes:
        round: the round index (used as the metric step).
        best_so_far: best validation accuracy over everything evaluated so far.
        reliability: scorer (``gp`` and each proxy) -> fraction of pairs it orders correctly.
        weights: scorer -> fusion weight (probability of being the most reliable scorer).
        recommended_arch: the evaluated architecture the strategy would deploy now
            (`Strategy.recommend`; for the GP strategies the highest posterior mean), None if
            not known.
        recommended_round: the round in which `recommended_arch` was evaluated.
        recommended_val_acc: its validation accuracy.
    """

    round: int
    best_so_far: float
    reliability: Mapping[str, float] = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=dict)
    recommended_arch: str | None = None
    recommended_round: int | None = None
    recommended_val_acc: float | None = None


@dataclass(frozen=True)
class Preprocessing:
    """What a consumer of the registered model must do to an image before `predict`.

    Attributes:
        input_shape: one example's shape, e.g. ``(3, 32, 32)``; `predict` takes ``n x *input_shape``
            float32 arrays.
        mean: per-channel normalization mean (subtract, then divide by `std`).
        std: per-channel normalization standard deviation.
        class_labels: output index -> label.
    """

    input_shape: tuple[int, ...]
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    class_labels: tuple[str, ...] = ()

    def as_tags(self) -> dict[str, str]:
        return {
            "input_shape": json.dumps(list(self.input_shape)),
            "normalization_mean": json.dumps(list(self.mean)),
            "normalization_std": json.dumps(list(self.std)),
            "class_labels": json.dumps(list(self.class_labels)),
        }

    def as_dict(self) -> dict[str, list[Any]]:
        return {
            "input_shape": list(self.input_shape),
            "normalization_mean": list(self.mean),
            "normalization_std": list(self.std),
            "class_labels": list(self.class_labels),
        }


# -------------------------------------------------------------------------------------- protocol


@runtime_checkable
class Tracker(Protocol):
    """Where a search reports its progress. Every method may be called again with the same
    arguments (a retried step) without duplicating anything."""

    def start_search(self, spec: SearchSpec) -> str | None:
        """Open (or resume) the search; returns the tracker's id for it, if any."""
        ...

    def log_architecture(
        self,
        record: ArchitectureRecord,
        model: torch.nn.Module | None = None,
        input_example: np.ndarray | None = None,
    ) -> str | None:
        """Record one evaluated architecture (and its trained model); returns its run id."""
        ...

    def log_round(self, record: RoundRecord) -> None:
        """Record the search state after a round."""
        ...

    def end_search(self, status: str = "FINISHED") -> None:
        """Close the search (``FINISHED``, ``FAILED`` or ``KILLED``)."""
        ...


class NullTracker:
    """Records nothing: for benchmarks and tests of the method."""

    def start_search(self, spec: SearchSpec) -> str | None:
        return None

    def log_architecture(
        self,
        record: ArchitectureRecord,
        model: torch.nn.Module | None = None,
        input_example: np.ndarray | None = None,
    ) -> str | None:
        return None

    def log_round(self, record: RoundRecord) -> None:
        return None

    def end_search(self, status: str = "FINISHED") -> None:
        return None


# ------------------------------------------------------------------------------ connection checks


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """`tracking_uri` if given, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlruns.db``
    (a SQLite file in the working directory)."""
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def _sqlite_file(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URI; None for any other URI or in-memory."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = tracking_uri[len("sqlite:///") :]
    return Path(path) if path and path != ":memory:" else None


def check_reachable(tracking_uri: str, timeout_s: float = 5.0) -> None:
    """Fail fast when the tracking backend cannot be used.

    For ``http(s)`` URIs: one ``GET /health`` (falling back to an experiments search for servers
    behind a proxy that hides ``/health``) with `timeout_s` for connect and read, no retries.
    For ``sqlite`` and ``file`` URIs: the directory that will hold the store must exist or be
    creatable. Other schemes (``databricks``, ...) are not probed.

    Raises:
        TrackingUnavailable: naming the URI and what to check.
    """
    parsed = urllib.parse.urlparse(tracking_uri)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        _check_http(tracking_uri, timeout_s)
    elif scheme == "sqlite":
        db = _sqlite_file(tracking_uri)
        if db is not None:
            _check_dir_writable(db.parent, tracking_uri)
    elif scheme in ("", "file"):
        path = parsed.path if scheme == "file" else tracking_uri
        _check_dir_writable(Path(path), tracking_uri)


def _check_http(uri: str, timeout_s: float) -> None:
    import requests

    base = uri.rstrip("/")
    hint = (
        "Check that the MLflow server is running and reachable from here, that the URI "
        "(--tracking-uri or MLFLOW_TRACKING_URI) is right, or unset MLFLOW_TRACKING_URI to log "
        f"to the local file {DEFAULT_TRACKING_URI}."
    )
    auth: tuple[str, str] | None = None
    user, password = (
        os.environ.get("MLFLOW_TRACKING_USERNAME"),
        os.environ.get("MLFLOW_TRACKING_PASSWORD"),
    )
    if user and password:
        auth = (user, password)
    headers = {}
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    try:
        resp = requests.get(
            f"{base}/health", timeout=(timeout_s, timeout_s), auth=auth, headers=headers
        )
        if resp.status_code == 404:
            resp = requests.get(
                f"{base}/api/2.0/mlflow/experiments/search",
                params={"max_results": 1},
                timeout=(timeout_s, timeout_s),
                auth=auth,
                headers=headers,
            )
    except requests.exceptions.Timeout as exc:
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} did not answer within {timeout_s:g} s. {hint}"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} is unreachable ({type(exc).__name__}: {exc}). {hint}"
        ) from exc
    if resp.status_code in (401, 403):
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} refused access (HTTP {resp.status_code}). Set "
            "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN."
        )
    if resp.status_code >= 400:
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} answered HTTP {resp.status_code} to a health check "
            f"({resp.text[:200]!r}). {hint}"
        )


def _check_dir_writable(directory: Path, uri: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackingUnavailable(
            f"cannot create the directory {directory} for the tracking store {uri}: {exc}. "
            "Point MLFLOW_TRACKING_URI at a writable location."
        ) from exc
    if not os.access(directory, os.W_OK):
        raise TrackingUnavailable(
            f"the directory {directory} for the tracking store {uri} is not writable. "
            "Point MLFLOW_TRACKING_URI at a writable location."
        )


# ------------------------------------------------------------------------------------- helpers


def arch_id(arch: str) -> str:
    """A short stable id for an architecture string (first 12 hex digits of its SHA-256)."""
    return hashlib.sha256(arch.encode()).hexdigest()[:12]


def _run_name(arch: str) -> str:
    if len(arch) <= _MAX_RUN_NAME_CHARS:
        return arch
    return f"{arch[: _MAX_RUN_NAME_CHARS - 14]}…{arch_id(arch)}"


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}", v)
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        yield prefix, text[:_MAX_PARAM_CHARS]


def _fingerprint(spec: SearchSpec) -> str:
    doc = {
        "config": spec.config,
        "search_space": spec.search_space,
        "proxies": list(spec.proxies),
        "strategy": spec.strategy,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(float(x))


def _pip_requirements(serialization_format: str) -> list[str]:
    import torch

    reqs = [f"torch=={torch.__version__.split('+')[0]}"]
    if serialization_format == "pickle":
        import cloudpickle

        reqs.append(f"cloudpickle=={cloudpickle.__version__}")
    return reqs


# ------------------------------------------------------------------------------------ MLflow


class MLflowTracker:
    """`Tracker` on MLflow. See the module docstring for what goes where.

    Args:
        tracking_uri: MLflow tracking URI; None reads ``MLFLOW_TRACKING_URI`` and falls back to
            ``sqlite:///mlruns.db`` (artifacts then go to ``./mlartifacts``).
        registered_model_name: the registry entry whose ``champion`` alias follows the best model;
            None disables registration.
        preprocessing: input facts stored with every logged model and on registered versions.
        serialization_format: ``pt2`` (default: `torch.export`, loads without the model's Python
            class) or ``pickle``. A model that `torch.export` cannot trace falls back to pickle.
        connect_timeout_s: the reachability probe's timeout; the constructor raises
            `TrackingUnavailable` if the backend cannot be used.
        artifact_root: where local (non-http) stores keep artifacts; default ``./mlartifacts``.

    Constructing it sets MLflow's process-wide tracking and registry URI (model logging goes
    through MLflow's fluent API).
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        registered_model_name: str | None = DEFAULT_MODEL_NAME,
        preprocessing: Preprocessing | None = None,
        serialization_format: str = "pt2",
        connect_timeout_s: float = 5.0,
        artifact_root: str | Path | None = None,
    ) -> None:
        if serialization_format not in ("pt2", "pickle"):
            raise ValueError(
                f"serialization_format must be 'pt2' or 'pickle', got {serialization_format!r}"
            )
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        check_reachable(self.tracking_uri, connect_timeout_s)

        import mlflow
        from mlflow import MlflowClient

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        self.client: MlflowClient = MlflowClient(self.tracking_uri, self.tracking_uri)
        self.registered_model_name = registered_model_name
        self.preprocessing = preprocessing
        self.serialization_format = serialization_format
        self._is_remote = urllib.parse.urlparse(self.tracking_uri).scheme in ("http", "https")
        self._artifact_root = Path(artifact_root or "mlartifacts").resolve()
        self.search_id: str | None = None
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None

    # ---------------------------------------------------------------- search (parent run)

    def start_search(self, spec: SearchSpec) -> str:
        """Create the experiment and parent run, or resume the parent run logged before for
        `spec.search_id`. Returns the parent run id.

        Raises:
            ValueError: bad search id, or the existing parent was started with another config.
        """
        if not _SEARCH_ID_RE.match(spec.search_id):
            raise ValueError(
                f"search id {spec.search_id!r} is not usable: use 1-128 letters, digits, '.', "
                "'_' or '-', starting with a letter or digit"
            )
        self.search_id = spec.search_id
        self.experiment_id, created = self._create_experiment(EXPERIMENT_PREFIX + spec.search_id)
        fingerprint = _fingerprint(spec)
        found = self._parent_runs(spec.search_id)
        if not found and not created:
            # Steps of one round start in parallel (the training fan-out). Creating the
            # experiment is atomic, so the step that created it creates the parent run; the
            # others wait for that run instead of making their own.
            deadline = time.monotonic() + _PARENT_WAIT_S
            while not found and time.monotonic() < deadline:
                time.sleep(0.2)
                found = self._parent_runs(spec.search_id)
        if found:
            return self._resume_parent(found[0], spec, fingerprint)

        from mlflow.entities import Param

        run = self.client.create_run(
            self.experiment_id,
            run_name=spec.search_id,
            tags={
                TAG_SEARCH_ID: spec.search_id,
                TAG_ROLE: "search",
                TAG_CONFIG_FINGERPRINT: fingerprint,
            },
        )
        # Only reached by two steps at once when the experiment outlived its parent run (a
        # crash between the two, or a deleted parent): the later creator yields where it sees
        # the other's run.
        first = self._parent_runs(spec.search_id)[0]
        if first.info.run_id != run.info.run_id:
            self.client.delete_run(run.info.run_id)
            _log.info("parent run %s was created concurrently; using it", first.info.run_id)
            return self._resume_parent(first, spec, fingerprint)
        self.parent_run_id = run.info.run_id
        params = [
            Param("search_space", spec.search_space),
            Param("proxies", ",".join(spec.proxies)),
            Param("strategy", spec.strategy),
            *(Param(k, v) for k, v in _flatten("config", dict(spec.config))),
            *(Param(k, v) for k, v in _flatten("settings", dict(spec.settings))),
        ]
        self._log_params_once(self.parent_run_id, params)
        self.client.log_dict(
            self.parent_run_id,
            json.loads(json.dumps(dict(spec.config), default=str)),
            "config.json",
        )
        return self.parent_run_id

    def _parent_runs(self, search_id: str) -> list[Any]:
        """The live parent runs of `search_id`, earliest first (ties by run id)."""
        runs = self.client.search_runs(
            [str(self.experiment_id)],
            f"tags.`{TAG_SEARCH_ID}` = '{search_id}' and tags.`{TAG_ROLE}` = 'search'",
            order_by=["attributes.start_time ASC"],
            max_results=50,
        )
        return sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))

    def _resume_parent(self, run: Any, spec: SearchSpec, fingerprint: str) -> str:
        """Adopt the existing parent `run`, which must carry the same config fingerprint."""
        old = run.data.tags.get(TAG_CONFIG_FINGERPRINT)
        if old != fingerprint:
            raise ValueError(
                f"search {spec.search_id!r} already has a parent run ({run.info.run_id}) "
                f"started with a different configuration (fingerprint {old} != "
                f"{fingerprint}); resume it with the same config, or start a new search id"
            )
        self.parent_run_id = run.info.run_id
        if run.info.status != "RUNNING":
            self.client.update_run(self.parent_run_id, status="RUNNING")
        from mlflow.entities import Param

        settings = list(_flatten("settings", dict(spec.settings)))
        new = [Param(k, v) for k, v in settings if k not in run.data.params]
        self._log_params_once(self.parent_run_id, new)
        recorded = run.data.params
        changed = [f"{k}: {recorded[k]} -> {v}" for k, v in settings if recorded.get(k, v) != v]
        if changed:
            # MLflow params cannot change; the tag says what the search goes on with.
            text = "; ".join(changed)
            _log.warning(
                "search %s goes on with settings its parent run did not record at its start "
                "(%s): its state was stored before settings were pinned to a search",
                spec.search_id,
                text,
            )
            self.client.set_tag(self.parent_run_id, TAG_SETTINGS_CHANGED, text[:_MAX_PARAM_CHARS])
        _log.info("resuming parent run %s of search %s", self.parent_run_id, spec.search_id)
        return self.parent_run_id

    def _log_params_once(self, run_id: str, params: Sequence[Any], attempts: int = 5) -> None:
        """Log `params` (MLflow `Param`s) on `run_id`, where parallel steps of one round may log
        the same keys at the same moment: the parent's creator its params while another step,
        resuming, adds the settings it found missing. The store then refuses one insert (a
        unique key); what another step logged with the same value counts as logged, another
        value is an error."""
        from mlflow.exceptions import MlflowException

        pending = list(params)
        for attempt in range(attempts):
            try:
                for chunk in _chunks(pending, _BATCH_PARAMS):
                    self.client.log_batch(run_id, params=chunk)
                return
            except MlflowException:
                if attempt == attempts - 1:
                    raise
                logged = self.client.get_run(run_id).data.params
                clash = [p.key for p in pending if p.key in logged and logged[p.key] != p.value]
                if clash:
                    raise
                pending = [p for p in pending if p.key not in logged]
                if not pending:
                    return
                time.sleep(0.1 * (attempt + 1))

    def end_search(self, status: str = "FINISHED") -> None:
        """Mark the parent run terminated with `status`."""
        if self.parent_run_id is not None:
            self.client.set_terminated(self.parent_run_id, status=status)

    # ----------------------------------------------------------- architecture (child run)

    def log_architecture(
        self,
        record: ArchitectureRecord,
        model: torch.nn.Module | None = None,
        input_example: np.ndarray | None = None,
    ) -> str:
        """Log one evaluated architecture as a child run; returns its run id.

        If a FINISHED child run for (`record.arch`, `record.round`) exists, returns its id and logs
        nothing. With `model`, logs it (signature from `input_example`, default random inputs of
        shape ``2 x *preprocessing.input_shape``) and promotes it to champion if it beats the
        current one.
        """
        parent, experiment_id = self._require_search()
        aid = arch_id(record.arch)
        existing = self.find_architecture_run(record.arch, record.round, status="FINISHED")
        if existing is not None:
            _log.info(
                "architecture %s round %d already logged in run %s", aid, record.round, existing
            )
            return existing
        if model is not None:
            input_example = self._input_example(input_example)

        run = self.client.create_run(
            experiment_id,
            run_name=_run_name(record.arch),
            tags={
                TAG_PARENT: parent,
                TAG_SEARCH_ID: self.search_id,
                TAG_ROLE: "architecture",
                TAG_ARCH: record.arch[:_MAX_PARAM_CHARS],
                TAG_ARCH_ID: aid,
                TAG_ROUND: str(record.round),
            },
        )
        run_id = run.info.run_id
        try:
            self._log_record(run_id, record)
            model_uri = None
            if model is not None:
                assert input_example is not None
                model_uri = self._log_model(run_id, record, model, input_example)
            self.client.set_terminated(run_id, status="FINISHED")
        except BaseException:
            self.client.set_terminated(run_id, status="FAILED")
            raise
        if model_uri is not None and self.registered_model_name:
            self.promote_if_better(model_uri, record, run_id)
        return run_id

    def find_architecture_run(
        self, arch: str, round: int, *, status: str | None = None
    ) -> str | None:
        """The id of a child run logged for (`arch`, `round`) in this search, if any."""
        _, experiment_id = self._require_search()
        query = (
            f"tags.`{TAG_SEARCH_ID}` = '{self.search_id}' and tags.`{TAG_ROLE}` = 'architecture'"
            f" and tags.`{TAG_ARCH_ID}` = '{arch_id(arch)}' and tags.`{TAG_ROUND}` = '{round}'"
        )
        if status is not None:
            query += f" and attributes.status = '{status}'"
        runs = self.client.search_runs([experiment_id], query, max_results=50)
        # The id is a hash prefix: confirm the full architecture string.
        for run in runs:
            if run.data.tags.get(TAG_ARCH) == arch[:_MAX_PARAM_CHARS]:
                return str(run.info.run_id)
        return None

    def _log_record(self, run_id: str, record: ArchitectureRecord) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        params = [
            Param("arch", record.arch[:_MAX_PARAM_CHARS]),
            Param("arch_id", arch_id(record.arch)),
            Param("round", str(record.round)),
            Param("strategy", record.strategy),
        ]
        if record.n_params is not None:
            params.append(Param("n_params", str(record.n_params)))
        scalars: dict[str, float | None] = {
            "val_accuracy": record.val_accuracy,
            "test_accuracy": record.test_accuracy,
            "train_seconds": record.train_seconds,
            "n_params": None if record.n_params is None else float(record.n_params),
            **{f"proxy/{k}": v for k, v in record.proxy_scores.items()},
        }
        metrics = [
            Metric(k, float(v), now, 0)
            for k, v in scalars.items()
            if v is not None and not math.isnan(float(v))
        ]
        for name, values in record.curves.items():
            metrics.extend(
                Metric(f"epoch/{name}", float(v), now, epoch)
                for epoch, v in enumerate(values)
                if not math.isnan(float(v))
            )
        self.client.log_batch(run_id, params=params)
        for chunk in _chunks(metrics, _BATCH_METRICS):
            self.client.log_batch(run_id, metrics=chunk)

    def _input_example(self, input_example: np.ndarray | None) -> np.ndarray:
        import numpy as np

        if input_example is None:
            if self.preprocessing is None:
                raise ValueError(
                    "logging a model needs an input example: pass input_example= to "
                    "log_architecture or preprocessing=Preprocessing(input_shape=...) to "
                    "MLflowTracker"
                )
            rng = np.random.default_rng(0)
            input_example = rng.standard_normal((2, *self.preprocessing.input_shape))
        example = np.asarray(input_example, dtype=np.float32)
        if example.ndim < 1 or example.shape[0] < 1:
            raise ValueError(f"input example must be a batch `n x ...`, got shape {example.shape}")
        # torch.export makes a size-1 batch dimension static; a batch of 2 keeps it dynamic.
        if example.shape[0] == 1:
            example = np.concatenate([example, example])
        return example[:2]

    def _log_model(
        self,
        run_id: str,
        record: ArchitectureRecord,
        model: torch.nn.Module,
        input_example: np.ndarray,
    ) -> str:
        import mlflow
        import torch

        net = copy.deepcopy(model).to("cpu").eval()
        with torch.no_grad():
            output = net(torch.from_numpy(input_example)).numpy()
        signature = mlflow.models.infer_signature(input_example, output)
        metadata: dict[str, Any] = {"arch": record.arch, "round": record.round}
        if self.preprocessing is not None:
            metadata["preprocessing"] = self.preprocessing.as_dict()
        with self._active_run(run_id):
            fmt = self.serialization_format
            try:
                info = self._log_model_as(net, signature, input_example, metadata, fmt)
            except Exception as exc:
                if fmt != "pt2":
                    raise
                _log.warning(
                    "torch.export failed for %s (%s: %s); logging it with pickle instead",
                    arch_id(record.arch),
                    type(exc).__name__,
                    exc,
                )
                info = self._log_model_as(net, signature, input_example, metadata, "pickle")
        return str(info.model_uri)

    def _log_model_as(
        self,
        net: torch.nn.Module,
        signature: Any,
        input_example: np.ndarray,
        metadata: dict[str, Any],
        fmt: str,
    ) -> Any:
        import mlflow.pytorch

        return mlflow.pytorch.log_model(
            net,
            name="model",
            signature=signature,
            input_example=input_example,
            metadata=metadata,
            serialization_format=fmt,
            # Explicit requirements: inferring them re-imports torch in a subprocess (~5 s/model).
            pip_requirements=_pip_requirements(fmt),
        )

    @contextmanager
    def _active_run(self, run_id: str) -> Iterator[None]:
        """Make `run_id` MLflow's active run in this thread without ending it on exit."""
        import mlflow

        nested = mlflow.active_run() is not None
        run = mlflow.start_run(run_id=run_id, nested=nested)
        try:
            yield
        finally:
            # end_run would mark the run FINISHED; the caller decides the final status.
            status = self.client.get_run(run.info.run_id).info.status
            mlflow.end_run(status=status)

    # -------------------------------------------------------------------------- champion

    def promote_if_better(self, model_uri: str, record: ArchitectureRecord, run_id: str) -> bool:
        """Register `model_uri` and move the ``champion`` alias to it if its validation accuracy
        beats the current champion's (ties keep the incumbent). Returns whether it moved.

        Concurrent promoters can interleave; every promotion re-reads all registered versions
        and points the alias at the best of them, so a lost race is repaired by the next one.
        """
        from mlflow.exceptions import MlflowException

        name = self.registered_model_name
        if not name or not _finite(record.val_accuracy):
            return False
        current = champion_info(name, client=self.client)
        if current is not None and not record.val_accuracy > current["val_accuracy"]:
            return False
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        tags = {
            "arch": record.arch[:_MAX_PARAM_CHARS],
            "arch_id": arch_id(record.arch),
            "val_accuracy": repr(float(record.val_accuracy)),
            "search_id": str(self.search_id),
            "round": str(record.round),
            "strategy": record.strategy,
        }
        if _finite(record.test_accuracy):
            tags["test_accuracy"] = repr(float(record.test_accuracy))  # type: ignore[arg-type]
        if self.preprocessing is not None:
            tags.update(self.preprocessing.as_tags())
        model_id = (
            model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        )
        version = self.client.create_model_version(
            name, model_uri, run_id=run_id, tags=tags, model_id=model_id
        )
        best = max(
            self.client.search_model_versions(f"name = '{name}'"),
            key=lambda v: (_tag_float(v.tags, "val_accuracy"), -int(v.version)),
        )
        self.client.set_registered_model_alias(name, CHAMPION_ALIAS, best.version)
        _log.info(
            "registered %s version %s; champion is version %s", name, version.version, best.version
        )
        return bool(best.version == version.version)

    # --------------------------------------------------------------------- rounds (parent)

    def log_round(self, record: RoundRecord) -> None:
        """Log the round's metrics on the parent run (step = round) and redraw the plots from the
        parent's full metric history (so a resumed search plots all its rounds)."""
        from mlflow.entities import Metric

        parent, _ = self._require_search()
        now = int(time.time() * 1000)
        metrics = [Metric(METRIC_BEST, float(record.best_so_far), now, record.round)]
        metrics += [
            Metric(f"reliability/{k}", float(v), now, record.round)
            for k, v in record.reliability.items()
        ]
        metrics += [
            Metric(f"weight/{k}", float(v), now, record.round) for k, v in record.weights.items()
        ]
        if _finite(record.recommended_val_acc):
            value = float(record.recommended_val_acc)  # type: ignore[arg-type]
            metrics.append(Metric(METRIC_RECOMMENDED, value, now, record.round))
        tags = self._recommended_tags(record)
        self.client.log_batch(parent, metrics=metrics, tags=tags)
        run = self.client.get_run(parent)
        # A recommendation without a child run: a run tag left would name an earlier one's.
        stale = len(tags) == 1 and TAG_RECOMMENDED_RUN in run.data.tags
        if stale:
            self.client.delete_tag(parent, TAG_RECOMMENDED_RUN)

        keys = run.data.metrics.keys()
        curves = {"best so far": self._history(parent, METRIC_BEST)}
        if METRIC_RECOMMENDED in keys:
            curves[PLOT_LABEL_RECOMMENDED] = self._history(parent, METRIC_RECOMMENDED)
        weights = {
            k.removeprefix("weight/"): self._history(parent, k)
            for k in sorted(keys)
            if k.startswith("weight/")
        }
        figure = plots.best_so_far_figure(
            curves, title=f"Search {self.search_id}", dashed=[PLOT_LABEL_RECOMMENDED]
        )
        self._log_png(parent, figure, PLOT_BEST)
        if weights:
            self._log_png(parent, plots.weights_figure(weights), PLOT_WEIGHTS)

    def _recommended_tags(self, record: RoundRecord) -> list[RunTag]:
        """The parent-run tags naming the recommended architecture and, where it is found, its
        child run (none when the round recommends nothing)."""
        from mlflow.entities import RunTag

        arch = record.recommended_arch
        if arch is None:
            return []
        tags = [RunTag(TAG_RECOMMENDED_ARCH, arch[:_MAX_PARAM_CHARS])]
        round = record.recommended_round
        run_id = None if round is None else self.find_architecture_run(arch, round)
        if run_id is not None:
            tags.append(RunTag(TAG_RECOMMENDED_RUN, run_id))
        return tags

    def _history(self, run_id: str, key: str) -> dict[int, float]:
        # Duplicated steps (a retried round) collapse to the latest value.
        hist = sorted(self.client.get_metric_history(run_id, key), key=lambda m: m.timestamp)
        return {int(m.step): float(m.value) for m in hist}

    def _log_png(self, run_id: str, fig: Any, artifact_file: str) -> None:
        directory, filename = os.path.split(artifact_file)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / filename
            path.write_bytes(plots.figure_to_png(fig))
            self.client.log_artifact(run_id, str(path), directory or None)

    # ------------------------------------------------------------------------- internals

    def _require_search(self) -> tuple[str, str]:
        if self.parent_run_id is None or self.experiment_id is None:
            raise RuntimeError("call start_search(spec) before logging architectures or rounds")
        return self.parent_run_id, self.experiment_id

    def _experiment_id(self, name: str) -> str:
        return self._create_experiment(name)[0]

    def _create_experiment(self, name: str) -> tuple[str, bool]:
        """The id of experiment `name`, and whether this call created it (atomic by name)."""
        from mlflow.exceptions import MlflowException

        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            return str(exp.experiment_id), False
        location = None if self._is_remote else self._artifact_root.as_uri()
        try:
            return str(self.client.create_experiment(name, artifact_location=location)), True
        except MlflowException as exc:  # created concurrently by another pod
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            exp = self.client.get_experiment_by_name(name)
            assert exp is not None
            return str(exp.experiment_id), False


def _tag_float(tags: Mapping[str, str], key: str) -> float:
    try:
        value = float(tags[key])
    except (KeyError, ValueError):
        return -math.inf
    return value if math.isfinite(value) else -math.inf


def champion_info(
    name: str = DEFAULT_MODEL_NAME,
    tracking_uri: str | None = None,
    *,
    client: MlflowClient | None = None,
) -> dict[str, Any] | None:
    """The current ``champion`` of registered model `name`, or None if there is none.

    Returns:
        ``{"name", "version", "arch", "val_accuracy", "run_id", "search_id", "model_uri",
        "tags"}``; ``model_uri`` (``models:/NAME@champion``) loads with `mlflow.pyfunc.load_model`.
    """
    from mlflow.exceptions import MlflowException

    if client is None:
        from mlflow import MlflowClient

        uri = resolve_tracking_uri(tracking_uri)
        check_reachable(uri)
        sqlite = _sqlite_file(uri)
        if sqlite is not None and not sqlite.exists():
            return None  # nothing was ever registered there; MLflow would create the file
        client = MlflowClient(uri, uri)
    try:
        version = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise
    tags = dict(version.tags)
    return {
        "name": name,
        "version": str(version.version),
        "arch": tags.get("arch"),
        "val_accuracy": _tag_float(tags, "val_accuracy"),
        "run_id": version.run_id,
        "search_id": tags.get("search_id"),
        "model_uri": f"models:/{name}@{CHAMPION_ALIAS}",
        "tags": tags,
    }
