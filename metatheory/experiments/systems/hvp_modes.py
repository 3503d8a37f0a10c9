"""S1: Hessian-vector products by forward-over-reverse and reverse-over-reverse against the
explicit Hessian product, on an MLP meta-loss (float64; Pearlmutter 1994)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from metatheory import autodiff, nets
from metatheory.experiments import experiment
from metatheory.numerics import flatten, rel_err_norm
from metatheory.tasks import sinusoid

__all__ = ["HvpModesConfig", "HVP_MODES_PRESETS", "HvpModesResult", "hvp_agreement"]


@dataclass(frozen=True)
class HvpModesConfig:
    sizes: tuple[int, ...] = (1, 16, 16, 1)
    n_vectors: int = 8
    k_shot: int = 10


HVP_MODES_PRESETS = {
    "quick": HvpModesConfig(sizes=(1, 10, 10, 1), n_vectors=4),
    "full": HvpModesConfig(sizes=(1, 40, 40, 1), n_vectors=32),
}


@dataclass(frozen=True, kw_only=True)
class HvpModesResult:
    fwd_rev: np.ndarray  # rel_err_norm vs explicit H v, per vector
    rev_rev: np.ndarray
    fwd_vs_rev: np.ndarray  # the two HVP modes against each other
    control: np.ndarray  # diag(H) * v (a common shortcut) vs explicit H v
    n_params: int


@experiment
def hvp_agreement(config: HvpModesConfig, key: jax.Array) -> HvpModesResult:
    """S1: ``autodiff.hvp`` in both modes against ``dense_hessian @ v`` on a random MLP."""
    with jax.enable_x64(True):
        kp, kd, kv = jax.random.split(key, 3)
        params = nets.init(kp, config.sizes)
        (x, y), _ = sinusoid.sample_batch(kd, 1, config.k_shot, 1)
        f = lambda p: nets.mse_loss(p, x[0], y[0])
        flat = flatten(params)
        unravel = jax.flatten_util.ravel_pytree(params)[1]
        hess = np.asarray(autodiff.dense_hessian(f, params))
        vs = jax.random.normal(kv, (config.n_vectors, flat.size), flat.dtype)
        fr = jax.jit(jax.vmap(lambda v: flatten(autodiff.hvp(f, params, unravel(v), "fwd-rev"))))
        rr = jax.jit(jax.vmap(lambda v: flatten(autodiff.hvp(f, params, unravel(v), "rev-rev"))))
        fr, rr, vs = np.asarray(fr(vs)), np.asarray(rr(vs)), np.asarray(vs)
        exact = vs @ hess.T
        return HvpModesResult(
            fwd_rev=np.array([rel_err_norm(a, b) for a, b in zip(fr, exact, strict=True)]),
            rev_rev=np.array([rel_err_norm(a, b) for a, b in zip(rr, exact, strict=True)]),
            fwd_vs_rev=np.array([rel_err_norm(a, b) for a, b in zip(fr, rr, strict=True)]),
            control=np.array(
                [rel_err_norm(np.diag(hess) * v, b) for v, b in zip(vs, exact, strict=True)]
            ),
            n_params=int(flat.size),
        )
