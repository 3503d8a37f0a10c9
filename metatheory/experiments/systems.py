"""S1: Hessian-vector products by forward-over-reverse and reverse-over-reverse against the
explicit Hessian product, on an MLP meta-loss (float64)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from metatheory import nets
from metatheory.autodiff import dense_hessian, hvp
from metatheory.experiments.maml import rel_err
from metatheory.tasks import sinusoid

__all__ = ["HvpConfig", "QUICK", "FULL", "HvpResult", "hvp_agreement"]


@dataclass(frozen=True)
class HvpConfig:
    sizes: tuple[int, ...] = (1, 16, 16, 1)
    n_vectors: int = 8
    k_shot: int = 10


QUICK = HvpConfig()
FULL = HvpConfig(sizes=(1, 40, 40, 1), n_vectors=32)


@dataclass
class HvpResult:
    fwd_rev: np.ndarray  # rel. error vs explicit H v, per vector
    rev_rev: np.ndarray
    fwd_vs_rev: np.ndarray  # the two HVP modes against each other
    control: np.ndarray  # diag(H) * v (a common shortcut) vs explicit H v
    n_params: int


def hvp_agreement(config: HvpConfig, key: jax.Array) -> HvpResult:
    with jax.enable_x64(True):
        kp, kd, kv = jax.random.split(key, 3)
        params = nets.init(kp, config.sizes)
        (x, y), _ = sinusoid.sample_batch(kd, 1, config.k_shot, 1)
        f = lambda p: nets.mse_loss(p, x[0], y[0])
        flat, unravel = ravel_pytree(params)
        hess = np.asarray(dense_hessian(f, params))
        out = {k: [] for k in ("fr", "rr", "x", "c")}
        for i in range(config.n_vectors):
            v_flat = jax.random.normal(jax.random.fold_in(kv, i), flat.shape)
            v = unravel(v_flat)
            exact = hess @ np.asarray(v_flat)
            fr = ravel_pytree(hvp(f, params, v, "fwd-rev"))[0]
            rr = ravel_pytree(hvp(f, params, v, "rev-rev"))[0]
            out["fr"].append(rel_err(fr, exact))
            out["rr"].append(rel_err(rr, exact))
            out["x"].append(rel_err(fr, rr))
            out["c"].append(rel_err(np.diag(hess) * np.asarray(v_flat), exact))
        return HvpResult(*(np.array(out[k]) for k in ("fr", "rr", "x", "c")), int(flat.size))
