"""proxybo: neural architecture search by Bayesian optimization steered by zero-cost proxies.

This package is the application layer (the `proxybo` command); the method lives in `optimizer`,
the engine-free implementations and KFP components in `components`, the pipeline in `pipelines`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("proxybo")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
