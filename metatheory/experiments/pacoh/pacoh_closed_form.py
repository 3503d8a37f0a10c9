r"""P6: the PAC-optimal hyper-posterior of Bayesian linear regression in closed form.

On random instances (:mod:`._common`) the calculator
:func:`metatheory.bounds.pacoh.pacoh_hyper_posterior` is compared with the numerically
normalised Gibbs hyper-posterior; the sympy derivation (one dimension) with both; and the bound's
data-dependent part (:func:`metatheory.bounds.pacoh.pacoh_bound`) at the closed form with its
Donsker–Varadhan minimum :math:`-(1/\lambda + 1/(n\beta))\ln E_{\mathcal P}
e^{\kappa\sum_i\ln Z_\beta}`. The Amit–Meir and Pentina–Lampert complexity terms on the same KLs
are recorded for comparison (Rothfuss et al. 2021; Ding et al. 2021, Theorem 2).

**Bound check.** On ``n_draws`` draws of the observed tasks of a fixed one-dimensional
environment (:class:`._common.BoundEnvironment`, a loss bounded in [0, 1]), the Amit–Meir and
Pentina–Lampert bounds (:mod:`metatheory.bounds.pac_bayes`) at PACOH's Gibbs hyper-posterior
(:func:`metatheory.bounds.pacoh.pacoh_hyper_posterior`, :math:`\beta = \sqrt m`,
:math:`\lambda = \sqrt n`) against its exact transfer risk, and the events of each bound's
union: every task (Amit–Meir, level :math:`\delta/(2n)` each), the task average
(Pentina–Lampert, :math:`\delta/2`) and the environment (:math:`\delta/2` each). PACOH's own
confidence term was not read, so its bound is not evaluated.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import numpy as np

from metatheory.bounds.pac_bayes import amit_meir_bound, gaussian_kl, pentina_lampert_bound
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
    n_draws: int = 400  # draws of the observed tasks for the bound check
    n_quad: int = 60  # quadrature points per axis of the exact risks
    n_mc: int = 20000  # Monte Carlo tasks checking the exact transfer risk
    env: _common.BoundEnvironment = _common.BoundEnvironment()


DRAW_BATCH = 100
"""Draws of the observed tasks generated at once (``n_draws`` is a multiple)."""

CLOSED_FORM_QUICK = ClosedFormConfig()
CLOSED_FORM_FULL = ClosedFormConfig(n_instances=500, n_controls=100, n_draws=2000)
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
    # the bound check, one entry per draw of the observed tasks
    transfer: np.ndarray  # exact transfer risk of PACOH's hyper-posterior
    am_bound: np.ndarray  # Amit–Meir total
    pl_bound: np.ndarray  # Pentina–Lampert total
    emp: np.ndarray  # task-averaged empirical risk
    task_risk: np.ndarray  # task-averaged exact risk on the observed tasks
    am_task_events: np.ndarray  # every task: er_i <= emp_i + Amit–Meir task term_i
    am_task_used: np.ndarray  # max_i (er_i - emp_i) / task term_i
    am_env_event: np.ndarray  # er <= mean_i er_i + Amit–Meir meta term
    am_env_used: np.ndarray
    pl_task_event: np.ndarray  # mean_i er_i <= emp + Pentina–Lampert task term
    pl_task_used: np.ndarray
    pl_env_event: np.ndarray  # er <= mean_i er_i + Pentina–Lampert meta term
    pl_env_used: np.ndarray
    bound_kl_hyper: np.ndarray
    bound_kl_task: np.ndarray  # task-averaged
    wbar: float  # the environment's mean weight
    bound_n_tasks: int  # observed tasks per draw of the bound check
    bound_m: int  # samples per observed task of the bound check
    quad_err: float  # |transfer risk at n_quad - at 2 n_quad| at draw 0
    mc_exact: float  # exact transfer risk at draw 0 ...
    mc: float  # ... its Monte Carlo estimate ...
    mc_se: float  # ... and standard error


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
        **_bound_check(config, jax.random.fold_in(key, 1)),
    )


def _bound_check(config: ClosedFormConfig, key: jax.Array) -> dict:
    """The Amit–Meir and Pentina–Lampert bounds at PACOH's hyper-posterior on draws of the
    observed tasks, with the exact transfer and task risks (module docstring)."""
    env, delta = config.env, config.delta
    n, m = env.n_tasks, env.m
    beta, lam = float(np.sqrt(m)), float(np.sqrt(n))
    k_env, k_draws, k_mc = jax.random.split(key, 3)
    wbar = float(jax.random.normal(k_env, ()))
    cols = {}
    for i in range(config.n_draws):
        if i % DRAW_BATCH == 0:  # one batch of draws at a time (memory)
            batch = _common.draw_bound_tasks(
                jax.random.fold_in(k_draws, i // DRAW_BATCH), env, wbar, DRAW_BATCH
            )
        w, X, y = (a[i % DRAW_BATCH] for a in batch)
        mean, cov = pacoh_hyper_posterior(
            X[..., None], y, mu0=env.mu0, s=env.s, sigma_p=env.sigma_p, noise=env.noise,
            beta=beta, lam=lam,
        )  # fmt: skip
        nu, gamma = float(np.asarray(mean)[0]), float(np.asarray(cov)[0, 0])
        emp, er_i, kl_task = _common.bound_task_terms(w, X, y, nu, gamma, env, beta, config.n_quad)
        kl_hyper = float(gaussian_kl(nu, np.sqrt(gamma), env.mu0, env.s))
        er = _common.transfer_risk(nu, gamma, wbar, env, beta, config.n_quad)
        am = amit_meir_bound(emp, n, m, kl_hyper, kl_task, delta)  # per-task terms
        am_task, am_meta = np.asarray(am.task_term), float(np.mean(am.meta_term))
        pl = pentina_lampert_bound(emp.mean(), n, m, kl_hyper, kl_task.mean(), delta)
        pl_task, pl_meta = float(pl.task_term), float(pl.meta_term)
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero term: fraction inf
            used = (
                float(np.max((er_i - emp) / am_task)),
                (er - er_i.mean()) / am_meta,
                (er_i.mean() - emp.mean()) / pl_task,
                (er - er_i.mean()) / pl_meta,
            )
        row = {
            "transfer": er,
            "am_bound": emp.mean() + am_task.mean() + am_meta,
            "pl_bound": float(pl.total),
            "emp": emp.mean(),
            "task_risk": er_i.mean(),
            "am_task_events": bool(np.all(er_i <= emp + am_task)),
            "am_task_used": used[0],
            "am_env_event": er <= er_i.mean() + am_meta,
            "am_env_used": used[1],
            "pl_task_event": er_i.mean() <= emp.mean() + pl_task,
            "pl_task_used": used[2],
            "pl_env_event": er <= er_i.mean() + pl_meta,
            "pl_env_used": used[3],
            "bound_kl_hyper": kl_hyper,
            "bound_kl_task": kl_task.mean(),
        }
        for name, value in row.items():
            cols.setdefault(name, []).append(value)
        if len(cols["transfer"]) == 1:
            first = (nu, gamma)
    nu, gamma = first
    mc, mc_se = _common.transfer_risk_mc(k_mc, nu, gamma, wbar, env, beta, config.n_mc)
    return {
        **{name: np.asarray(v) for name, v in cols.items()},
        "wbar": wbar,
        "bound_n_tasks": n,
        "bound_m": m,
        "quad_err": abs(
            cols["transfer"][0]
            - _common.transfer_risk(nu, gamma, wbar, env, beta, 2 * config.n_quad)
        ),
        "mc_exact": float(cols["transfer"][0]),
        "mc": mc,
        "mc_se": mc_se,
    }
