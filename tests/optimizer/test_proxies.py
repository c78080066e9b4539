"""Zero-cost proxies: registry rules, determinism, shared passes, OOM retry, no state leaks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from optimizer.proxies import (
    DEFAULT_PROXIES,
    Batch,
    ProxyRegistry,
    available_proxies,
    compute_proxies,
    random_batch,
    register,
    score_architecture,
)
from optimizer.proxies.flops import count_flops
from optimizer.proxies.jacov import jacov_score
from optimizer.spaces.nb201 import parse
from optimizer.spaces.nb201_net import build_network

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
TINY: dict[str, Any] = {"C": 4, "N": 1, "num_classes": 10}
ALL = (
    "synflow", "snip", "jacov", "grad_norm", "fisher", "grasp", "nwot", "zen", "params",
    "flops", "l2_norm",
)  # fmt: skip
DATA_FREE = {"params", "flops"}  # depend on neither the weights nor the data


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one torch thread is fastest


@pytest.fixture(scope="module")
def batch() -> Batch:
    return random_batch(16, (3, 8, 8), 10, seed=3)


def tiny_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_network(parse(ARCH), **TINY)


def test_the_required_proxies_are_registered() -> None:
    assert set(ALL) <= set(available_proxies())
    assert set(DEFAULT_PROXIES) == {"jacov", "synflow", "snip"}


def test_every_proxy_is_a_finite_float_deterministic_for_a_seed(batch: Batch) -> None:
    a = score_architecture(ARCH, batch, ALL, seed=0, **TINY)
    b = score_architecture(ARCH, batch, ALL, seed=0, **TINY)
    assert list(a) == list(ALL)
    for name in ALL:
        assert isinstance(a[name], float) and math.isfinite(a[name]), name
    assert a == b


def test_weight_dependent_proxies_change_with_the_seed(batch: Batch) -> None:
    a = score_architecture(ARCH, batch, ALL, seed=0, **TINY)
    b = score_architecture(ARCH, batch, ALL, seed=1, **TINY)
    for name in ALL:
        if name in DATA_FREE:
            assert a[name] == b[name], name
        else:
            assert a[name] != b[name], name


def test_data_dependent_proxies_change_with_the_batch(batch: Batch) -> None:
    other = random_batch(16, (3, 8, 8), 10, seed=4)
    names = ["snip", "jacov", "grad_norm", "fisher", "nwot", "grasp"]
    a = score_architecture(ARCH, batch, names, seed=0, **TINY)
    b = score_architecture(ARCH, other, names, seed=0, **TINY)
    assert all(a[n] != b[n] for n in names)


def test_params_and_flops_count_the_network(batch: Batch) -> None:
    net = tiny_net()
    vals = compute_proxies(net, batch, ["params", "flops"])
    assert vals["params"] == pytest.approx(sum(p.numel() for p in net.parameters()) / 1e6)
    simple = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4, 2),
    )  # fmt: skip
    assert count_flops(simple, (3, 8, 8)) == 64 * 4 * (27 + 1) + 4 * 2 + 2


def test_jacov_of_uncorrelated_jacobians_is_minus_batch_size() -> None:
    jac = np.eye(6, 12) - np.eye(6, 12).mean(axis=1, keepdims=True)
    k = 1e-5
    # corrcoef of these rows is -1/5 off the diagonal, not identity; use the eigenvalues
    v = np.linalg.eigvalsh(np.corrcoef(jac))
    assert jacov_score(jac) == pytest.approx(-np.sum(np.log(v + k) + 1 / (v + k)))
    assert math.isnan(jacov_score(np.zeros((4, 5))))  # constant rows: undefined


def test_synflow_is_the_log_of_the_abs_weight_path_norm() -> None:
    # One linear layer without batch-norm: synflow = sum |w| * 1 (ones input), log of it.
    torch.manual_seed(0)
    linear = nn.Linear(12, 3, bias=False)
    net = nn.Sequential(nn.Flatten(), linear)
    b = Batch(torch.randn(2, 3, 2, 2), torch.tensor([0, 1]))
    expected = math.log(float(linear.weight.detach().abs().sum()))
    assert compute_proxies(net, b, ["synflow"])["synflow"] == pytest.approx(expected)


def test_shared_pass_runs_one_forward_for_all_first_order_proxies(batch: Batch) -> None:
    net = tiny_net()
    calls: list[int] = []
    net.register_forward_pre_hook(lambda m, i: calls.append(i[0].shape[0]))
    together = compute_proxies(net, batch, DEFAULT_PROXIES)
    # one batch pass shared by jacov and snip, plus synflow's one-sample pass
    assert sorted(calls) == [1, 16]
    calls.clear()
    compute_proxies(net, batch, ["jacov", "snip", "grad_norm", "fisher", "nwot"])
    assert calls == [16]
    calls.clear()
    alone = {n: compute_proxies(net, batch, [n])[n] for n in DEFAULT_PROXIES}
    assert len(calls) == 3
    assert together == pytest.approx(alone)


def test_proxies_leave_the_network_and_rng_untouched(batch: Batch) -> None:
    net = tiny_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    compute_proxies(net, batch, ALL)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert torch.equal(rng, torch.get_rng_state())


def test_duplicate_names_are_refused() -> None:
    reg = ProxyRegistry()
    reg.register("mine")(lambda net, b: 1.0)
    with pytest.raises(KeyError, match="already registered"):
        reg.register("mine")(lambda net, b: 2.0)
    with pytest.raises(KeyError, match="already registered"):
        register("snip")(lambda net, b: 0.0)


def test_unknown_name_lists_the_available_ones(batch: Batch) -> None:
    with pytest.raises(KeyError, match=r"unknown proxy 'nope'; available: .*synflow"):
        compute_proxies(tiny_net(), batch, ["nope"])


def test_out_of_memory_is_retried_with_a_split_batch(batch: Batch) -> None:
    from optimizer.proxies.registry import REGISTRY

    reg = ProxyRegistry()
    seen: list[tuple[int, list[int]]] = []
    snip = REGISTRY.get("snip")

    @reg.register("flaky_snip", needs=("weight_grads",))
    def flaky(net: nn.Module, b: Batch) -> float:
        seen.append((b.split, [len(x) for x, _ in b.chunks()]))
        if b.split == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return snip.fn(net, b)

    out = compute_proxies(tiny_net(), batch, ["flaky_snip"], registry=reg)
    assert seen == [(1, [16]), (2, [8, 8])]
    assert math.isfinite(out["flaky_snip"]) and out["flaky_snip"] > 0


def test_persistent_out_of_memory_fails_with_advice(batch: Batch) -> None:
    reg = ProxyRegistry()

    @reg.register("always_oom")
    def always(net: nn.Module, b: Batch) -> float:
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    with pytest.raises(RuntimeError, match="smaller batch"):
        compute_proxies(tiny_net(), batch, ["always_oom"], registry=reg)


def test_split_batch_gives_the_same_batch_independent_proxies(batch: Batch) -> None:
    # Without batch-norm coupling (eval-free proxies), splitting must not change the value.
    net = tiny_net()
    whole = compute_proxies(net, batch, ["synflow", "params", "l2_norm"])
    split = compute_proxies(net, batch.with_split(4), ["synflow", "params", "l2_norm"])
    assert whole == pytest.approx(split)
    parts = compute_proxies(net, batch.with_split(2), ["jacov", "nwot", "snip", "fisher"])
    assert all(math.isfinite(v) for v in parts.values())


def test_scoring_in_channels_last_matches_the_plain_layout(batch: Batch) -> None:
    # score_architecture runs NHWC on CPU (faster oneDNN convolutions); compute_proxies on a
    # plain NCHW network with the same seed must agree to float rounding.
    names = ["jacov", "synflow", "snip", "grad_norm", "nwot"]
    fast = score_architecture(ARCH, batch, names, seed=0, **TINY)
    plain = compute_proxies(tiny_net(0), batch, names, seed=0)
    for name in names:
        assert fast[name] == pytest.approx(plain[name], rel=1e-4), name


def test_batch_shapes_are_validated() -> None:
    with pytest.raises(ValueError, match="batch x channels"):
        Batch(torch.zeros(4, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="targets"):
        Batch(torch.zeros(4, 3, 8, 8), torch.zeros(5, dtype=torch.long))


def test_cuda_scoring_switches_to_exact_kernels_and_restores_the_callers_settings() -> None:
    from optimizer.proxies.registry import _exact_cuda

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32)
    try:
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = (
            False, True, True, True,
        )  # fmt: skip
        with _exact_cuda(True):
            assert (cudnn.deterministic, cudnn.benchmark) == (True, False)
            assert (cudnn.allow_tf32, matmul.allow_tf32) == (False, False)
        assert (cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32) == (
            False, True, True, True,
        )  # fmt: skip
        with pytest.raises(RuntimeError), _exact_cuda(True):
            raise RuntimeError("a failing proxy")
        assert cudnn.benchmark and cudnn.allow_tf32  # restored after an error too
    finally:
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = saved
