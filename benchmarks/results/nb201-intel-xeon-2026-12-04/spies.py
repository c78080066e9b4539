"""Shared by this folder's diagnostics: watch the scorer each pick of the "sample" rule draws."""

from collections.abc import Callable, Iterator

from optimizer.state import SearchState
from optimizer.strategies.proxybo import BayesianOptimization


def watch_scorer_draws(seen: Callable[[str, dict[str, float]], None]) -> None:
    """Call `seen(scorer, weights)` for every scorer `_scorer_draws` yields from now on."""
    real = BayesianOptimization._scorer_draws

    def draws(
        self: BayesianOptimization, state: SearchState, weights: dict[str, float]
    ) -> Iterator[str]:
        for s in real(self, state, weights):
            seen(s, weights)
            yield s

    BayesianOptimization._scorer_draws = draws  # type: ignore[method-assign]
