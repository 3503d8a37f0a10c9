"""P2: the Amit–Meir terms' sympy limits and derivative signs (Amit & Meir 2018, Thm 2); the
calculator's partial derivatives (autodiff, float64) against sympy's at random points; the
terms on an (n, m) grid."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from metatheory.bounds.pac_bayes import (
    amit_meir_bound,
    kl_inverse_bound,
    mcallester_bound,
    pentina_lampert_bound,
)
from metatheory.experiments import experiment
from metatheory.experiments.pac_bayes._common import rel, symbolic

__all__ = ["PacBayesRegimesConfig", "PAC_BAYES_REGIMES_PRESETS", "PacBayesRegimesResult", "regimes"]


@dataclass(frozen=True)
class PacBayesRegimesConfig:
    kl_hyper: float = 5.0
    kl_task: float = 20.0
    delta: float = 0.1
    n_grid: tuple[float, ...] = tuple(np.unique(np.round(np.geomspace(2, 1e5, 40))).tolist())
    m_grid: tuple[float, ...] = tuple(np.unique(np.round(np.geomspace(2, 1e5, 40))).tolist())
    few_shot: tuple[float, float] = (1e4, 5.0)  # (n, m)
    many_shot: tuple[float, float] = (5.0, 1e4)
    n_points: int = 200  # random points of the derivative comparison


PAC_BAYES_REGIMES_PRESETS = {
    "quick": PacBayesRegimesConfig(),
    "full": PacBayesRegimesConfig(n_points=5000),
}


@dataclass(frozen=True, kw_only=True)
class PacBayesRegimesResult:
    symbolic_limits: dict  # sympy limits as text
    limits_ok: bool  # meta -> 0 (n), task -> 0 (m), same for Pentina–Lampert
    signs: dict  # sympy-decided derivative signs on the whole domain
    regimes_ok: bool  # task/meta -> oo (few-shot), -> 0 (many-shot)
    task_n_inf: str  # sympy limit of the task term as n -> oo (the control)
    task_n_inf_nonzero: bool
    deriv_err: dict  # per partial derivative: max rel. error, autodiff of the calculator vs sympy
    deriv_signs_ok: bool  # the calculator's derivatives have the proved signs at every point
    n: np.ndarray
    m: np.ndarray
    task: np.ndarray  # (len(n), len(m)) Amit–Meir task term
    meta: np.ndarray  # (len(n), len(m)) meta term (constant in m)
    task_decreasing_m: bool
    meta_decreasing_n: bool
    task_increasing_n: bool  # the union bound's ln n: the task term grows with n
    increasing_kl: bool
    decreasing_delta: bool
    few_shot_ratio: float  # task / meta at the few-shot corner
    many_shot_ratio: float
    crossover_m: np.ndarray  # smallest grid m with task <= meta, per n (nan if none)
    n_points: int  # random points of the comparison with sympy


def _am_terms(n, m, kh, kt, d):
    b = amit_meir_bound(0.0, n, m, kh, kt, d)
    return b.task_term, b.meta_term


@experiment
def regimes(config: PacBayesRegimesConfig, key: jax.Array) -> PacBayesRegimesResult:
    """P2: sympy limits and signs; the calculator's partial derivatives (autodiff, float64)
    vs sympy's at random points drawn by ``key``; terms on an (n, m) grid."""
    c = config
    ref = symbolic()
    with jax.enable_x64(True):
        ks = jax.random.split(key, 5)
        u = lambda k, lo, hi: jax.random.uniform(k, (c.n_points,), minval=lo, maxval=hi)
        pts = (
            10 ** u(ks[0], np.log10(3), 4),
            10 ** u(ks[1], np.log10(3), 4),
            10 ** u(ks[2], -2, 2),
            10 ** u(ks[3], -2, 2),
            10 ** u(ks[4], -6, np.log10(0.5)),
        )
        names = ("n", "m", "kl_hyper", "kl_task", "delta")
        jac = jax.jit(jax.vmap(jax.jacfwd(_am_terms, argnums=(0, 1, 2, 3, 4))))(*pts)
        p_np = [np.asarray(p) for p in pts]
        deriv_err, signs_ok = {}, True
        want_sign = {"m": -1, "kl_hyper": 1, "kl_task": 1, "delta": -1}
        for t_i, term in enumerate(("task", "meta")):
            for v_i, v in enumerate(names):
                auto = np.asarray(jac[t_i][v_i])
                sym_d = np.broadcast_to(ref["derivs"][f"{term}_d{v}"](*p_np), auto.shape)
                if np.all(sym_d == 0) and np.all(auto == 0):
                    deriv_err[f"{term}_d{v}"] = 0.0
                    continue
                if np.all(sym_d == 0) or np.all(auto == 0):
                    deriv_err[f"{term}_d{v}"] = float("inf")
                    continue
                deriv_err[f"{term}_d{v}"] = rel(auto, sym_d)
                s = want_sign.get(v, -1 if term == "meta" else None)  # meta: decreasing in n
                if term == "task" and v == "n":
                    s = None
                if s is not None:
                    signs_ok &= bool(np.all(np.sign(auto) == s))

        n, m = np.array(c.n_grid), np.array(c.m_grid)
        nn, mm = np.meshgrid(n, m, indexing="ij")
        am = amit_meir_bound(0.0, nn, mm, c.kl_hyper, c.kl_task, c.delta)
        kls = np.geomspace(1e-3, 1e3, 50)
        deltas = np.geomspace(1e-8, 0.99, 50)
        inc_kl = all(
            np.all(np.diff(f) > 0)
            for f in (
                amit_meir_bound(0.1, 50, 50, kls, c.kl_task, c.delta).total,
                amit_meir_bound(0.1, 50, 50, c.kl_hyper, kls, c.delta).total,
                pentina_lampert_bound(0.1, 50, 50, kls, c.kl_task, c.delta).total,
                pentina_lampert_bound(0.1, 50, 50, c.kl_hyper, kls, c.delta).total,
                mcallester_bound(0.1, kls, 50, c.delta),
                kl_inverse_bound(0.1, kls, 50, c.delta),
            )
        )
        dec_delta = all(
            np.all(np.diff(f) < 0)
            for f in (
                amit_meir_bound(0.1, 50, 50, c.kl_hyper, c.kl_task, deltas).total,
                pentina_lampert_bound(0.1, 50, 50, c.kl_hyper, c.kl_task, deltas).total,
                mcallester_bound(0.1, 5.0, 50, deltas),
                kl_inverse_bound(0.1, 5.0, 50, deltas),
            )
        )
        few = amit_meir_bound(0.0, *c.few_shot, c.kl_hyper, c.kl_task, c.delta)
        many = amit_meir_bound(0.0, *c.many_shot, c.kl_hyper, c.kl_task, c.delta)
        task_t, meta_t = np.asarray(am.task_term), np.asarray(am.meta_term)
        below = task_t <= meta_t
        cross = np.where(below.any(axis=1), m[np.argmax(below, axis=1)], np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            few_ratio = float(np.asarray(few.task_term) / np.asarray(few.meta_term))
            many_ratio = float(np.asarray(many.task_term) / np.asarray(many.meta_term))
        return PacBayesRegimesResult(
            symbolic_limits=ref["limits"],
            limits_ok=ref["limits_ok"],
            signs=ref["signs"],
            regimes_ok=ref["regimes_ok"],
            task_n_inf=ref["task_n_inf"],
            task_n_inf_nonzero=ref["task_n_inf_nonzero"],
            deriv_err=deriv_err,
            deriv_signs_ok=bool(signs_ok),
            n=n,
            m=m,
            task=task_t,
            meta=meta_t,
            task_decreasing_m=bool(np.all(np.diff(task_t, axis=1) < 0)),
            meta_decreasing_n=bool(np.all(np.diff(meta_t, axis=0) < 0)),
            task_increasing_n=bool(np.all(np.diff(task_t, axis=0) > 0)),
            increasing_kl=bool(inc_kl),
            decreasing_delta=bool(dec_delta),
            few_shot_ratio=few_ratio,
            many_shot_ratio=many_ratio,
            crossover_m=cross,
            n_points=c.n_points,
        )
