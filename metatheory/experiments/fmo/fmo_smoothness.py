r"""C1 ``fmo_smoothness``: the smoothness of the one-step MAML objective (Fallah, Mokhtari,
Ozdaglar 2020, Lemma 4.2). Hessian spectral norm of :math:`F` by HVP power iteration
(:func:`metatheory.numerics.hessian_norm`) and densely, and difference quotients of
:math:`\nabla F` over sampled pairs, against the bounds (float64).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.bounds.fmo import (
    fmo_smoothness,
    maml_smoothness,
)
from metatheory.experiments import experiment
from metatheory.experiments.fmo._common import (
    Family,
    dense_norm,
    grad_norms,
    meta_objective,
    points,
)
from metatheory.numerics import hessian_norm
from metatheory.tasks import circular

__all__ = ["FmoSmoothnessConfig", "FMO_SMOOTHNESS_PRESETS", "FmoSmoothnessResult", "smoothness"]


@dataclass(frozen=True)
class FmoSmoothnessConfig:
    family: Family = Family(d=2, L=1.0, tau=0.3, noise=0.5)
    n_tasks: int = 16
    alpha_l: tuple[float, ...] = (0.25, 0.5, 1.0)  # alpha * L
    n_points: int = 64
    radii: tuple[float, ...] = (1e-3, 0.1, 0.5, 1.5)
    power_iters: int = 200


FMO_SMOOTHNESS_PRESETS = {
    "quick": FmoSmoothnessConfig(n_points=24, power_iters=2000),
    "full": FmoSmoothnessConfig(n_tasks=64, n_points=1024, power_iters=2000),
}
"""Random points include gaps |λ2/λ1| ≈ 0.997, where 200 power steps converge only to ~0.3%
(seen in calibration); 2000 steps reach 1e-3 there."""


@dataclass(frozen=True, kw_only=True)
class FmoSmoothnessResult:
    alpha: np.ndarray  # (A,)
    hess: np.ndarray  # (A, P) ||Hessian F|| by HVP power iteration
    hess_dense: np.ndarray  # (A, P) same from the dense Hessian (cross-check)
    bound_general: np.ndarray  # (A, P) maml_smoothness(L, rho, a, E||grad f_i(w~)||, 1)
    bound_fmo: np.ndarray  # (A, P) fmo_smoothness(L, rho, a, E||grad f_i(w)||)
    pair_quot: np.ndarray  # (A, P, R) ||grad F(w) - grad F(u)|| / ||w - u||
    pair_general: np.ndarray  # (A, P, R) the general pair bound
    pair_fmo: np.ndarray  # (A, P, R) FMO's pair bound
    test_value: float  # fmo_smoothness(1, 2, 0.1, 3)
    L: float
    rho: float
    G: float


@functools.partial(jax.jit, static_argnums=(0, 5))
def _smooth_eval(fam, thetas, alpha, pts, keys, power_iters, us):
    """Hessian norms (power iteration and dense), task-gradient norms and difference
    quotients at the points ``pts`` and their pair points ``us``; ``alpha`` is traced, so
    one compiled program serves every step size."""
    F = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=alpha)
    hess = jax.vmap(lambda p, k: hessian_norm(F, p, k, power_iters))(pts, keys)
    dense = jax.vmap(functools.partial(dense_norm, F))(pts)
    norms = functools.partial(grad_norms, thetas=thetas, fam=fam, alpha=alpha)
    n0, n1 = jax.vmap(norms)(pts)  # (P, n)
    gF = jax.grad(F)
    gw = jax.vmap(gF)(pts)
    gu = jax.vmap(jax.vmap(gF))(us)
    radii = jnp.linalg.norm(us - pts[:, None], axis=-1)
    quot = jnp.linalg.norm(gu - gw[:, None], axis=-1) / radii
    m0, m1 = jax.vmap(jax.vmap(norms))(us)
    g1_pair = jnp.minimum(m1, n1[:, None]).mean(-1)
    g0_pair = jnp.minimum(m0, n0[:, None]).mean(-1)
    return hess, dense, n0.mean(1), n1.mean(1), quot, g0_pair, g1_pair


@experiment
def smoothness(config: FmoSmoothnessConfig, key: jax.Array) -> FmoSmoothnessResult:
    """C1: local and pairwise Lipschitz constants of ``grad F`` (float64) against the bounds
    of the calculators ``maml_smoothness`` (N = 1, G' local) and ``fmo_smoothness``."""
    with jax.enable_x64(True):
        c, fam = config, config.family
        kt, kp, kd, kv = jax.random.split(key, 4)
        thetas = circular.sample_tasks(kt, c.n_tasks, fam).astype(jnp.float64)
        pts = points(kp, c.n_points, fam, thetas)
        dirs = jax.random.normal(kd, (pts.shape[0], len(c.radii), fam.d), jnp.float64)
        dirs = dirs / jnp.linalg.norm(dirs, axis=-1, keepdims=True)
        us = pts[:, None, :] + jnp.asarray(c.radii)[None, :, None] * dirs  # (P, R, d)
        out = {k: [] for k in ("hess", "dense", "bg", "bf", "pq", "pg", "pf")}
        for a_l in c.alpha_l:
            alpha = a_l / fam.L
            keys = jax.random.split(jax.random.fold_in(kv, int(1000 * a_l)), pts.shape[0])
            hess, dense, n0, n1, quot, g0p, g1p = (
                np.asarray(a, np.float64)
                for a in _smooth_eval(fam, thetas, alpha, pts, keys, c.power_iters, us)
            )
            vals = (
                hess,
                dense,
                maml_smoothness(fam.L, fam.rho, alpha, n1, 1),
                fmo_smoothness(fam.L, fam.rho, alpha, n0),
                quot,
                maml_smoothness(fam.L, fam.rho, alpha, g1p, 1),
                fmo_smoothness(fam.L, fam.rho, alpha, g0p),
            )
            for k, v in zip(out, vals, strict=True):
                out[k].append(np.asarray(v, np.float64))
        s = {k: np.stack(v) for k, v in out.items()}
        return FmoSmoothnessResult(
            alpha=np.array([a / fam.L for a in c.alpha_l]),
            hess=s["hess"],
            hess_dense=s["dense"],
            bound_general=s["bg"],
            bound_fmo=s["bf"],
            pair_quot=s["pq"],
            pair_general=s["pg"],
            pair_fmo=s["pf"],
            test_value=float(fmo_smoothness(1.0, 2.0, 0.1, 3.0)),
            L=fam.L,
            rho=fam.rho,
            G=fam.G,
        )
