"""Throwaway patch: expected improvement over the plug-in incumbent, the highest posterior mean
at an evaluated architecture (noisy EI's usual incumbent), in place of the highest observed
target, which under the noise floor sits above what the GP believes of any cell."""

from __future__ import annotations

from optimizer.surrogate import GPSurrogate


def _plugin(self: GPSurrogate) -> float:
    mean, _ = self.predict(self.train_x.numpy())
    return float(mean.max())


GPSurrogate.best_target = property(_plugin)  # type: ignore[assignment,method-assign]
