"""P1: the PAC-Bayes calculators of :mod:`metatheory.bounds.pac_bayes` against ``sympy.lambdify``
of their derivations at random points, the kl inversion against ``brentq``, and the published
test values (McAllester 1999; Maurer 2004, Thm 5; Amit & Meir 2018, Thm 2; Pentina & Lampert
2014)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from metatheory.bounds.pac_bayes import (
    amit_meir_bound,
    binary_kl,
    gaussian_kl,
    kl_inverse_bound,
    mcallester_bound,
    pentina_lampert_bound,
)
from metatheory.experiments import experiment
from metatheory.experiments.pac_bayes._common import rel, symbolic

__all__ = [
    "PacBayesCalculatorsConfig",
    "PAC_BAYES_CALCULATORS_PRESETS",
    "PacBayesCalculatorsResult",
    "exactness",
]


@dataclass(frozen=True)
class PacBayesCalculatorsConfig:
    n_points: int = 2000
    dims: int = 7  # coordinates of the Gaussian-KL test vectors
    n_brentq: int = 300  # kl-inverse points checked against brentq (a Python loop)


PAC_BAYES_CALCULATORS_PRESETS = {
    "quick": PacBayesCalculatorsConfig(),
    "full": PacBayesCalculatorsConfig(n_points=20000, n_brentq=2000),
}


@dataclass(frozen=True, kw_only=True)
class PacBayesCalculatorsResult:
    forms: dict  # sympy: each derivation equals the published form
    sym_control: bool  # sympy tells ln(1/delta) from ln(2nm/delta) in the task term
    mcallester: float  # max rel. error vs sympy lambdify
    amit_meir: float
    pentina_lampert: float
    gaussian_kl: float
    kl_inverse: float  # max abs error vs brentq
    kl_inverse_edges: float  # max abs error at emp_risk in {0, 1e-12, 1 - 1e-9, 1}
    kl_le_mcallester: bool
    jit: float  # max rel. difference, jit (float64) vs eager
    test_values: dict  # calculator values at the published test points
    controls: dict  # wrong forms evaluated at the test point
    curve_emp: np.ndarray  # empirical-risk grid of the figure (KL = 5, m = 1000, delta = 0.05)
    curve_mcallester: np.ndarray
    curve_kl_inverse: np.ndarray
    n_points: int  # random points of the comparison with sympy


def _brentq_inverse(q, c):
    from scipy.optimize import brentq

    out = []
    for qi, ci in zip(np.ravel(q), np.ravel(c), strict=True):
        f = lambda p, qi=qi, ci=ci: float(binary_kl(qi, p)) - ci
        out.append(1.0 if qi >= 1.0 or f(1 - 1e-16) <= 0 else brentq(f, qi, 1 - 1e-16, xtol=1e-15))
    return np.array(out)


@experiment
def exactness(config: PacBayesCalculatorsConfig, key: jax.Array) -> PacBayesCalculatorsResult:
    """P1: calculators vs ``sympy.lambdify`` of the derivations at random points drawn by
    ``key``, the kl inversion vs ``brentq``, the published test values."""
    ref = symbolic()
    with jax.enable_x64(True):
        ks = jax.random.split(key, 10)
        n_pts = config.n_points
        u = lambda k, lo, hi: np.array(jax.random.uniform(k, (n_pts,), minval=lo, maxval=hi))
        emp = u(ks[0], 0.0, 1.0)
        emp[:4] = [0.0, 1e-12, 1 - 1e-9, 1.0]
        kl = 10 ** u(ks[1], -3, 2.5)
        m = np.round(10 ** u(ks[2], np.log10(2), 5))
        n = np.round(10 ** u(ks[3], np.log10(2), 4))
        delta = 10 ** u(ks[4], -6, np.log10(0.99))
        kh, kt = 10 ** u(ks[5], -3, 2), 10 ** u(ks[6], -3, 2.5)

        mc = mcallester_bound(emp, kl, m, delta)
        am = amit_meir_bound(emp, n, m, kh, kt, delta)
        pl = pentina_lampert_bound(emp, n, m, kh, kt, delta)
        t_am, m_am = ref["amit_meir"](n, m, kh, kt, delta)
        t_pl, m_pl = ref["pentina_lampert"](n, m, kh, kt, delta)
        err_am = max(rel(am.task_term, t_am), rel(am.meta_term, m_am))
        err_am = max(err_am, rel(am.total, emp + t_am + m_am))
        err_pl = max(rel(pl.task_term, t_pl), rel(pl.meta_term, m_pl))
        err_pl = max(err_pl, rel(pl.total, emp + t_pl + m_pl))

        shape = (n_pts // 10, config.dims)
        g = [np.asarray(jax.random.normal(k, shape)) for k in jax.random.split(ks[7], 4)]
        mu_q, mu_p = 3 * g[0], 3 * g[1]
        s_q, s_p = np.exp(g[2]), np.exp(g[3])
        ref_gk = ref["gaussian_kl"](mu_q, s_q, mu_p, s_p).sum(-1)
        err_gk = rel(gaussian_kl(mu_q, s_q, mu_p, s_p), ref_gk)

        sub = slice(0, min(n_pts, config.n_brentq))  # brentq is a Python loop: a subset
        c = (kl + np.log(2 * np.sqrt(m) / delta)) / m
        kinv = kl_inverse_bound(emp, kl, m, delta)
        ref_inv = _brentq_inverse(emp[sub], c[sub])
        err_inv = float(np.max(np.abs(kinv[sub] - ref_inv)))
        err_edges = float(np.max(np.abs(kinv[:4] - ref_inv[:4])))
        le = bool(np.all(kinv <= mc + 1e-15))

        jit_am = jax.jit(amit_meir_bound)(emp, n, m, kh, kt, delta)
        jit_err = max(
            rel(jax.jit(mcallester_bound)(emp, kl, m, delta), mc),
            rel(jax.jit(kl_inverse_bound)(emp, kl, m, delta), kinv),
            rel(jit_am.total, am.total),
            rel(jax.jit(gaussian_kl)(mu_q, s_q, mu_p, s_p), gaussian_kl(mu_q, s_q, mu_p, s_p)),
        )

        tv = amit_meir_bound(0.1, 10, 100, 5.0, 20.0, 0.1)
        test_values = {
            "task": float(tv.task_term),
            "meta": float(tv.meta_term),
            "total": float(tv.total),
            "maurer": float(mcallester_bound(0.0, 5.0, 1000, 0.05)),
            "klinv": float(kl_inverse_bound(0.0, 5.0, 1000, 0.05)),
        }
        # deliberately wrong forms at the same test point (the controls)
        ln = np.log
        controls = {
            "task_log_one_over_delta": float(np.sqrt((5 + 20 + ln(1 / 0.1)) / (2 * 99))),
            "meta_no_sqrt": float((5 + ln(2 * 10 / 0.1)) / (2 * 9)),
            "task_m_not_m_minus_1": float(np.sqrt((5 + 20 + ln(2 * 10 * 100 / 0.1)) / 200)),
            "maurer_no_sqrt_m": float(np.sqrt((5 + ln(2 / 0.05)) / 2000)),
        }
        grid = np.linspace(0.0, 1.0, 201)
        return PacBayesCalculatorsResult(
            forms=dict(ref["forms"]),
            sym_control=ref["control"],
            mcallester=rel(mc, ref["mcallester"](emp, kl, m, delta)),
            amit_meir=err_am,
            pentina_lampert=err_pl,
            gaussian_kl=err_gk,
            kl_inverse=err_inv,
            kl_inverse_edges=err_edges,
            kl_le_mcallester=le,
            jit=jit_err,
            test_values=test_values,
            controls=controls,
            curve_emp=grid,
            curve_mcallester=np.asarray(mcallester_bound(grid, 5.0, 1000, 0.05)),
            curve_kl_inverse=np.asarray(kl_inverse_bound(grid, 5.0, 1000, 0.05)),
            n_points=config.n_points,
        )
