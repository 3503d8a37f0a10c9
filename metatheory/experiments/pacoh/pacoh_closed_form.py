r"""P6: the PAC-optimal hyper-posterior of Bayesian linear regression in closed form.

On random instances (:mod:`._common`) the calculator
:func:`metatheory.bounds.pacoh.pacoh_hyper_posterior` is compared with the numerically
normalised Gibbs hyper-posterior; the sympy derivation (one dimension) with both; and the bound's
data-dependent part (:func:`metatheory.bounds.pacoh.pacoh_bound`) at the closed form with its
Donsker–Varadhan minimum :math:`-(1/\lambda + 1/(n\beta))\ln E_{\mathcal P}
e^{\kappa\sum_i\ln Z_\beta}`. The Amit–Meir and Pentina–Lampert complexity terms on the same KLs
are recorded for comparison (Rothfuss et al. 2021; Ding et al. 2021, Theorem 2).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import numpy as np

from metatheory.bounds.pac_bayes import amit_meir_bound, pentina_lampert_bound
from metatheory.bounds.pacoh import pacoh_bound, pacoh_hyper_posterior
from metatheory.experiments import experiment
from metatheory.experiments.pacoh import _common

__all__ = [
    "ClosedFormConfig",
    "CLOSED_FORM_QUICK",
    "CLOSED_FORM_FULL",
    "CLOSED_FORM_PRESETS",
    "ClosedFormResult",
    "pacoh_closed_form",
]


@dataclass(frozen=True)
class ClosedFormConfig:
    n_instances: int = 100
    n_controls: int = 25  # instances on which the kappa = 1 reference is also computed
    delta: float = 0.1  # confidence of the compared Amit–Meir and Pentina–Lampert terms


CLOSED_FORM_QUICK = ClosedFormConfig()
CLOSED_FORM_FULL = ClosedFormConfig(n_instances=500, n_controls=100)
CLOSED_FORM_PRESETS = {"quick": CLOSED_FORM_QUICK, "full": CLOSED_FORM_FULL}


@dataclass(frozen=True, kw_only=True)
class ClosedFormResult:
    d: np.ndarray  # (N,) dimension of each instance
    n: np.ndarray  # (N,) tasks
    m: np.ndarray  # (N,) samples per task
    kappa: np.ndarray  # (N,) lambda / (n beta + lambda)
    mean_err: np.ndarray  # (N,) Mahalanobis distance of the means in the reference metric
    cov_err: np.ndarray  # (N,) relative Frobenius error of the covariance
    control_err: np.ndarray  # (n_controls,) max of both errors against the kappa = 1 reference
    bound: np.ndarray  # (N,) pacoh_bound at the closed form
    dv_min: np.ndarray  # (N,) its Donsker–Varadhan minimum, from the grid
    dv_err: np.ndarray  # (N,) |bound - dv_min| / max(1, |dv_min|)
    sym_lz_err: float  # max relative error, sympy ln Z vs the weight-space reference (d = 1)
    sym_post_err: float  # max relative error, sympy moments vs the calculator (d = 1)
    sym_ok: bool  # sympy: ln Z quadratic in mu, curvature and slope of the stated form
    post_sd: np.ndarray  # (N,) sqrt of the largest eigenvalue of the hyper-posterior covariance
    kl_hyper: np.ndarray
    kl_task: np.ndarray
    pacoh_terms: np.ndarray  # (N,) bound minus empirical risk
    am_terms: np.ndarray  # (N,) Amit–Meir task + meta terms on the same KLs
    pl_terms: np.ndarray  # (N,) Pentina–Lampert task + meta terms on the same KLs
    delta: float


@functools.cache
def _symbolic():
    """The sympy forms, lambdified once per process."""
    import sympy as sp

    from metatheory.symbolic import pacoh as sym

    a, b, ok = sym.derive_task_terms()
    args = (sym.Sxx, sym.Sxy, sym.sigma_p, sym.sigma, sym.t)
    lz = sym.derive_log_partition()
    lz_args = (sym.mu, sym.Sxx, sym.Sxy, sym.Syy, sym.sigma_p, sym.sigma, sym.t, sym.m)
    return {
        "a": sp.lambdify(args, a, "numpy"),
        "b": sp.lambdify(args, b, "numpy"),
        "lz": sp.lambdify(lz_args, lz, "numpy"),
        "ok": ok,
    }


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b)) / max(1.0, float(np.max(np.abs(b)))))


@experiment
def pacoh_closed_form(config: ClosedFormConfig, key: jax.Array) -> ClosedFormResult:
    """P6 (Rothfuss et al. 2021; Ding et al. 2021, Theorem 2): closed-form hyper-posterior
    against numerical normalisation, sympy, and the bound's Donsker–Varadhan minimum."""
    sym = _symbolic()
    insts = _common.draw_instances(key, config.n_instances)
    rows = {k: [] for k in ClosedFormResult.__dataclass_fields__}
    lz_err, post_err = 0.0, 0.0
    for inst in insts:
        kw = dict(
            mu0=inst.mu0,
            s=inst.s,
            sigma_p=inst.sigma_p,
            noise=inst.noise,
            beta=inst.beta,
            lam=inst.lam,
        )
        mean, cov = (np.asarray(a) for a in pacoh_hyper_posterior(inst.X, inst.y, **kw))
        kappa = inst.lam / (inst.n * inst.beta + inst.lam)  # the definition, not the calculator
        ref_mean, ref_cov, log_norm = _common.grid_moments(inst, kappa)

        def errs(rm, rc, mean=mean, cov=cov):
            dm = mean - rm
            return (
                float(np.sqrt(dm @ np.linalg.solve(rc, dm))),
                float(np.linalg.norm(cov - rc) / np.linalg.norm(rc)),
            )

        me, ce = errs(ref_mean, ref_cov)
        rows["mean_err"].append(me)
        rows["cov_err"].append(ce)
        if len(rows["control_err"]) < config.n_controls:
            ctl_mean, ctl_cov, _ = _common.grid_moments(inst, 1.0)
            rows["control_err"].append(max(errs(ctl_mean, ctl_cov)))
        emp, klh, klt = _common.gibbs_terms(inst, mean, cov)
        bound = float(pacoh_bound(emp, inst.n, inst.beta, inst.lam, klh, klt))
        dv = -(1.0 / inst.lam + 1.0 / (inst.n * inst.beta)) * log_norm
        rows["bound"].append(bound)
        rows["dv_min"].append(dv)
        rows["dv_err"].append(abs(bound - dv) / max(1.0, abs(dv)))
        rows["kl_hyper"].append(klh)
        rows["kl_task"].append(klt)
        rows["pacoh_terms"].append(bound - emp)
        am = amit_meir_bound(0.0, inst.n, inst.m, klh, klt, config.delta)
        pl = pentina_lampert_bound(0.0, inst.n, inst.m, klh, klt, config.delta)
        rows["am_terms"].append(float(am.total))
        rows["pl_terms"].append(float(pl.total))
        rows["d"].append(inst.d)
        rows["n"].append(inst.n)
        rows["m"].append(inst.m)
        rows["kappa"].append(kappa)
        rows["post_sd"].append(float(np.sqrt(np.linalg.eigvalsh(cov).max())))
        if inst.d == 1:
            X, y, t = inst.X[..., 0], inst.y, inst.beta / inst.m
            sxx, sxy, syy = (X * X).sum(1), (X * y).sum(1), (y * y).sum(1)
            pts = ref_mean[0] + np.sqrt(ref_cov[0, 0]) * np.array([-3.0, -1.0, 0.0, 2.0])
            ref_lz = _common.log_partition(inst, pts[:, None])
            sym_lz = np.array(
                [
                    sym["lz"](pts, sxx[i], sxy[i], syy[i], inst.sigma_p, inst.noise, t, inst.m)
                    for i in range(inst.n)
                ]
            )
            lz_err = max(lz_err, _rel(sym_lz, ref_lz))
            a = sym["a"](sxx, sxy, inst.sigma_p, inst.noise, t)
            b = sym["b"](sxx, sxy, inst.sigma_p, inst.noise, t)
            prec = 1 / inst.s**2 + kappa * a.sum()
            s_mean = (inst.mu0[0] / inst.s**2 + kappa * b.sum()) / prec
            post_err = max(
                post_err,
                abs(s_mean - mean[0]) * np.sqrt(prec),
                abs(1 / prec - cov[0, 0]) * prec,
            )
    arr = {k: np.asarray(v) for k, v in rows.items() if v}
    return ClosedFormResult(
        **arr,
        sym_lz_err=float(lz_err),
        sym_post_err=float(post_err),
        sym_ok=bool(sym["ok"]),
        delta=config.delta,
    )
