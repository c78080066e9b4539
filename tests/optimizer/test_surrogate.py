from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from optimizer.surrogate import GPSurrogate, copula


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(n, 8)).astype(float)
    y = x @ np.arange(1, 9) + 0.1 * rng.normal(size=n)
    return x, y


def test_copula_preserves_order_and_is_standard_normal_like() -> None:
    y = np.array([10.0, -3.0, 7.0, 1000.0])
    z = copula(y)
    assert np.argsort(z).tolist() == np.argsort(y).tolist()
    assert abs(z.mean()) < 1e-9


def test_predictions_match_botorch_posterior() -> None:
    x, y = _data(40)
    gp = GPSurrogate.fit(x, y)
    xq, _ = _data(10, seed=1)
    mean, var = gp.predict(xq)
    post = gp.model.posterior(torch.as_tensor(xq, dtype=torch.float64))
    tf: Any = gp.model.outcome_transform
    ref = (post.mean.squeeze(-1).detach().numpy() - tf.means.item()) / tf.stdvs.item()
    assert np.allclose(mean, ref, atol=1e-6)
    assert (var > 0).all()


def test_gp_learns_the_order_out_of_sample() -> None:
    x, y = _data(60)
    gp = GPSurrogate.fit(x, y)
    oos = gp.kfold_predictions(5, np.random.default_rng(0))
    assert np.corrcoef(oos, copula(y))[0, 1] > 0.8


def test_kfold_closed_form_equals_refitting_without_the_fold() -> None:
    x, y = _data(30)
    gp = GPSurrogate.fit(x, y)
    oos = gp.kfold_predictions(30, np.random.default_rng(0))  # leave-one-out
    i = 7
    keep = np.arange(30) != i
    sub = GPSurrogate._build(gp.model, gp.train_x[keep], gp.targets[keep])
    assert np.isclose(sub.predict(x[i : i + 1])[0][0], oos[i], atol=1e-6)


def test_hyperparameters_round_trip_without_refitting() -> None:
    x, y = _data(30)
    gp = GPSurrogate.fit(x, y)
    again = GPSurrogate.fit(x, y, init=gp.hyperparameters(), optimize=False)
    assert np.allclose(again.predict(x)[0], gp.predict(x)[0])


def test_conditioning_on_a_fantasy_collapses_its_variance() -> None:
    x, y = _data(20)
    gp = GPSurrogate.fit(x, y)
    xq = np.ones((1, 8))
    m, v = gp.predict(xq)
    after = gp.condition(xq, m)
    assert after.predict(xq)[1][0] < v[0]
    assert np.all(np.isfinite(gp.log_expected_improvement(x)))


def test_tied_results_fit_a_flat_gp_without_a_warning() -> None:
    import warnings

    x = np.eye(4)[:3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        gp = GPSurrogate.fit(x, np.array([99.6, 99.6, 99.6]))
    mean, var = gp.predict(np.eye(4))
    assert np.all(np.isfinite(mean)) and np.all(var > 0)
    assert np.ptp(mean) < 1e-6  # nothing to tell the architectures apart yet


def _noise(gp: GPSurrogate) -> float:
    return float(gp.model.likelihood.noise.detach().min())


def test_the_noise_floor_holds_the_noise_up_and_smooths_the_fit() -> None:
    x, y = _data(40)
    free = GPSurrogate.fit(x, y)
    floored = GPSurrogate.fit(x, y, noise_floor=0.3)
    assert _noise(free) < 0.05  # near-noiseless data: BoTorch's default interpolates
    assert _noise(floored) >= 0.3
    # The floored GP no longer reproduces its training targets.
    miss = np.abs(floored.predict(x)[0] - floored.targets.numpy()).mean()
    assert miss > 2 * np.abs(free.predict(x)[0] - free.targets.numpy()).mean()


def test_a_stored_fit_below_the_floor_is_lifted_to_it() -> None:
    """A fit stored without the floor (an older state) cannot bring its lower noise or its
    bound along when the GP is rebuilt with one."""
    x, y = _data(40)
    free = GPSurrogate.fit(x, y)
    again = GPSurrogate.fit(x, y, init=free.hyperparameters(), optimize=False, noise_floor=0.3)
    assert _noise(again) == pytest.approx(0.3)
    refit = GPSurrogate.fit(x, y, init=free.hyperparameters(), noise_floor=0.3)
    assert _noise(refit) >= 0.3


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, True])
def test_a_noise_floor_outside_0_1_is_refused(bad: float) -> None:
    x, y = _data(10)
    with pytest.raises(ValueError, match="noise_floor must be in"):
        GPSurrogate.fit(x, y, noise_floor=bad)
