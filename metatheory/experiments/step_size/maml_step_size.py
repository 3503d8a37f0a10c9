r"""C6: the smoothness of the N-step MAML objective at a fixed inner step and at a step
inversely proportional to N (Ji, Yang, Liang 2022, abstract; constants derived here).

For each N, the largest difference quotient :math:`\|\nabla F_N(w)-\nabla F_N(w')\|/\|w-w'\|`
over sampled pairs (a lower bound on the Lipschitz constant of :math:`\nabla F_N`) is compared
with C2's :math:`L_N` (:func:`metatheory.bounds.maml_smoothness`) at :math:`\alpha = c/L` and
at :math:`\alpha = c/(NL)` (:func:`metatheory.bounds.inverse_n_step_size`), and with the limit
:math:`L_\infty` (:func:`metatheory.bounds.maml_smoothness_limit`). The limit calculator is
compared with the sympy derivation (:mod:`metatheory.symbolic.step_size`) at random
arguments, and with :math:`L_N` at a large N through the derived first-order gap.
All in float64; the key draws the task pool, the sampled points and the random arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory import bounds
from metatheory.experiments import experiment
from metatheory.experiments.step_size import _common
from metatheory.symbolic import step_size as sym

__all__ = ["StepSizeConfig", "QUICK", "FULL", "PRESETS", "StepSizeResult", "maml_step_size"]


@dataclass(frozen=True)
class StepSizeConfig:
    family: _common.Family = _common.Family(d=1, L=1.0, tau=0.1, noise=0.5)
    n_tasks: int = 8
    c: float = 0.5
    n_fixed: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16)  # N at alpha = c/L
    n_inverse: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)  # N at alpha = c/(NL)
    n_points: int = 512  # uniform points, each with a local and a far partner
    h: float = 1e-4  # local pair distance
    n_random: int = 64  # random (c, L, rho, G) for the calculator-vs-derivation check
    n_gap: int = 2**20  # N of the first-order gap check


QUICK = StepSizeConfig()
FULL = StepSizeConfig(
    n_tasks=32, n_points=2048, n_inverse=(1, 2, 4, 8, 16, 32, 64, 128), n_random=512
)
PRESETS = {"quick": QUICK, "full": FULL}
"""``d = 1`` and a narrow pool (``tau = 0.1``): near the tasks' curvature maxima the quotient
is close to :math:`(1+\alpha L)^{2N}L`. At :math:`\alpha = c/L` the peaks narrow as
:math:`(1+c)^{-N}` (``1.5e-3`` rad at N = 16, c = 0.5), so N stops at 16 with pairs
``h = 1e-4`` apart."""


@dataclass(frozen=True, kw_only=True)
class StepSizeResult:
    c: float
    L: float
    n_fixed: np.ndarray
    n_inverse: np.ndarray
    emp_fixed: np.ndarray  # max difference quotient of grad F_N, alpha = c/L
    emp_inverse: np.ndarray  # the same at alpha = inverse_n_step_size(c, L, N)
    alpha_inverse: np.ndarray  # inverse_n_step_size(c, L, N)
    bound_fixed: np.ndarray  # maml_smoothness(L, rho, c/L, G, N)
    bound_inverse: np.ndarray  # maml_smoothness(L, rho, alpha_inverse, G, N)
    limit: float  # maml_smoothness_limit(c, L, rho, G)
    slope_fixed: float  # least-squares slope of log emp_fixed against N
    slope_derived: float  # 2 log(1 + c), from the sympy limit of L_{N+1}/L_N
    limit_vs_derived: float  # max rel. difference, limit calculator vs sympy, random args
    gap_rel_err: float  # |n_gap (L_inf - L_N) - a1| / a1 at alpha = c/(N L), N = n_gap
    n_pairs: int  # pairs per (N, schedule)


def _points(key, config, thetas):
    """Each task's curvature maximum, the pool's mean one, and uniform points; each point is
    paired with a local partner ``h`` away and a uniform far partner."""
    fam = config.family
    ku, kf, ks = jax.random.split(key, 3)
    shape = (config.n_points, fam.d)
    uni = jax.random.uniform(ku, shape, jnp.float64, -np.pi, np.pi)
    centres = jnp.concatenate([thetas + np.pi, jnp.mean(thetas, 0, keepdims=True) + np.pi, uni])
    sign = jnp.where(jax.random.bernoulli(ks, 0.5, centres.shape), 1.0, -1.0)
    far = jax.random.uniform(kf, centres.shape, jnp.float64, -np.pi, np.pi)
    a = jnp.concatenate([centres, centres])
    b = jnp.concatenate([centres + config.h * sign, far])
    return a, b


def _max_quotient(a, b, thetas, L, alpha, n):
    ga = _common.meta_gradients(a, thetas, L, alpha, n)
    gb = _common.meta_gradients(b, thetas, L, alpha, n)
    num = jnp.linalg.norm(ga - gb, axis=1)
    den = jnp.linalg.norm(a - b, axis=1)
    return float(jnp.max(num / den))


@experiment
def maml_step_size(config: StepSizeConfig, key: jax.Array) -> StepSizeResult:
    """C6: measured Lipschitz quotients of the N-step meta-gradient at the two step-size
    schedules against :math:`L_N` and :math:`L_\\infty`; the limit against its derivation."""
    import sympy as sp

    with jax.enable_x64(True):
        c, fam = config, config.family
        kt, kp, kr = jax.random.split(key, 3)
        thetas = _common.sample_pool(kt, c.n_tasks, fam)
        a, b = _points(kp, c, thetas)
        L, rho, G = fam.L, fam.rho, fam.G
        alpha_fixed = c.c / L
        emp_fixed = np.array([_max_quotient(a, b, thetas, L, alpha_fixed, n) for n in c.n_fixed])
        n_inv = np.array(c.n_inverse)
        alpha_inv = np.asarray(bounds.inverse_n_step_size(c.c, L, n_inv), np.float64)
        emp_inv = np.array(
            [
                _max_quotient(a, b, thetas, L, al, int(n))
                for al, n in zip(alpha_inv, n_inv, strict=True)
            ]
        )
        n_fix = np.array(c.n_fixed)
        bound_fixed = np.asarray(bounds.maml_smoothness(L, rho, alpha_fixed, G, n_fix), np.float64)
        bound_inv = np.asarray(bounds.maml_smoothness(L, rho, alpha_inv, G, n_inv), np.float64)
        limit = float(bounds.maml_smoothness_limit(c.c, L, rho, G))

        slope_fixed = float(np.polyfit(n_fix, np.log(emp_fixed), 1)[0])
        growth = sym.derive_fixed_step_growth()["slope"]
        slope_derived = float(growth.subs(sym.c, c.c))

        args = (sym.c, sym.L, sym.rho, sym.G)
        derived = sp.lambdify(args, sym.derive_limit()["limit"])
        u = np.asarray(jax.random.uniform(kr, (4, c.n_random), jnp.float64))
        c_r, L_r, rho_r, G_r = 0.01 + 3 * u[0], 0.1 + 5 * u[1], 5 * u[2], 5 * u[3]
        calc = np.asarray(bounds.maml_smoothness_limit(c_r, L_r, rho_r, G_r), np.float64)
        ref = np.asarray(derived(c_r, L_r, rho_r, G_r), np.float64)
        limit_vs_derived = float(np.max(np.abs(calc - ref) / np.abs(ref)))

        a1 = float(sym.derive_limit()["a1"].subs({sym.c: c.c, sym.L: L, sym.rho: rho, sym.G: G}))
        n_big = c.n_gap
        al_big = bounds.inverse_n_step_size(c.c, L, n_big)
        l_big = float(bounds.maml_smoothness(L, rho, al_big, G, n_big))
        gap_rel_err = abs(n_big * (limit - l_big) - a1) / abs(a1)
        return StepSizeResult(
            c=c.c,
            L=L,
            n_fixed=n_fix,
            n_inverse=n_inv,
            emp_fixed=emp_fixed,
            emp_inverse=emp_inv,
            alpha_inverse=alpha_inv,
            bound_fixed=bound_fixed,
            bound_inverse=bound_inv,
            limit=limit,
            slope_fixed=slope_fixed,
            slope_derived=slope_derived,
            limit_vs_derived=limit_vs_derived,
            gap_rel_err=float(gap_rel_err),
            n_pairs=int(a.shape[0]),
        )
