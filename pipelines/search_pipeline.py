"""The ProxyBO search as one Kubeflow Pipelines v2 pipeline (wiring only).

Per run, `CompileOptions.rounds` rounds are unrolled at compile time::

    configure -> search-status
    round k:  sample-candidates (pool in score_shards shards)
              -> ParallelFor(shards): proxy-score -> select(Collected scores)
              -> ParallelFor(batch, parallelism=batch_size): train-evaluate     [GPU pods]
              -> update-surrogate(Collected results)
    exit:     ensure-champion

Round 1 runs only if ``search-status`` says the search is not done, and round k+1 only if
``update-surrogate`` of round k says the same (``dsl.If`` on its ``done`` output). The search
state lives at the ``state_uri`` parameter (S3), so a recurring run continues the same search;
once the budget is spent the remaining rounds are skipped. ``ensure-champion`` is the exit
step: it runs last, whatever happened, and points the registry's ``champion`` alias at the
best model.

Pod settings (kfp-kubernetes): train-evaluate gets the accelerator type and count, the GPU
node selector and toleration (compile options), CPU/memory requests and retries; every
step reads the S3 and MLflow credentials from the Secret ``proxybo-credentials``; caching is
off for every step that reads or writes the state.

`compile_pipeline` writes the package; ``make compile`` / ``proxybo compile`` call it.

(No ``from __future__ import annotations`` here: KFP reads the pipeline's annotations as types.)
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp import compiler, dsl, kubernetes

from components.kfp_components import IMAGE, with_image

__all__ = [
    "DEFAULT_PACKAGE",
    "PIPELINE_NAME",
    "CompileOptions",
    "build_pipeline",
    "compile_pipeline",
]

PIPELINE_NAME = "proxybo-search"
DEFAULT_PACKAGE = Path(__file__).resolve().parent / "compiled" / "proxybo_search.yaml"

SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_TRACKING_URI")
"""Keys of the credentials Secret every step needs."""
OPTIONAL_SECRET_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
)
"""Keys used when present (not needed for AWS S3 / an MLflow without authentication)."""


@dataclass(frozen=True)
class Resources:
    """CPU and memory requests of one step (Kubernetes quantities)."""

    cpu: str
    memory: str


@dataclass(frozen=True)
class CompileOptions:
    """What is fixed when the pipeline is compiled (everything else is a run parameter).

    Attributes:
        rounds: rounds unrolled per run.
        batch_size: architectures trained in parallel per round (the ParallelFor parallelism,
            and ``search.batch_size`` of the settings).
        score_shards: pods the proxy scoring of a pool is split over.
        image: the component image.
        accelerator_type: Kubernetes GPU resource of train-evaluate pods. A compile option, not
            a run parameter: KFP 2.17's compiler does not pass a parameter used by
            ``set_accelerator_type`` down into ParallelFor / If sub-DAGs.
        accelerator_count: GPUs per train-evaluate pod (0: CPU-only pods, no GPU node
            selector or toleration).
        secret_name: Kubernetes Secret with the S3 and MLflow credentials.
        gpu_node_selector: node labels train-evaluate pods must match.
        gpu_tolerations: taint keys train-evaluate pods tolerate (``Exists``, ``NoSchedule``).
        train_retries: retries of a failed train-evaluate pod (a retried pod does not train
            twice what already finished, nor double-count).
        train_timeout_s: wall-clock limit of one train-evaluate pod.
        resources: requests per step (``train``, ``score`` and ``default``).
    """

    rounds: int = 5
    batch_size: int = 4
    score_shards: int = 1
    image: str = IMAGE
    accelerator_type: str = "nvidia.com/gpu"
    accelerator_count: int = 1
    secret_name: str = "proxybo-credentials"
    gpu_node_selector: Mapping[str, str] = field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"}
    )
    gpu_tolerations: Sequence[str] = ("nvidia.com/gpu",)
    train_retries: int = 2
    train_timeout_s: int = 6 * 3600
    resources: Mapping[str, Resources] = field(
        default_factory=lambda: {
            "train": Resources(cpu="4", memory="16Gi"),
            "score": Resources(cpu="2", memory="4Gi"),
            "default": Resources(cpu="500m", memory="1Gi"),
        }
    )

    def __post_init__(self) -> None:
        for name, lo, hi in (("rounds", 1, 50), ("batch_size", 1, 64), ("score_shards", 1, 64)):
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
        if not 0 <= self.accelerator_count <= 16:
            raise ValueError(
                f"accelerator_count must be between 0 and 16, got {self.accelerator_count}"
            )
        if self.train_retries < 0:
            raise ValueError(f"train_retries must be >= 0, got {self.train_retries}")

    @classmethod
    def from_cli(
        cls,
        *,
        rounds: int,
        batch_size: int,
        node_selector: Sequence[str] | None = None,
        tolerations: Sequence[str] | None = None,
        image: str | None = None,
        accelerator_type: str | None = None,
        accelerator_count: int | None = None,
    ) -> "CompileOptions":
        """Options from command-line strings (``KEY=VALUE`` node labels, taint keys)."""
        kwargs: dict[str, Any] = {"rounds": rounds, "batch_size": batch_size}
        if node_selector:
            labels = {}
            for item in node_selector:
                key, sep, value = item.partition("=")
                if not sep or not key:
                    raise ValueError(f"--node-selector {item!r} is not KEY=VALUE")
                labels[key] = value
            kwargs["gpu_node_selector"] = labels
        if tolerations:
            kwargs["gpu_tolerations"] = tuple(tolerations)
        if image:
            kwargs["image"] = image
        if accelerator_type:
            kwargs["accelerator_type"] = accelerator_type
        if accelerator_count is not None:
            kwargs["accelerator_count"] = accelerator_count
        return cls(**kwargs)


def build_pipeline(options: CompileOptions | None = None) -> Any:
    """The pipeline function (a KFP graph component) for `options`."""
    opts = options or CompileOptions()
    c = with_image(opts.image)

    def credentials(task: Any) -> Any:
        kubernetes.use_secret_as_env(task, opts.secret_name, {k: k for k in SECRET_KEYS})
        kubernetes.use_secret_as_env(
            task, opts.secret_name, {k: k for k in OPTIONAL_SECRET_KEYS}, optional=True
        )
        return task

    def step(task: Any, name: str, kind: str = "default", cache: bool = False) -> Any:
        res = opts.resources.get(kind, opts.resources["default"])
        task.set_display_name(name).set_caching_options(cache)
        task.set_cpu_request(res.cpu).set_memory_request(res.memory)
        return credentials(task)

    def one_round(settings: Any, r: int) -> None:
        sample = step(
            c["sample_candidates"](settings=settings, n_shards=opts.score_shards),
            f"round {r}: sample-candidates",
        )
        with dsl.ParallelFor(
            sample.output, parallelism=opts.score_shards, name=f"score-{r}"
        ) as shard:
            score = step(
                c["proxy_score"](settings=settings, pool=shard),
                f"round {r}: proxy-score",
                "score",
                cache=True,
            )
        chosen = step(
            c["select"](settings=settings, score_parts=dsl.Collected(score.output)),
            f"round {r}: select",
        )
        with dsl.ParallelFor(
            chosen.outputs["Output"], parallelism=opts.batch_size, name=f"train-{r}"
        ) as item:
            train = step(
                c["train_evaluate"](
                    settings=settings, arch=item.arch, round=item.round, proxies=item.proxies
                ),
                f"round {r}: train-evaluate",
                "train",
            )
            train.set_retry(
                num_retries=opts.train_retries,
                backoff_duration="60s",
                backoff_factor=2.0,
                backoff_max_duration="900s",
            )
            if opts.accelerator_count > 0:
                train.set_accelerator_type(opts.accelerator_type)
                train.set_accelerator_limit(opts.accelerator_count)
                for label, value in opts.gpu_node_selector.items():
                    kubernetes.add_node_selector(train, label, value)
                for key in opts.gpu_tolerations:
                    kubernetes.add_toleration(
                        train, key=key, operator="Exists", effect="NoSchedule"
                    )
            kubernetes.set_timeout(train, opts.train_timeout_s)
        update = step(
            c["update_surrogate"](
                settings=settings, results=dsl.Collected(train.outputs["Output"])
            ),
            f"round {r}: update-surrogate",
        )
        if r < opts.rounds:
            with dsl.If(update.outputs["Output"] == False, name=f"round-{r + 1}"):  # noqa: E712
                one_round(settings, r + 1)

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description=(
            f"ProxyBO neural architecture search: {opts.rounds} rounds per run of "
            f"{opts.batch_size} architectures; continues the search stored at state_uri."
        ),
    )
    def proxybo_search(
        state_uri: str,
        dataset: str = "digits",
        budget: int = 24,
        settings: dict = {},  # noqa: B006 (a KFP default value, never mutated)
        search_id: str = "",
        registry_name: str = "proxybo",
    ) -> None:
        """ProxyBO search rounds on Kubeflow.

        Args:
            state_uri: Search state location, ``s3://bucket/prefix``: the same URI continues
                the same search (recurring runs).
            dataset: ``digits``, ``fashion-mnist``, or the ``s3://`` URI / path of a ``.npz``.
            budget: Architectures to train in total over all runs.
            settings: Further ``SearchSettings`` sections as JSON, e.g. ``{"search":
                {"strategy": "proxybo", "proxies": ["synflow", "jacov"]}, "network": {"C": 16},
                "training": {"epochs": 8}}``.
            search_id: MLflow experiment name of the search (empty: stored or generated).
            registry_name: MLflow registered model holding the ``champion`` alias.
        """
        run_params = {
            "settings": settings,
            "state_uri": state_uri,
            "dataset": dataset,
            "budget": budget,
            "batch_size": opts.batch_size,
            "search_id": search_id,
            "registry_name": registry_name,
        }
        champion = step(c["ensure_champion"](**run_params), "ensure-champion")
        with dsl.ExitHandler(champion, name="search-rounds"):
            configured = step(c["configure"](**run_params), "configure", cache=True)
            status = step(c["search_status"](settings=configured.output), "search-status")
            with dsl.If(status.output == False, name="round-1"):  # noqa: E712
                one_round(configured.output, 1)

    return proxybo_search


def compile_pipeline(
    package_path: str | Path = DEFAULT_PACKAGE, options: CompileOptions | None = None
) -> Path:
    """Compile the pipeline for `options` to `package_path` (YAML); return the path."""
    path = Path(package_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(build_pipeline(options), package_path=str(path))
    return path
