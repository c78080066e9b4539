"""Throwaway patch (not adopted): the GP kernel on [encoding, proxy features] with BoTorch's
mixed-space structure, ScaleKernel(k_enc + k_prox) + ScaleKernel(k_enc * k_prox) (as in
`MixedSingleTaskGP`), in place of the one product k_enc * k_prox. k_enc is ARD or one shared
lengthscale, as the kernel in use; $ENC is the encoding's width (30 for NB201)."""

from __future__ import annotations

import math
import os

from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import Kernel, RBFKernel, ScaleKernel
from gpytorch.priors import LogNormalPrior

import optimizer.surrogate as surrogate

ENC = int(os.environ.get("ENC", "30"))
_kernel = surrogate._kernel


def _encoding_kernel(shared: int | None) -> Kernel:
    if shared is None:
        return get_covar_module_with_dim_scaled_prior(
            ard_num_dims=ENC, active_dims=list(range(ENC))
        )
    prior = LogNormalPrior(loc=math.sqrt(2.0), scale=math.sqrt(3.0))
    return RBFKernel(
        lengthscale_prior=prior,
        lengthscale_constraint=GreaterThan(2.5e-2, transform=None, initial_value=prior.mode),
        active_dims=list(range(ENC)),
    )


def _sum_product(d: int, shared: int | None) -> Kernel | None:
    if d <= ENC:
        return _kernel(d, shared)
    enc = _encoding_kernel(shared)
    prox = get_covar_module_with_dim_scaled_prior(
        ard_num_dims=d - ENC, active_dims=list(range(ENC, d))
    )
    return ScaleKernel(enc + prox) + ScaleKernel(enc * prox)


surrogate._kernel = _sum_product
