r"""Shared by the PAC-Bayes experiments: the sympy derivations lambdified once per process
(P1, P2), a relative-error measure, and the threshold environment (P3, P5).

**Threshold environment** (:mod:`metatheory.tasks.threshold`, risks in closed form by the
normal CDF). Marginally over :math:`\mu \sim \mathcal Q = N(\nu,\kappa^2)` the base
learner's thresholds are :math:`t \mid S \sim N(c, v)`, :math:`c = w\nu + (1-w)\bar x_S`,
:math:`v = \sigma_Q^2 + w^2\kappa^2`, so the empirical risk is
:math:`\frac1m\sum_j \Phi((2y_j-1)(c - x_j)/\sqrt v)` and the task KL (prior and posterior
jointly over :math:`(\mu, t)`) is
:math:`KL(N(c,\sigma_Q^2)\|N(\nu,\sigma_P^2)) + (1-w)^2\kappa^2/(2\sigma_P^2)`.

The public calculators of :mod:`metatheory.bounds.pac_bayes` are called through module globals
at run time, so a mutant patched into them reaches every experiment.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from metatheory.bounds.pac_bayes import gaussian_kl
from metatheory.tasks import threshold

__all__ = [
    "Environment",
    "Learner",
    "ENV",
    "LEARNER",
    "symbolic",
    "rel",
    "threshold_terms",
    "meta_bound",
]


@functools.cache
def symbolic():
    """The sympy derivations, lambdified once per process (sympy takes seconds; the mutants
    patch the calculators, never these references)."""
    import sympy as sp

    from metatheory.symbolic import pac_bayes as sym

    am_task, am_meta, _ = sym.derive_amit_meir()
    pl_task, pl_meta, _ = sym.derive_pentina_lampert()
    args = (sym.n, sym.m, sym.kl_hyper, sym.kl_task, sym.delta)
    kl_1d, gsyms = sym.derive_gaussian_kl()
    c_task, _ = sym.amit_meir_claims_form()
    wrong_task = c_task.subs(sp.log(2 * sym.n * sym.m / sym.delta), sp.log(1 / sym.delta))
    sym_control = sp.simplify(sp.expand_log(am_task**2 - wrong_task**2, force=True)) != 0
    derivs = {
        f"{term}_d{v}": sp.lambdify(args, sp.diff(expr, sv), "numpy")
        for term, expr in (("task", am_task), ("meta", am_meta))
        for v, sv in (
            ("n", sym.n),
            ("m", sym.m),
            ("kl_hyper", sym.kl_hyper),
            ("kl_task", sym.kl_task),
            ("delta", sym.delta),
        )
    }
    lim = sym.derive_limits()
    mono = sym.derive_monotonicity()
    reg = sym.derive_regimes()
    return {
        "mcallester": sp.lambdify((sym.emp, sym.kl, sym.m, sym.delta), sym.derive_mcallester()),
        "amit_meir": sp.lambdify(args, (am_task, am_meta), "numpy"),
        "pentina_lampert": sp.lambdify(args, (pl_task, pl_meta), "numpy"),
        "gaussian_kl": sp.lambdify(gsyms, kl_1d, "numpy"),
        "forms": sym.claims_forms_agree(),
        "control": bool(sym_control),
        "derivs": derivs,
        "limits": {k: str(v) for k, v in lim.items()},
        "limits_ok": bool(
            lim["meta_n_inf"] == 0
            and lim["task_m_inf"] == 0
            and lim["pl_meta_n_inf"] == 0
            and lim["pl_task_m_inf"] == 0
        ),
        "task_n_inf": str(lim["task_n_inf"]),
        "task_n_inf_nonzero": bool(lim["task_n_inf"] != 0),
        "signs": dict(mono["signs"]),
        "few_shot": str(reg["few_shot"]),
        "many_shot": str(reg["many_shot"]),
        "regimes_ok": bool(reg["few_shot"] == sp.oo and reg["many_shot"] == 0),
    }


def rel(a, b) -> float:
    """Max relative error of ``a`` against ``b`` (float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


Environment, Learner = threshold.Environment, threshold.Learner
ENV = Environment()
LEARNER = Learner()


def threshold_terms(x, y, nu, kappa, lr: Learner, nu0=None, kappa0=None):
    """Per-task empirical risks, task KLs and posterior centres of the Gaussian-threshold
    learner, and the hyper-KL to ``N(nu0, kappa0^2)``; all exact (module docstring)."""
    nu0 = lr.nu0 if nu0 is None else nu0
    kappa0 = lr.kappa0 if kappa0 is None else kappa0
    xbar = x.mean(axis=1)
    centre = lr.w * nu + (1 - lr.w) * xbar
    sd = jnp.sqrt(lr.sigma_q**2 + (lr.w * kappa) ** 2)
    emp = norm.cdf((2 * y - 1) * (centre[:, None] - x) / sd).mean(axis=1)
    kl_task = gaussian_kl(centre[:, None], lr.sigma_q, nu, lr.sigma_p)  # one coordinate
    kl_task = kl_task + ((1 - lr.w) * kappa) ** 2 / (2 * lr.sigma_p**2)
    kl_hyper = gaussian_kl(nu, kappa, nu0, kappa0)
    return emp, kl_task, kl_hyper, centre, sd


def meta_bound(fn, emp, kl_task, kl_hyper, m, delta):
    """``fn`` (Amit–Meir or Pentina–Lampert) with per-task terms averaged over tasks."""
    n = emp.shape[0]
    b = fn(emp, n, m, kl_hyper, kl_task, delta)
    meta = b.meta_term.mean()  # the same for every task
    return emp.mean() + b.task_term.mean() + meta, b.task_term.mean(), meta
