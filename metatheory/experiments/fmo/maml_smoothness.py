r"""C2 ``maml_smoothness``: the smoothness constant of the ``N``-step MAML objective (the
recursion of Fallah, Mokhtari, Ozdaglar 2020, Lemma 4.2, over ``N`` inner steps; derived here).
The largest Hessian norm of :math:`F_N` over sampled points, ``N = 1..``, against
:func:`metatheory.bounds.fmo.maml_smoothness`, and the calculator against the sympy derivation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.bounds.fmo import (
    maml_smoothness,
)
from metatheory.experiments import experiment
from metatheory.experiments.fmo._common import (
    Family,
    dense_norm,
    meta_objective,
    points,
)
from metatheory.symbolic import fmo as sym
from metatheory.tasks import circular

__all__ = ["MamlSmoothnessConfig", "MAML_SMOOTHNESS_PRESETS", "MamlSmoothnessResult", "multistep"]


@dataclass(frozen=True)
class MamlSmoothnessConfig:
    family: Family = Family(d=1, L=1.0, tau=0.1, noise=0.5)
    n_tasks: int = 8
    alpha_l: float = 1.0
    n_inner: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8)
    n_points: int = 64
    n_random: int = 64  # random (L, rho, alpha, G, N) for the calculator-vs-derivation check


MAML_SMOOTHNESS_PRESETS = {
    "quick": MamlSmoothnessConfig(),
    "full": MamlSmoothnessConfig(n_tasks=64, n_points=1024, n_inner=(1, 2, 3, 4, 5, 6, 7, 8, 10)),
}
"""``d = 1`` and a narrow pool (``tau = 0.1``): at the curvature maximum of the mean task
every inner step multiplies the Jacobian by nearly ``1 + alpha L``, so the empirical constant
is within a few per cent of ``(1 + alpha L)^{2N} L`` and a bound that is too small (a wrong
exponent, an off-by-one in N) is exceeded."""


@dataclass(frozen=True, kw_only=True)
class MamlSmoothnessResult:
    n_inner: np.ndarray
    alpha: float
    empirical: np.ndarray  # max over points of ||Hessian F_N|| (dense, exact for small d)
    bound: np.ndarray  # maml_smoothness(L, rho, alpha, G, N)
    linearized: np.ndarray  # control: L_N to first order in alpha (sympy)
    growth: float  # exp(slope) of log empirical vs N
    calc_vs_derived: float  # max rel. difference, calculator vs sympy's rsolve, random args
    L: float


@experiment
def multistep(config: MamlSmoothnessConfig, key: jax.Array) -> MamlSmoothnessResult:
    """C2: the largest Hessian norm of ``F_N`` over sampled points (a lower bound on its
    Lipschitz constant) against ``L_N`` with ``G = L sqrt(d)``; and the calculator against
    the sympy derivation (``rsolve`` of the recursion) at random arguments."""
    import sympy as sp

    with jax.enable_x64(True):
        c, fam = config, config.family
        kt, kp, kr = jax.random.split(key, 3)
        thetas = circular.sample_tasks(kt, c.n_tasks, fam).astype(jnp.float64)
        pts = points(kp, c.n_points, fam, thetas)
        alpha = c.alpha_l / fam.L
        emp = []
        for n in c.n_inner:
            F = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=alpha, n_inner=n)
            norms = jax.jit(jax.vmap(functools.partial(dense_norm, F)))(pts)
            emp.append(float(jnp.max(norms)))
        ns = np.array(c.n_inner)
        bound = np.asarray(maml_smoothness(fam.L, fam.rho, alpha, fam.G, ns), np.float64)
        args = (sym.L, sym.rho, sym.alpha, sym.G, sym.N)
        lin_f = sp.lambdify(args, sym.multi_step_linearized())
        linear = np.asarray(lin_f(fam.L, fam.rho, alpha, fam.G, ns), np.float64) * np.ones(ns.size)
        derived = sp.lambdify(args, sym.derive_multi_step()["L_N"])
        u = np.asarray(jax.random.uniform(kr, (5, c.n_random), jnp.float64))
        L_r, rho_r, G_r = 0.1 + 5 * u[0], 5 * u[1], 5 * u[2]
        a_r = (0.01 + 1.5 * u[3]) / L_r
        n_r = np.floor(1 + 8 * u[4])
        calc = np.asarray(maml_smoothness(L_r, rho_r, a_r, G_r, n_r), np.float64)
        ref = np.asarray(derived(L_r, rho_r, a_r, G_r, n_r), np.float64)
        emp = np.array(emp)
        slope = np.polyfit(ns, np.log(emp), 1)[0]
        return MamlSmoothnessResult(
            n_inner=ns,
            alpha=alpha,
            empirical=emp,
            bound=bound,
            linearized=linear,
            growth=float(np.exp(slope)),
            calc_vs_derived=float(np.max(np.abs(calc - ref) / np.abs(ref))),
            L=fam.L,
        )
