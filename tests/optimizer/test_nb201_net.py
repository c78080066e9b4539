"""The NB201 network builder: NAS-Bench-201's parameter counts and shapes."""

from __future__ import annotations

import pytest
import torch

from optimizer.spaces.nb201 import NB201Space, parse
from optimizer.spaces.nb201_net import AvgPool3x3, build_network, count_parameters

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_3X3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_POOL = "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|"

# NAS-Bench-201 CIFAR-10 `params` (millions), checked against the NB201 table rows.
NB201_PARAMS_M = {BEST_C10: 1.07347, ALL_NONE: 0.073306, ALL_3X3: 1.53155, ALL_POOL: 0.073306}


def expected_params(arch: str, C: int, N: int, in_channels: int, num_classes: int) -> int:
    """Parameter count from NB201's definition (conv without bias, affine batch-norm)."""
    ops = parse(arch)

    def cell(c: int) -> int:
        per_op = {"nor_conv_3x3": 9 * c * c + 2 * c, "nor_conv_1x1": c * c + 2 * c}
        return sum(per_op.get(op, 0) for op in ops)

    def reduction(c: int) -> int:
        return 9 * c * 2 * c + 2 * 2 * c + 9 * (2 * c) ** 2 + 2 * 2 * c + c * 2 * c

    stem = 9 * in_channels * C + 2 * C
    cells = N * (cell(C) + cell(2 * C) + cell(4 * C))
    head = 2 * 4 * C + 4 * C * num_classes + num_classes
    return stem + cells + reduction(C) + reduction(2 * C) + head


@pytest.mark.parametrize("arch", list(NB201_PARAMS_M))
def test_default_network_has_nb201_parameter_count(arch: str) -> None:
    net = NB201Space().build_network(arch)
    n = count_parameters(net)
    assert n == expected_params(arch, 16, 5, 3, 10)
    assert n / 1e6 == pytest.approx(NB201_PARAMS_M[arch], abs=1e-5)


@pytest.mark.parametrize(
    ("C", "N", "in_channels", "num_classes"), [(4, 1, 1, 3), (8, 2, 3, 10), (6, 3, 2, 5)]
)
@pytest.mark.parametrize("arch", [BEST_C10, ALL_NONE, ALL_3X3])
def test_small_settings_follow_the_definition(
    arch: str, C: int, N: int, in_channels: int, num_classes: int
) -> None:
    net = build_network(parse(arch), C=C, N=N, in_channels=in_channels, num_classes=num_classes)
    assert count_parameters(net) == expected_params(arch, C, N, in_channels, num_classes)


def test_forward_maps_images_to_logits_and_features() -> None:
    net = build_network(parse(BEST_C10), C=4, N=1, in_channels=1, num_classes=3)
    x = torch.randn(2, 1, 8, 8)
    assert net(x).shape == (2, 3)
    assert net.forward_features(x).shape == (2, 16, 2, 2)


def test_none_cell_output_is_independent_of_cell_input() -> None:
    torch.manual_seed(0)
    net = build_network(parse(ALL_NONE), C=4, N=1, num_classes=3).eval()
    a, b = net(torch.randn(1, 3, 8, 8)), net(torch.randn(1, 3, 8, 8))
    assert torch.allclose(a, b)  # all-zero cells cut the input off the classifier


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (4, 8, 1, 1), (1, 2, 2, 9)])
def test_fast_avg_pool_equals_torch_pooling_forward_and_backward(shape: tuple[int, ...]) -> None:
    reference = torch.nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    x0 = torch.randn(*shape, dtype=torch.float64)
    cotangent = torch.randn(*shape, dtype=torch.float64)
    x_fast, x_ref = x0.clone().requires_grad_(), x0.clone().requires_grad_()
    y_fast, y_ref = AvgPool3x3()(x_fast), reference(x_ref)
    torch.testing.assert_close(y_fast, y_ref)
    y_fast.backward(cotangent)
    y_ref.backward(cotangent)
    torch.testing.assert_close(x_fast.grad, x_ref.grad)
    # the fast path is still a pooling module for FLOP counting
    assert isinstance(AvgPool3x3(), torch.nn.AvgPool2d)


def test_channels_last_network_gives_the_same_logits_and_gradients() -> None:
    torch.manual_seed(0)
    net = build_network(parse(ALL_POOL.replace("avg_pool_3x3~1|+", "nor_conv_3x3~1|+")), C=4, N=2)
    x = torch.randn(4, 3, 16, 16)
    y = net(x)
    y.sum().backward()
    grads = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    net.zero_grad()
    net_cl = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    y_cl = net_cl(x.contiguous(memory_format=torch.channels_last))
    y_cl.sum().backward()
    torch.testing.assert_close(y_cl, y, rtol=1e-4, atol=1e-5)
    for g, p in zip(grads, net_cl.parameters(), strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-3, atol=1e-4)


def test_cut_cell_keeps_the_input_on_the_graph_with_zero_gradient() -> None:
    torch.manual_seed(0)
    net = build_network(parse(ALL_NONE), C=4, N=1, num_classes=3)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    (gx,) = torch.autograd.grad(net(x).sum(), x)
    assert torch.count_nonzero(gx) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"C": 0}, "C must be"),
        ({"num_classes": 1}, "num_classes"),
        ({"input_size": 2}, "input_size"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_network(parse(BEST_C10), **kwargs)


def test_wrong_number_of_ops_is_refused() -> None:
    with pytest.raises(ValueError, match="6 edges"):
        build_network(("skip_connect",) * 5)
