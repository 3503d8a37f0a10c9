r"""Experiments for the PAC-Bayes claims P1–P5.

**Threshold environment** (P3, P5): risks in closed form by the normal CDF :math:`\Phi`.
A task is a centre :math:`a \sim N(\mu_0, \tau_0^2)`; its examples are labels
:math:`y \sim \mathrm{Bernoulli}(1/2)` and :math:`x \mid y \sim N(a + (2y-1)\Delta, s^2)`.
Hypotheses are thresholds :math:`h_t(x) = 1[x > t]` under the 0-1 loss, with true risk
:math:`er_a(t) = \tfrac12[\Phi((a-\Delta-t)/s) + \Phi((t-a-\Delta)/s)]`.
Priors over :math:`t` are :math:`P_\mu = N(\mu, \sigma_P^2)`; the hyperprior is
:math:`\mathcal P = N(\nu_0, \kappa_0^2)` over :math:`\mu` and the hyperposterior
:math:`\mathcal Q = N(\nu, \kappa^2)`. The base learner (a fixed map, as the meta-level bound
needs) shrinks the sample mean to the prior mean:
:math:`Q(S, P_\mu) = N(w\mu + (1-w)\bar x_S, \sigma_Q^2)`. Marginally over
:math:`\mu \sim \mathcal Q`,
:math:`t \mid S \sim N(w\nu + (1-w)\bar x_S, \sigma_Q^2 + w^2\kappa^2)`, so the empirical
risk is :math:`\frac1m\sum_j \Phi((2y_j-1)(c - x_j)/\sqrt v)`, the task KL is
:math:`KL(N(c_\nu,\sigma_Q^2)\|N(\nu,\sigma_P^2)) + (1-w)^2\kappa^2/(2\sigma_P^2)`, and the
transfer risk is exact: given :math:`K \sim \mathrm{Bin}(m, 1/2)` positives,
:math:`c - a` is Gaussian with mean :math:`w(\nu-\mu_0) + (1-w)\Delta(2K/m - 1)` and variance
:math:`w^2\tau_0^2 + (1-w)^2 s^2/m`, and :math:`E\,\Phi((\mu + bZ)/\sigma) =
\Phi(\mu/\sqrt{\sigma^2+b^2})` (:func:`transfer_risk`, a sum over the ``m + 1`` values of K).

**Linear-classifier tasks** (P4): :math:`w^* = w_0 + \tau g`, :math:`x \sim N(0, I_d)`,
:math:`y = \mathrm{sign}(w^{*\top}x)`; the true risk of :math:`w` is
:math:`\angle(w, w^*)/\pi`, and of a Gaussian :math:`N(\phi, \sigma^2 I)` on a sample it is
:math:`\frac1m\sum\Phi(-y\,\phi^\top x/(\sigma\|x\|))`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.scipy.special import gammaln
from jax.scipy.stats import norm

from metatheory.bounds.pac_bayes import (
    amit_meir_bound,
    binary_kl,
    gaussian_kl,
    kl_inverse_bound,
    mcallester_bound,
    pentina_lampert_bound,
)
from metatheory.learners.maml import inner_adapt
from metatheory.learners.train import make_meta_step

__all__ = [
    "Environment",
    "Learner",
    "ENV",
    "LEARNER",
    "ExactConfig",
    "EXACT_QUICK",
    "EXACT_FULL",
    "ExactResult",
    "exactness",
    "RegimeConfig",
    "REGIMES",
    "RegimeResult",
    "regimes",
    "CoverageConfig",
    "COVERAGE_QUICK",
    "COVERAGE_FULL",
    "CoverageResult",
    "coverage",
    "transfer_risk",
    "transfer_risk_mc",
    "SoftConfig",
    "SOFT_QUICK",
    "SOFT_FULL",
    "SoftResult",
    "softened_posterior",
    "PriorConfig",
    "PRIOR_QUICK",
    "PRIOR_FULL",
    "PriorResult",
    "learned_prior",
]


# ---------------------------------------------------------------------------------------------
# P1: calculators against the sympy derivations and an independent root finder


@dataclass(frozen=True)
class ExactConfig:
    n_points: int = 2000
    dims: int = 7  # coordinates of the Gaussian-KL test vectors


EXACT_QUICK = ExactConfig()
EXACT_FULL = ExactConfig(n_points=20000)


@dataclass
class ExactResult:
    mcallester: float  # max rel. error vs sympy lambdify
    amit_meir: float
    pentina_lampert: float
    gaussian_kl: float
    kl_inverse: float  # max abs error vs brentq
    kl_inverse_edges: float  # max abs error at emp_risk in {0, 1e-12, 1 - 1e-9, 1}
    kl_le_mcallester: bool
    jit: float  # max rel. difference, jit (float64) vs eager
    test_values: dict  # calculator values at CLAIMS.md's test points
    controls: dict  # wrong forms evaluated at the test point
    curve_emp: np.ndarray  # empirical-risk grid of the figure (KL = 5, m = 1000, delta = 0.05)
    curve_mcallester: np.ndarray
    curve_kl_inverse: np.ndarray


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _brentq_inverse(q, c):
    from scipy.optimize import brentq

    out = []
    for qi, ci in zip(np.ravel(q), np.ravel(c), strict=True):
        f = lambda p, qi=qi, ci=ci: float(binary_kl(qi, p)) - ci
        out.append(1.0 if qi >= 1.0 or f(1 - 1e-16) <= 0 else brentq(f, qi, 1 - 1e-16, xtol=1e-15))
    return np.array(out)


def exactness(config: ExactConfig, key: jax.Array) -> ExactResult:
    """P1: calculators vs ``sympy.lambdify`` of the derivations, kl-inverse vs ``brentq``."""
    import sympy as sp

    from metatheory.symbolic import pac_bayes as sym

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

        ref_mc = sp.lambdify((sym.emp, sym.kl, sym.m, sym.delta), sym.derive_mcallester(), "numpy")
        am_task, am_meta, _ = sym.derive_amit_meir()
        pl_task, pl_meta, _ = sym.derive_pentina_lampert()
        args = (sym.n, sym.m, sym.kl_hyper, sym.kl_task, sym.delta)
        ref_am = sp.lambdify(args, (am_task, am_meta), "numpy")
        ref_pl = sp.lambdify(args, (pl_task, pl_meta), "numpy")
        kl_1d, gsyms = sym.derive_gaussian_kl()
        ref_gk = sp.lambdify(gsyms, kl_1d, "numpy")

        mc = mcallester_bound(emp, kl, m, delta)
        am = amit_meir_bound(emp, n, m, kh, kt, delta)
        pl = pentina_lampert_bound(emp, n, m, kh, kt, delta)
        t_am, m_am = ref_am(n, m, kh, kt, delta)
        t_pl, m_pl = ref_pl(n, m, kh, kt, delta)
        err_am = max(_rel(am.task_term, t_am), _rel(am.meta_term, m_am))
        err_am = max(err_am, _rel(am.total, emp + t_am + m_am))
        err_pl = max(_rel(pl.task_term, t_pl), _rel(pl.meta_term, m_pl))
        err_pl = max(err_pl, _rel(pl.total, emp + t_pl + m_pl))

        shape = (n_pts // 10, config.dims)
        g = [np.asarray(jax.random.normal(k, shape)) for k in jax.random.split(ks[7], 4)]
        mu_q, mu_p = 3 * g[0], 3 * g[1]
        s_q, s_p = np.exp(g[2]), np.exp(g[3])
        err_gk = _rel(gaussian_kl(mu_q, s_q, mu_p, s_p), ref_gk(mu_q, s_q, mu_p, s_p).sum(-1))

        sub = slice(0, min(n_pts, 400))  # brentq is a Python loop: a subset suffices
        c = (kl + np.log(2 * np.sqrt(m) / delta)) / m
        kinv = kl_inverse_bound(emp, kl, m, delta)
        ref_inv = _brentq_inverse(emp[sub], c[sub])
        err_inv = float(np.max(np.abs(kinv[sub] - ref_inv)))
        err_edges = float(np.max(np.abs(kinv[:4] - ref_inv[:4])))
        le = bool(np.all(kinv <= mc + 1e-15))

        jit_am = jax.jit(amit_meir_bound)(emp, n, m, kh, kt, delta)
        jit_err = max(
            _rel(jax.jit(mcallester_bound)(emp, kl, m, delta), mc),
            _rel(jax.jit(kl_inverse_bound)(emp, kl, m, delta), kinv),
            _rel(jit_am.total, am.total),
            _rel(jax.jit(gaussian_kl)(mu_q, s_q, mu_p, s_p), gaussian_kl(mu_q, s_q, mu_p, s_p)),
        )

        tv = amit_meir_bound(0.1, 10, 100, 5.0, 20.0, 0.1)
        test_values = {
            "task": float(tv.task_term),
            "meta": float(tv.meta_term),
            "total": float(tv.total),
            "maurer": float(mcallester_bound(0.0, 5.0, 1000, 0.05)),
            "klinv": float(kl_inverse_bound(0.0, 5.0, 1000, 0.05)),
        }
        # deliberately wrong forms at the same test point
        ln = np.log
        controls = {
            "task_log_one_over_delta": float(np.sqrt((5 + 20 + ln(1 / 0.1)) / (2 * 99))),
            "meta_no_sqrt": float((5 + ln(2 * 10 / 0.1)) / (2 * 9)),
            "task_m_not_m_minus_1": float(np.sqrt((5 + 20 + ln(2 * 10 * 100 / 0.1)) / 200)),
            "maurer_no_sqrt_m": float(np.sqrt((5 + ln(2 / 0.05)) / 2000)),
        }
        grid = np.linspace(0.0, 1.0, 201)
    return ExactResult(
        _rel(mc, ref_mc(emp, kl, m, delta)),
        err_am,
        err_pl,
        err_gk,
        err_inv,
        err_edges,
        le,
        jit_err,
        test_values,
        controls,
        grid,
        mcallester_bound(grid, 5.0, 1000, 0.05),
        kl_inverse_bound(grid, 5.0, 1000, 0.05),
    )


# ---------------------------------------------------------------------------------------------
# P2: the terms over (n, m), monotonicity on grids, regimes


@dataclass(frozen=True)
class RegimeConfig:
    kl_hyper: float = 5.0
    kl_task: float = 20.0
    delta: float = 0.1
    n_grid: tuple[float, ...] = tuple(np.unique(np.round(np.geomspace(2, 1e5, 40))).tolist())
    m_grid: tuple[float, ...] = tuple(np.unique(np.round(np.geomspace(2, 1e5, 40))).tolist())
    few_shot: tuple[float, float] = (1e4, 5.0)  # (n, m)
    many_shot: tuple[float, float] = (5.0, 1e4)


REGIMES = RegimeConfig()


@dataclass
class RegimeResult:
    n: np.ndarray
    m: np.ndarray
    task: np.ndarray  # (len(n), len(m)) Amit–Meir task term
    meta: np.ndarray  # (len(n), len(m)) meta term (constant in m)
    pl_task: np.ndarray
    pl_meta: np.ndarray
    task_decreasing_m: bool
    meta_decreasing_n: bool
    task_increasing_n: bool  # the union bound's ln n: the task term grows with n
    increasing_kl: bool
    decreasing_delta: bool
    few_shot_ratio: float  # task / meta at the few-shot corner
    many_shot_ratio: float
    crossover_m: np.ndarray  # smallest grid m with task <= meta, per n (nan if none)


def regimes(config: RegimeConfig) -> RegimeResult:
    """P2 numerically: the terms on an (n, m) grid and finite-difference monotonicity."""
    c = config
    n, m = np.array(c.n_grid), np.array(c.m_grid)
    nn, mm = np.meshgrid(n, m, indexing="ij")
    am = amit_meir_bound(0.0, nn, mm, c.kl_hyper, c.kl_task, c.delta)
    pl = pentina_lampert_bound(0.0, nn, mm, c.kl_hyper, c.kl_task, c.delta)
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
    below = am.task_term <= am.meta_term
    cross = np.where(below.any(axis=1), m[np.argmax(below, axis=1)], np.nan)
    return RegimeResult(
        n,
        m,
        np.asarray(am.task_term),
        np.asarray(am.meta_term),
        np.asarray(pl.task_term),
        np.asarray(pl.meta_term),
        bool(np.all(np.diff(am.task_term, axis=1) < 0)),
        bool(np.all(np.diff(am.meta_term, axis=0) < 0)),
        bool(np.all(np.diff(am.task_term, axis=0) > 0)),
        bool(inc_kl),
        bool(dec_delta),
        float(few.task_term / few.meta_term),
        float(many.task_term / many.meta_term),
        cross,
    )


# ---------------------------------------------------------------------------------------------
# The threshold environment (P3, P5)


@dataclass(frozen=True)
class Environment:
    mu0: float = 1.0  # mean task centre
    tau0: float = 1.0  # spread of task centres
    gap: float = 1.0  # class means at a -/+ gap
    noise: float = 1.0  # class-conditional std s


@dataclass(frozen=True)
class Learner:
    w: float = 0.2  # weight of the prior mean in the posterior centre
    sigma_q: float = 0.3  # posterior std over thresholds
    sigma_p: float = 1.0  # prior std over thresholds
    nu0: float = 0.0  # hyperprior mean
    kappa0: float = 2.0  # hyperprior std
    kappa: float = 0.2  # hyperposterior std (P3)


ENV = Environment()
LEARNER = Learner()


def _sample_tasks(key, env: Environment, n: int, m: int):
    """``x, y`` of shape ``(n, m)`` and the task centres ``a`` of shape ``(n,)``."""
    ka, ky, kx = jax.random.split(key, 3)
    a = env.mu0 + env.tau0 * jax.random.normal(ka, (n,))
    y = jax.random.bernoulli(ky, 0.5, (n, m)).astype(a.dtype)
    x = a[:, None] + (2 * y - 1) * env.gap + env.noise * jax.random.normal(kx, (n, m))
    return x, y, a


def _terms(x, y, nu, kappa, lr: Learner):
    """Per-task empirical risks and task KLs of the Gaussian-threshold learner, and the
    hyper-KL; all exact (module docstring)."""
    xbar = x.mean(axis=1)
    centre = lr.w * nu + (1 - lr.w) * xbar
    sd = jnp.sqrt(lr.sigma_q**2 + (lr.w * kappa) ** 2)
    emp = norm.cdf((2 * y - 1) * (centre[:, None] - x) / sd).mean(axis=1)
    kl_task = gaussian_kl(centre[:, None], lr.sigma_q, nu, lr.sigma_p)  # one coordinate
    kl_task = kl_task + ((1 - lr.w) * kappa) ** 2 / (2 * lr.sigma_p**2)
    kl_hyper = gaussian_kl(nu, kappa, lr.nu0, lr.kappa0)
    return emp, kl_task, kl_hyper


def _meta_bound(fn, emp, kl_task, kl_hyper, m, delta):
    """``fn`` (Amit–Meir or Pentina–Lampert) with per-task terms averaged over tasks."""
    n = emp.shape[0]
    b = fn(emp, n, m, kl_hyper, kl_task, delta)
    meta = b.meta_term.mean()  # the same for every task
    return emp.mean() + b.task_term.mean() + meta, b.task_term.mean(), meta


def transfer_risk(nu, kappa, env: Environment, lr: Learner, m: int):
    r"""Exact :math:`er(\mathcal Q)` of the threshold learner on a new task of ``m`` samples."""
    k = jnp.arange(m + 1)
    log_pmf = gammaln(m + 1.0) - gammaln(k + 1.0) - gammaln(m - k + 1.0) - m * jnp.log(2.0)
    mean = lr.w * (nu - env.mu0) + (1 - lr.w) * env.gap * (2 * k / m - 1)
    var = (
        env.noise**2
        + lr.sigma_q**2
        + (lr.w * kappa) ** 2
        + (lr.w * env.tau0) ** 2
        + ((1 - lr.w) * env.noise) ** 2 / m
    )
    sd = jnp.sqrt(var)
    risk_k = 0.5 * (norm.cdf((-env.gap - mean) / sd) + norm.cdf((mean - env.gap) / sd))
    return jnp.sum(jnp.exp(log_pmf) * risk_k)


def transfer_risk_mc(key, nu, kappa, env: Environment, lr: Learner, m: int, n_tasks: int):
    """Monte Carlo of :func:`transfer_risk` (an independent check of its closed form)."""
    k1, k2, k3 = jax.random.split(key, 3)
    x, y, a = _sample_tasks(k1, env, n_tasks, m)
    mu = nu + kappa * jax.random.normal(k2, (n_tasks,))
    t = lr.w * mu + (1 - lr.w) * x.mean(axis=1) + lr.sigma_q * jax.random.normal(k3, (n_tasks,))
    s = env.noise
    risk = 0.5 * (norm.cdf((a - env.gap - t) / s) + norm.cdf((t - a - env.gap) / s))
    return risk.mean(), risk.std() / jnp.sqrt(n_tasks)


# ---------------------------------------------------------------------------------------------
# P3: coverage of the Amit–Meir bound


@dataclass(frozen=True)
class CoverageConfig:
    n_draws: int = 1000
    n_tasks: int = 100
    m: int = 100
    delta: float = 0.1
    batch: int = 100  # draws per vmapped batch (memory)
    env: Environment = ENV
    learner: Learner = LEARNER


COVERAGE_QUICK = CoverageConfig()
COVERAGE_FULL = CoverageConfig(n_draws=4000, n_tasks=200, m=200)


@dataclass
class CoverageResult:
    bound: np.ndarray  # (draws,) Amit–Meir total
    pl_bound: np.ndarray  # (draws,) Pentina–Lampert total
    transfer: np.ndarray  # (draws,) exact transfer risk of the learned hyperposterior
    emp: np.ndarray  # (draws,) average empirical risk
    task: np.ndarray
    meta: np.ndarray
    kl_hyper: np.ndarray
    kl_task: np.ndarray  # task-averaged
    delta: float
    n_tasks: int
    m: int
    mc_check: tuple[float, float, float]  # (exact, Monte Carlo, its std. error) at draw 0


def coverage(config: CoverageConfig, key: jax.Array) -> CoverageResult:
    """P3: over ``n_draws`` draws of ``n_tasks`` observed tasks, the Amit–Meir bound of the
    hyperposterior ``N(mean xbar_i, kappa^2)`` against its exact transfer risk."""
    c, lr = config, config.learner
    with jax.enable_x64(True):

        def one(k):
            x, y, _ = _sample_tasks(k, c.env, c.n_tasks, c.m)
            nu = x.mean()  # hyperposterior mean learned from the observed tasks
            emp, kl_task, kl_hyper = _terms(x, y, nu, lr.kappa, lr)
            total, task, meta = _meta_bound(amit_meir_bound, emp, kl_task, kl_hyper, c.m, c.delta)
            pl, _, _ = _meta_bound(pentina_lampert_bound, emp, kl_task, kl_hyper, c.m, c.delta)
            er = transfer_risk(nu, lr.kappa, c.env, lr, c.m)
            return total, pl, er, emp.mean(), task, meta, kl_hyper, kl_task.mean(), nu

        k_draw, k_mc = jax.random.split(key)
        keys = jax.random.split(k_draw, c.n_draws)
        out = jax.lax.map(jax.jit(one), keys, batch_size=c.batch)
        out = [np.asarray(o) for o in out]
        nu0 = out[-1][0]
        exact = float(transfer_risk(nu0, lr.kappa, c.env, lr, c.m))
        mc, se = jax.jit(transfer_risk_mc, static_argnums=(3, 4, 5, 6))(
            k_mc, nu0, lr.kappa, c.env, lr, c.m, 20000
        )
    return CoverageResult(*out[:-1], c.delta, c.n_tasks, c.m, (exact, float(mc), float(se)))


# ---------------------------------------------------------------------------------------------
# P4: point-mass vs Gaussian-softened MAML posterior (Dziugaite & Roy 2017)


@dataclass(frozen=True)
class SoftConfig:
    d: int = 5
    w0_norm: float = 2.0
    tau: float = 1.0
    m: int = 500  # samples of each new task (adaptation and bound)
    alpha: float = 2.0
    n_inner: int = 1
    meta_steps: int = 200
    meta_batch: int = 16
    beta: float = 0.05
    n_new: int = 32  # new tasks on which the bound is evaluated
    sigmas: tuple[float, ...] = tuple(np.geomspace(0.02, 2.0, 21).tolist())
    delta: float = 0.05
    n_mc: int = 4096  # posterior samples for the true risk
    shrink: tuple[float, ...] = tuple(10.0 ** -np.arange(0, 9))  # sigma_q / sigma_p


SOFT_QUICK = SoftConfig()
SOFT_FULL = SoftConfig(meta_steps=600, n_new=128, n_mc=16384)


@dataclass
class SoftResult:
    kl: np.ndarray  # (n_new, n_sigma) gaussian_kl(phi, sigma, theta, sigma)
    kl_formula: np.ndarray  # ||phi - theta||^2 / (2 sigma^2)
    dist2: np.ndarray  # (n_new,) ||phi - theta||^2
    sigmas: np.ndarray
    emp: np.ndarray  # (n_new, n_sigma) empirical risk of N(phi, sigma^2 I)
    bound: np.ndarray  # (n_new, n_sigma) kl-inverse bound at delta / n_sigma
    best_bound: np.ndarray  # (n_new,) min over sigma (union bound over the grid)
    best_sigma: np.ndarray
    true_risk: np.ndarray  # (n_new,) true risk of the best Gaussian posterior (Monte Carlo)
    point_emp: np.ndarray  # (n_new,) empirical risk of the point mass at phi
    point_true: np.ndarray  # (n_new,) true risk of the point mass (exact angle / pi)
    point_kl: float  # KL of a point mass: inf
    point_mcallester: np.ndarray  # inf
    point_kl_inverse: np.ndarray  # 1: vacuous
    shrink: np.ndarray  # sigma_q / sigma_p towards the point mass
    shrink_kl: np.ndarray  # (n_shrink,) KL(N(phi, sq^2) || N(theta, sp^2)) for task 0
    d: int
    m: int
    meta_losses: np.ndarray


def _logistic(w, x, y):
    """Mean logistic loss ``log(1 + exp(-y w.x))`` of a linear classifier."""
    return jnp.mean(jax.nn.softplus(-y * (x @ w)))


def _linear_tasks(key, c: SoftConfig, n: int):
    kw, kx = jax.random.split(key)
    w0 = jnp.zeros(c.d).at[0].set(c.w0_norm)
    w_star = w0 + c.tau * jax.random.normal(kw, (n, c.d))
    x = jax.random.normal(kx, (n, c.m, c.d))
    y = jnp.sign(jnp.einsum("nmd,nd->nm", x, w_star))
    return x, y, w_star


def _angle_risk(w, w_star):
    cos = jnp.sum(w * w_star, -1) / (jnp.linalg.norm(w, axis=-1) * jnp.linalg.norm(w_star, axis=-1))
    return jnp.arccos(jnp.clip(cos, -1.0, 1.0)) / jnp.pi


def softened_posterior(config: SoftConfig, key: jax.Array) -> SoftResult:
    """P4: MAML-trained prior mean ``theta``, adapted ``phi``; bound of a point mass at ``phi``
    vs ``N(phi, sigma^2 I)`` against the prior ``N(theta, sigma^2 I)``."""
    c = config
    with jax.enable_x64(True):
        k_meta, k_new, k_mc = jax.random.split(key, 3)
        opt = optax.adam(c.beta)
        step = make_meta_step(_logistic, opt, alpha=c.alpha, n_inner=c.n_inner)
        theta = jnp.zeros(c.d)
        state = opt.init(theta)
        losses = []
        for i in range(c.meta_steps):
            x, y, _ = _linear_tasks(jax.random.fold_in(k_meta, i), c, 2 * c.meta_batch)
            sup, qry = (x[::2], y[::2]), (x[1::2], y[1::2])
            theta, state, loss = step(theta, state, sup, qry)
            losses.append(float(loss))

        x, y, w_star = _linear_tasks(k_new, c, c.n_new)
        adapt = jax.vmap(
            lambda xs, ys: inner_adapt(_logistic, theta, (xs, ys), alpha=c.alpha, n_inner=c.n_inner)
        )
        phi = adapt(x, y)
        sig = jnp.asarray(c.sigmas)
        margin = y * jnp.einsum("nmd,nd->nm", x, phi) / jnp.linalg.norm(x, axis=-1)
        emp = norm.cdf(-margin[:, None, :] / sig[None, :, None]).mean(-1)  # (n_new, n_sigma)
        kl = gaussian_kl(phi[:, None, :], sig[None, :, None], theta, sig[None, :, None])
        dist2 = jnp.sum((phi - theta) ** 2, -1)
        kl_formula = dist2[:, None] / (2 * sig[None, :] ** 2)
        bound = kl_inverse_bound(
            np.asarray(emp), np.asarray(kl), c.m, c.delta / len(c.sigmas)
        )  # union bound over the sigma grid
        best = np.argmin(bound, axis=1)
        rows = np.arange(c.n_new)
        best_sigma = np.asarray(sig)[best]
        noise = jax.random.normal(k_mc, (c.n_new, c.n_mc, c.d))
        samples = phi[:, None, :] + best_sigma[:, None, None] * noise
        true = _angle_risk(samples, w_star[:, None, :]).mean(-1)
        point_emp = (margin <= 0).mean(-1)
        point_true = _angle_risk(phi, w_star)
        point_kl = float("inf")  # a Dirac at phi is not absolutely continuous w.r.t. N(theta, .)
        shrink = np.asarray(c.shrink)
        shrink_kl = gaussian_kl(phi[0], shrink[:, None] * 1.0, theta, 1.0)
        return SoftResult(
            np.asarray(kl),
            np.asarray(kl_formula),
            np.asarray(dist2),
            np.asarray(sig),
            np.asarray(emp),
            np.asarray(bound),
            np.asarray(bound[rows, best]),
            best_sigma,
            np.asarray(true),
            np.asarray(point_emp),
            np.asarray(point_true),
            point_kl,
            np.asarray(mcallester_bound(np.asarray(point_emp), point_kl, c.m, c.delta)),
            np.asarray(kl_inverse_bound(np.asarray(point_emp), point_kl, c.m, c.delta)),
            shrink,
            np.asarray(shrink_kl),
            c.d,
            c.m,
            np.array(losses),
        )


# ---------------------------------------------------------------------------------------------
# P5: learning the prior by minimizing the bound


@dataclass(frozen=True)
class PriorConfig:
    n_draws: int = 20  # independent sets of observed tasks
    n_tasks: int = 50
    m: int = 100
    delta: float = 0.1
    steps: int = 300
    lr: float = 0.05
    env: Environment = Environment(mu0=3.0, tau0=0.5)
    learner: Learner = Learner(w=0.5)


PRIOR_QUICK = PriorConfig()
PRIOR_FULL = PriorConfig(n_draws=200, steps=1000)


@dataclass
class PriorResult:
    fixed_bound: np.ndarray  # (draws,) hyperposterior = hyperprior
    learned_bound: np.ndarray  # (draws,) after minimizing the bound
    ascent_bound: np.ndarray  # (draws,) control: the same optimizer on the negated bound
    fixed_transfer: np.ndarray  # exact transfer risks
    learned_transfer: np.ndarray
    nu: np.ndarray  # learned hyperposterior means
    kappa: np.ndarray
    curve: np.ndarray  # (steps,) bound along the optimization, draw 0
    fixed_terms: np.ndarray  # (3,) emp, task, meta at draw 0
    learned_terms: np.ndarray
    mu0: float
    n_tasks: int


def learned_prior(config: PriorConfig, key: jax.Array) -> PriorResult:
    """P5: Adam on ``(nu, log kappa)`` minimizing the Amit–Meir bound, per draw (vmapped)."""
    c, lr = config, config.learner
    with jax.enable_x64(True):

        def bound_of(params, x, y):
            nu, kappa = params["nu"], jnp.exp(params["log_kappa"])
            emp, kl_task, kl_hyper = _terms(x, y, nu, kappa, lr)
            total, task, meta = _meta_bound(amit_meir_bound, emp, kl_task, kl_hyper, c.m, c.delta)
            return total, jnp.stack([emp.mean(), task, meta])

        opt = optax.adam(c.lr)

        def optimize(x, y, sign):
            p0 = {"nu": jnp.asarray(lr.nu0), "log_kappa": jnp.log(jnp.asarray(lr.kappa0))}

            def body(carry, _):
                p, s = carry
                val, g = jax.value_and_grad(lambda q: sign * bound_of(q, x, y)[0])(p)
                upd, s = opt.update(g, s, p)
                return (optax.apply_updates(p, upd), s), sign * val

            (p, _), curve = jax.lax.scan(body, (p0, opt.init(p0)), None, length=c.steps)
            return p, curve

        def one(k):
            x, y, _ = _sample_tasks(k, c.env, c.n_tasks, c.m)
            p0 = {"nu": jnp.asarray(lr.nu0), "log_kappa": jnp.log(jnp.asarray(lr.kappa0))}
            fixed, fixed_terms = bound_of(p0, x, y)
            p, curve = optimize(x, y, 1.0)
            learned, learned_terms = bound_of(p, x, y)
            pa, _ = optimize(x, y, -1.0)
            ascent, _ = bound_of(pa, x, y)
            kappa = jnp.exp(p["log_kappa"])
            er_fixed = transfer_risk(lr.nu0, lr.kappa0, c.env, lr, c.m)
            er_learned = transfer_risk(p["nu"], kappa, c.env, lr, c.m)
            return (
                fixed,
                learned,
                ascent,
                er_fixed,
                er_learned,
                p["nu"],
                kappa,
                curve,
                fixed_terms,
                learned_terms,
            )

        keys = jax.random.split(key, c.n_draws)
        out = [np.asarray(o) for o in jax.jit(jax.vmap(one))(keys)]
    return PriorResult(*out[:7], out[7][0], out[8][0], out[9][0], c.env.mu0, c.n_tasks)
