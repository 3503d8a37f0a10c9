"""B1: the Cholesky posterior predictive of :mod:`metatheory.tasks.gp` against an independent
float64 computation (NumPy dense inverse and SciPy ``solve``), and its calibration on tasks
drawn from the family (Rasmussen & Williams 2006, Eq. 2.23-2.24)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from metatheory import stats
from metatheory.experiments import experiment
from metatheory.experiments.neural_process._common import FAMILY, numpy_kernel, numpy_predictive
from metatheory.numerics import rel_err_max
from metatheory.tasks import gp

__all__ = ["Z2_LEVEL", "GpOracleConfig", "GP_ORACLE_PRESETS", "GpOracleResult", "gp_oracle"]

Z2_LEVEL = 1e-3
"""Tail probability of the stored intervals of the mean squared z-score."""


@dataclass(frozen=True)
class GpOracleConfig:
    family: gp.GPFamily = FAMILY
    n_tasks: int = 8
    context_sizes: tuple[int, ...] = (1, 5, 20, 60)
    n_targets: int = 25
    n_calibration_tasks: int = 2000  # z-scores for the calibration check
    calibration_context: int = 10
    wrong_noise_factor: float = 3.0  # the control predicts with sigma_n / 3


GP_ORACLE_PRESETS = {
    "quick": GpOracleConfig(),
    "full": GpOracleConfig(n_tasks=128, context_sizes=(1, 5, 20, 60, 200)),
}


@dataclass(frozen=True, kw_only=True)
class GpOracleResult:
    context_sizes: np.ndarray
    err_mean: np.ndarray  # rel_err_max of the predictive mean vs NumPy, per context size
    err_var: np.ndarray  # same for the predictive variance
    err_logpdf: np.ndarray  # same for the pointwise log density (NumPy formula)
    err_solve: np.ndarray  # mean via scipy.linalg.solve (a third computation)
    err_mask: float  # masked (first n of N) vs unmasked predictive
    err_joint: float  # joint log density vs the NumPy multivariate normal
    control_err: np.ndarray  # rel. error of the variance when sigma_n^2 is left out
    z2: stats.Interval  # mean squared z-score of held-out targets (1 if calibrated)
    z2_control: stats.Interval  # with the noise underestimated by wrong_noise_factor
    n_tasks: int  # tasks per context size


@partial(jax.jit, static_argnums=(1, 2, 3))
def _sample(key, n_tasks, n_points, fam):
    return gp.sample_tasks(key, n_tasks, n_points, fam)


@partial(jax.jit, static_argnums=(3, 4))
def _oracle_jax(x, y, ell, n, fam):
    """Mean, var, log density, joint log density (context = first ``n`` points, targets = the
    rest), and the masked predictive of a 3-point-bigger context with those 3 masked out."""
    kw = {"variance": fam.variance, "noise": fam.noise}
    xc, yc, xt, yt = x[:, :n], y[:, :n], x[:, n:], y[:, n:]
    mean, var = jax.vmap(lambda a, b, t, li: gp.posterior_predictive(a, b, t, li, **kw))(
        xc, yc, xt, ell
    )
    lp = jax.vmap(lambda a, b, t, u, li: gp.log_predictive_density(a, b, t, u, li, **kw))(
        xc, yc, xt, yt, ell
    )
    jl = jax.vmap(lambda a, b, t, u, li: gp.joint_log_predictive_density(a, b, t, u, li, **kw))(
        xc, yc, xt, yt, ell
    )
    xm, ym = jnp.concatenate([xc, xt[:, :3]], 1), jnp.concatenate([yc, yt[:, :3]], 1)
    mask = jnp.arange(n + 3) < n
    mm, mv = jax.vmap(lambda a, b, t, li: gp.posterior_predictive(a, b, t, li, mask=mask, **kw))(
        xm, ym, xt, ell
    )
    return mean, var, lp, jl, mm, mv


@partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _calibration(key, n_tasks, m, fam, factor):
    """z^2 of one held-out target per task, context of ``m``, predicting with noise/factor.

    One task per iteration of ``lax.map`` (no batched LAPACK calls): batched Cholesky custom
    calls over thousands of tasks were seen to hang XLA's CPU runtime in a loaded process."""

    def z2(k):
        x, y, ell = gp.sample_tasks(k, 1, m + 1, fam)
        xi, yi, li = x[0], y[0], ell[0]
        mean, var = gp.posterior_predictive(
            xi[:m], yi[:m], xi[m:], li, variance=fam.variance, noise=fam.noise / factor
        )
        return (yi[m:, 0] - mean) ** 2 / var

    return jax.lax.map(z2, jax.random.split(key, n_tasks))


