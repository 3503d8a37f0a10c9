"""P3: coverage of the Amit–Meir bound (Amit & Meir 2018, Thm 2) on the threshold environment,
and of its two union-bound events separately, with exact transfer and task risks."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.bounds.pac_bayes import amit_meir_bound, pentina_lampert_bound
from metatheory.experiments import experiment
from metatheory.experiments.pac_bayes._common import (
    ENV,
    LEARNER,
    Environment,
    Learner,
    meta_bound,
    threshold_terms,
)
from metatheory.tasks import threshold

__all__ = [
    "PacBayesCoverageConfig",
    "PAC_BAYES_COVERAGE_PRESETS",
    "PacBayesCoverageResult",
    "coverage",
]


@dataclass(frozen=True)
class PacBayesCoverageConfig:
    n_draws: int = 1000
    n_tasks: int = 100
    m: int = 100
    delta: float = 0.1
    batch: int = 100  # draws per vmapped batch (memory)
    n_mc: int = 20000  # Monte Carlo tasks for the closed-form transfer risk check
    env: Environment = ENV
    learner: Learner = LEARNER


PAC_BAYES_COVERAGE_PRESETS = {
    "quick": PacBayesCoverageConfig(n_draws=400, n_tasks=50),
    "full": PacBayesCoverageConfig(n_draws=4000, n_tasks=200, m=200),
}


@dataclass(frozen=True, kw_only=True)
class PacBayesCoverageResult:
    bound: np.ndarray  # (draws,) Amit–Meir total
    pl_bound: np.ndarray  # (draws,) Pentina–Lampert total
    transfer: np.ndarray  # (draws,) exact transfer risk of the learned hyperposterior
    emp: np.ndarray  # (draws,) average empirical risk
    task_risk: np.ndarray  # (draws,) average exact risk on the observed tasks
    task: np.ndarray  # (draws,) average task term
    meta: np.ndarray  # (draws,) meta term
    kl_hyper: np.ndarray
    kl_task: np.ndarray  # task-averaged
    task_events: np.ndarray  # (draws,) all n task-level events hold (er_i <= emp_i + task_i)
    task_used: np.ndarray  # (draws,) max_i (er_i - emp_i) / task_i: radius fraction used
    env_event: np.ndarray  # (draws,) er(Q) <= mean_i er_i + meta
    env_used: np.ndarray  # (draws,) (er(Q) - mean_i er_i) / meta
    delta: float
    n_tasks: int
    m: int
    mc_exact: float  # closed-form transfer risk at draw 0 ...
    mc: float  # ... its Monte Carlo estimate ...
    mc_se: float  # ... and standard error


@functools.lru_cache(maxsize=4)
def _coverage_program(config: PacBayesCoverageConfig):
    """The jitted P3 program for ``config`` (compiled once per process and per mutant)."""
    c, lr = config, config.learner

    def one(k):
        x, y, a = threshold.sample_tasks(k, c.env, c.n_tasks, c.m)
        nu = x.mean()  # hyperposterior mean learned from the observed tasks
        emp, kl_task, kl_hyper, centre, sd = threshold_terms(x, y, nu, lr.kappa, lr)
        b = amit_meir_bound(emp, c.n_tasks, c.m, kl_hyper, kl_task, c.delta)
        task_i, meta = b.task_term, b.meta_term.mean()
        total = emp.mean() + task_i.mean() + meta
        pl, _, _ = meta_bound(pentina_lampert_bound, emp, kl_task, kl_hyper, c.m, c.delta)
        er = threshold.transfer_risk(nu, lr.kappa, c.env, lr, c.m)
        er_i = threshold.task_risk(a, centre, sd, c.env)
        return {
            "bound": total,
            "pl_bound": pl,
            "transfer": er,
            "emp": emp.mean(),
            "task_risk": er_i.mean(),
            "task": task_i.mean(),
            "meta": meta,
            "kl_hyper": kl_hyper,
            "kl_task": kl_task.mean(),
            "task_events": jnp.all(er_i <= emp + task_i),
            "task_used": jnp.max((er_i - emp) / task_i),
            "env_event": er <= er_i.mean() + meta,
            "env_used": (er - er_i.mean()) / meta,
            "nu": nu,
        }

    def program(key):
        k_draw, k_mc = jax.random.split(key)
        keys = jax.random.split(k_draw, c.n_draws)
        out = jax.lax.map(one, keys, batch_size=c.batch)
        nu0 = out.pop("nu")[0]
        out["mc_exact"] = threshold.transfer_risk(nu0, lr.kappa, c.env, lr, c.m)
        out["mc"], out["mc_se"] = threshold.transfer_risk_mc(
            k_mc, nu0, lr.kappa, c.env, lr, c.m, c.n_mc
        )
        return out

    return jax.jit(program)


@experiment
def coverage(config: PacBayesCoverageConfig, key: jax.Array) -> PacBayesCoverageResult:
    """P3: over ``n_draws`` draws of ``n_tasks`` observed tasks, the Amit–Meir bound of the
    hyperposterior ``N(mean x, kappa^2)`` against its exact transfer risk; and the two events
    of the theorem's union bound, each task's (level delta/(2n)) and the environment's
    (level delta/2), with the exact risks on the observed tasks."""
    with jax.enable_x64(True):
        out = {k: np.asarray(v) for k, v in _coverage_program(config)(key).items()}
    mc_exact, mc, mc_se = (float(out.pop(k)) for k in ("mc_exact", "mc", "mc_se"))
    c = config
    return PacBayesCoverageResult(
        **out,
        delta=c.delta,
        n_tasks=c.n_tasks,
        m=c.m,
        mc_exact=mc_exact,
        mc=mc,
        mc_se=mc_se,
    )
