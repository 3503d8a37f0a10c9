"""P5: the hyperposterior learned by minimizing the Amit–Meir bound against a fixed prior tuned
by the same bound on held-out environments of the family (Amit & Meir 2018, Sec. 4; Pentina &
Lampert 2014), on the threshold environment."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metatheory import stats
from metatheory.bounds.pac_bayes import amit_meir_bound
from metatheory.experiments import experiment
from metatheory.experiments.pac_bayes._common import (
    Environment,
    Learner,
    meta_bound,
    threshold_terms,
)
from metatheory.tasks import threshold

__all__ = [
    "PRIOR_LEVEL",
    "LearnedPriorConfig",
    "LEARNED_PRIOR_PRESETS",
    "LearnedPriorResult",
    "learned_prior",
]


PRIOR_LEVEL = 5e-4
"""Tail probability of the paired t-intervals of the differences over draws, each used one-sided
(2.5e-4 per side; claims.CLAIM_LEVEL)."""


@dataclass(frozen=True)
class LearnedPriorConfig:
    n_draws: int = 60  # independent target environments, each with its own observed tasks
    n_tasks: int = 50  # observed tasks of the target environment (both methods)
    m: int = 100
    delta: float = 0.1
    env_spread: float = 3.0  # environments: mu0 ~ N(0, env_spread^2)
    n_heldout: int = 10  # held-out environments on which the fixed prior is tuned
    steps: int = 200
    n_mc: int = 20000  # Monte Carlo tasks for the closed-form transfer risk check
    lr: float = 0.05
    grid_nu: float = 6.0  # the fixed prior's mean is tuned on linspace(-6, 6, grid_size[0])
    grid_kappa: tuple[float, float] = (0.05, 2.0)  # its scale on geomspace(..., grid_size[1])
    grid_size: tuple[int, int] = (49, 8)
    env: Environment = Environment(tau0=0.5)
    learner: Learner = Learner(w=0.5)


LEARNED_PRIOR_PRESETS = {
    "quick": LearnedPriorConfig(),
    "full": LearnedPriorConfig(n_draws=200, n_heldout=40, steps=1000),
}


@dataclass(frozen=True, kw_only=True)
class LearnedPriorResult:
    learned_bound: np.ndarray  # (draws,) Amit–Meir bound of the learned hyperposterior
    tuned_bound: np.ndarray  # (draws,) Amit–Meir bound of the tuned fixed prior (KL_hyper = 0)
    learned_transfer: np.ndarray  # (draws,) exact transfer risks
    tuned_transfer: np.ndarray
    bound_diff: stats.Interval  # learned - tuned bound, t-interval over draws (tail PRIOR_LEVEL)
    risk_diff: stats.Interval  # learned - tuned transfer risk
    mu0: np.ndarray  # (draws,) target environment means
    nu: np.ndarray  # learned hyperposterior means
    kappa: np.ndarray
    nu_tuned: float  # the tuned fixed prior (one per key: tuned on held-out environments)
    kappa_tuned: float
    curve: np.ndarray  # (steps,) bound along the optimization, draw 0
    learned_terms: np.ndarray  # (draws, 3) emp, task, meta
    tuned_terms: np.ndarray  # (draws, 3)
    n_tasks: int
    mc_exact: float  # closed-form transfer risk of the learned hyperposterior, draw 0 ...
    mc: float  # ... its Monte Carlo estimate on the target environment ...
    mc_se: float  # ... and standard error


@functools.lru_cache(maxsize=4)
def _prior_program(config: LearnedPriorConfig):
    """The jitted P5 program for ``config`` (compiled once per process and per mutant:
    :func:`jax.clear_caches` drops the trace when a mutant is patched in or out)."""
    c, lr = config, config.learner

    def bound_of(params, x, y, nu0, kappa0):
        nu, kappa = params["nu"], jnp.exp(params["log_kappa"])
        emp, kl_task, kl_hyper, _, _ = threshold_terms(x, y, nu, kappa, lr, nu0, kappa0)
        total, task, meta = meta_bound(amit_meir_bound, emp, kl_task, kl_hyper, c.m, c.delta)
        return total, jnp.stack([emp.mean(), task, meta])

    def fixed_bound(params, x, y):
        # a data-independent prior used as hyperprior and hyperposterior: KL_hyper = 0
        return bound_of(params, x, y, params["nu"], jnp.exp(params["log_kappa"]))

    opt = optax.adam(c.lr)
    p0 = {"nu": jnp.asarray(lr.nu0), "log_kappa": jnp.log(jnp.asarray(lr.kappa0))}

    def minimize(objective):
        def body(carry, _):
            p, s = carry
            val, g = jax.value_and_grad(objective)(p)
            upd, s = opt.update(g, s, p)
            return (optax.apply_updates(p, upd), s), val

        (p, _), curve = jax.lax.scan(body, (p0, opt.init(p0)), None, length=c.steps)
        return p, curve

    def program(key):
        # the fixed prior: tuned once on held-out environments of the family (grid search of
        # the average held-out bound), then kept
        k_held, k_draws = jax.random.split(key)
        kh = jax.random.split(k_held, c.n_heldout)
        mu_h = c.env_spread * jax.vmap(lambda kk: jax.random.normal(jax.random.fold_in(kk, 1)))(kh)
        xh, yh, _ = jax.vmap(lambda kk, mu: threshold.sample_tasks(kk, c.env, c.n_tasks, c.m, mu))(
            kh, mu_h
        )
        nus = jnp.linspace(-c.grid_nu, c.grid_nu, c.grid_size[0])
        log_kappas = jnp.log(jnp.geomspace(c.grid_kappa[0], c.grid_kappa[1], c.grid_size[1]))
        gn, gk = (a.ravel() for a in jnp.meshgrid(nus, log_kappas, indexing="ij"))

        def held_obj(nu, lk):
            q = {"nu": nu, "log_kappa": lk}
            return jax.vmap(lambda xx, yy: fixed_bound(q, xx, yy)[0])(xh, yh).mean()

        best = jnp.argmin(jax.lax.map(lambda a: held_obj(*a), (gn, gk), batch_size=64))
        pt = {"nu": gn[best], "log_kappa": gk[best]}
        kappa_t = jnp.exp(pt["log_kappa"])

        def one(k):
            k_env, k_tasks = jax.random.split(k)
            mu0 = c.env_spread * jax.random.normal(k_env)
            x, y, _ = threshold.sample_tasks(k_tasks, c.env, c.n_tasks, c.m, mu0)
            p, curve = minimize(lambda q: bound_of(q, x, y, lr.nu0, lr.kappa0)[0])
            learned, learned_terms = bound_of(p, x, y, lr.nu0, lr.kappa0)
            tuned, tuned_terms = fixed_bound(pt, x, y)
            kappa = jnp.exp(p["log_kappa"])
            er_l = threshold.transfer_risk(p["nu"], kappa, c.env, lr, c.m, mu0)
            er_t = threshold.transfer_risk(pt["nu"], kappa_t, c.env, lr, c.m, mu0)
            return {
                "learned_bound": learned,
                "tuned_bound": tuned,
                "learned_transfer": er_l,
                "tuned_transfer": er_t,
                "mu0": mu0,
                "nu": p["nu"],
                "kappa": kappa,
                "curve": curve,
                "learned_terms": learned_terms,
                "tuned_terms": tuned_terms,
            }

        keys = jax.random.split(k_draws, c.n_draws)
        out = jax.vmap(one)(keys)
        out["nu_tuned"], out["kappa_tuned"] = pt["nu"], kappa_t
        mc, se = threshold.transfer_risk_mc(
            jax.random.fold_in(key, 99),
            out["nu"][0],
            out["kappa"][0],
            c.env,
            lr,
            c.m,
            c.n_mc,
            out["mu0"][0],
        )
        out["mc"], out["mc_se"] = mc, se
        out["mc_exact"] = threshold.transfer_risk(
            out["nu"][0], out["kappa"][0], c.env, lr, c.m, out["mu0"][0]
        )
        return out

    return jax.jit(program)


@experiment
def learned_prior(config: LearnedPriorConfig, key: jax.Array) -> LearnedPriorResult:
    """P5: per draw, a target environment ``mu0 ~ N(0, spread^2)`` and ``n_tasks`` observed
    tasks. *Learned*: Adam on ``(nu, log kappa)`` minimizing the Amit–Meir bound on the
    observed tasks, hyperprior ``N(nu0, kappa0^2)``. *Tuned fixed prior*: a grid search
    minimizes the average Amit–Meir bound of a data-independent prior ``N(nu, kappa^2)``
    (hyperposterior = hyperprior, KL_hyper = 0) over ``n_heldout`` held-out environments of
    the same family, then it is used unchanged on the target. Both are scored on the same
    observed tasks (bound) and by the exact transfer risk."""
    with jax.enable_x64(True):
        out = {k: np.asarray(v) for k, v in _prior_program(config)(key).items()}
    for k in ("nu_tuned", "kappa_tuned", "mc", "mc_se", "mc_exact"):
        out[k] = float(out[k])
    c = config
    out["curve"] = out["curve"][0]
    diff_b = out["learned_bound"] - out["tuned_bound"]
    diff_r = out["learned_transfer"] - out["tuned_transfer"]
    ok = np.all(np.isfinite(diff_b)) and np.all(np.isfinite(diff_r))
    nan_ci = stats.Interval(float("nan"), float("nan"), float("nan"), PRIOR_LEVEL, c.n_draws)
    return LearnedPriorResult(
        **out,
        bound_diff=stats.mean_ci(diff_b, level=PRIOR_LEVEL) if ok else nan_ci,
        risk_diff=stats.mean_ci(diff_r, level=PRIOR_LEVEL) if ok else nan_ci,
        n_tasks=c.n_tasks,
    )