@experiment
def gp_oracle(config: GpOracleConfig, key: jax.Array) -> GpOracleResult:
    """B1: Cholesky predictive vs a dense inverse and ``scipy.linalg.solve`` (float64), the
    mask mechanism vs a smaller context, the joint density, and calibration (``E z^2 = 1``).

    The public functions of :mod:`metatheory.tasks.gp` are called (and jitted) at run time, so
    a mutant of the kernel or the predictive reaches both the samples and the predictive."""
    c, fam = config, config.family
    with jax.enable_x64(True):
        k_dat, k_cal = jax.random.split(key)
        err_m, err_v, err_l, err_s, ctl = [], [], [], [], []
        err_mask, err_joint = 0.0, 0.0
        n_max = max(c.context_sizes)
        x0, y0, ell = _sample(k_dat, c.n_tasks, n_max + c.n_targets, fam)
        for n in c.context_sizes:
            # context: the first n points; targets: the last n_targets (disjoint from it)
            x = jnp.concatenate([x0[:, :n], x0[:, n_max:]], 1)
            y = jnp.concatenate([y0[:, :n], y0[:, n_max:]], 1)
            mean, var, lp, jl, mm, mv = (np.asarray(a) for a in _oracle_jax(x, y, ell, n, fam))
            x, y, ell_np = np.asarray(x), np.asarray(y), np.asarray(ell)
            em = ev = el = es = 0.0
            cc = np.inf
            for t in range(c.n_tasks):
                a, b, u, v = x[t, :n], y[t, :n], x[t, n:], y[t, n:]
                li = ell_np[t]
                rm, rv, rcov = numpy_predictive(a, b, u, li, fam.variance, fam.noise)
                rl = -0.5 * np.log(2 * np.pi * rv) - 0.5 * (v[:, 0] - rm) ** 2 / rv
                kaa = numpy_kernel(a, a, li, fam.variance) + fam.noise**2 * np.eye(n)
                sm = numpy_kernel(u, a, li, fam.variance) @ scipy.linalg.solve(
                    kaa, b[:, 0], assume_a="pos"
                )
                em, ev = max(em, rel_err_max(mean[t], rm)), max(ev, rel_err_max(var[t], rv))
                el, es = max(el, rel_err_max(lp[t], rl)), max(es, rel_err_max(mean[t], sm))
                _, rv0, _ = numpy_predictive(a, b, u, li, fam.variance, fam.noise, False)
                cc = min(cc, rel_err_max(var[t], rv0))
                err_mask = max(err_mask, rel_err_max(mm[t], rm), rel_err_max(mv[t], rv))
                _, logdet = np.linalg.slogdet(rcov)
                d = v[:, 0] - rm
                rj = -0.5 * (d @ np.linalg.solve(rcov, d) + logdet + len(d) * np.log(2 * np.pi))
                err_joint = max(err_joint, rel_err_max(jl[t], rj))
            err_m.append(em)
            err_v.append(ev)
            err_l.append(el)
            err_s.append(es)
            ctl.append(cc)

        # calibration: z-scores of held-out targets under the oracle
        m = c.calibration_context
        z_ok = np.asarray(_calibration(k_cal, c.n_calibration_tasks, m, fam, 1.0))
        z_bad = np.asarray(_calibration(k_cal, c.n_calibration_tasks, m, fam, c.wrong_noise_factor))
    return GpOracleResult(
        context_sizes=np.array(c.context_sizes),
        err_mean=np.array(err_m),
        err_var=np.array(err_v),
        err_logpdf=np.array(err_l),
        err_solve=np.array(err_s),
        err_mask=float(err_mask),
        err_joint=float(err_joint),
        control_err=np.array(ctl),
        z2=stats.mean_ci(z_ok, level=Z2_LEVEL),
        z2_control=stats.mean_ci(z_bad, level=Z2_LEVEL),
        n_tasks=c.n_tasks,
    )
