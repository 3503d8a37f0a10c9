r"""Threshold classifiers on Gaussian class-conditionals: a task environment whose risks are
closed forms in the normal CDF :math:`\Phi` (the PAC-Bayes claims P3 and P5).

A task is a centre :math:`a \sim N(\mu_0, \tau_0^2)`; its examples are labels
:math:`y \sim \mathrm{Bernoulli}(1/2)` and :math:`x \mid y \sim N(a + (2y-1)\Delta, s^2)`.
Hypotheses are thresholds :math:`h_t(x) = 1[x > t]` under the 0-1 loss, with true risk
:math:`er_a(t) = \tfrac12[\Phi((a-\Delta-t)/s) + \Phi((t-a-\Delta)/s)]`; for a Gaussian
:math:`t \sim N(c, v)`, :math:`E\,\Phi((\mu + bZ)/\sigma) = \Phi(\mu/\sqrt{\sigma^2+b^2})` gives
:func:`task_risk`.

The meta-learner: priors :math:`P_\mu = N(\mu, \sigma_P^2)` over :math:`t`, a hyperposterior
:math:`\mathcal Q = N(\nu, \kappa^2)` over :math:`\mu`, and the base learner
:math:`Q(S, P_\mu) = N(w\mu + (1-w)\bar x_S, \sigma_Q^2)`. On a new task, given
:math:`K \sim \mathrm{Bin}(m, 1/2)` positives, :math:`c - a` is Gaussian with mean
:math:`w(\nu-\mu_0) + (1-w)\Delta(2K/m - 1)` and variance
:math:`w^2\tau_0^2 + (1-w)^2 s^2/m`, so the transfer risk :math:`er(\mathcal Q)` is a sum over
the ``m + 1`` values of K (:func:`transfer_risk`); :func:`transfer_risk_mc` is its Monte Carlo
counterpart.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln
from jax.scipy.stats import norm

__all__ = [
    "Environment",
    "Learner",
    "sample_tasks",
    "task_risk",
    "transfer_risk",
    "transfer_risk_mc",
]


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


def sample_tasks(key, env: Environment, n: int, m: int, mu0=None):
    """``x, y`` of shape ``(n, m)`` and the task centres ``a`` of shape ``(n,)``."""
    ka, ky, kx = jax.random.split(key, 3)
    mu0 = env.mu0 if mu0 is None else mu0
    a = mu0 + env.tau0 * jax.random.normal(ka, (n,))
    y = jax.random.bernoulli(ky, 0.5, (n, m)).astype(a.dtype)
    x = a[:, None] + (2 * y - 1) * env.gap + env.noise * jax.random.normal(kx, (n, m))
    return x, y, a


def task_risk(a, centre, sd, env: Environment):
    """Exact risk on the task with centre ``a`` of thresholds ``t ~ N(centre, sd^2)``."""
    s = jnp.sqrt(env.noise**2 + sd**2)
    return 0.5 * (norm.cdf((a - env.gap - centre) / s) + norm.cdf((centre - a - env.gap) / s))


def transfer_risk(nu, kappa, env: Environment, lr: Learner, m: int, mu0=None):
    r"""Exact :math:`er(\mathcal Q)` of the threshold learner on a new task of ``m`` samples."""
    mu0 = env.mu0 if mu0 is None else mu0
    k = jnp.arange(m + 1)
    log_pmf = gammaln(m + 1.0) - gammaln(k + 1.0) - gammaln(m - k + 1.0) - m * jnp.log(2.0)
    mean = lr.w * (nu - mu0) + (1 - lr.w) * env.gap * (2 * k / m - 1)
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


def transfer_risk_mc(key, nu, kappa, env: Environment, lr: Learner, m: int, n_tasks: int, mu0=None):
    """Monte Carlo of :func:`transfer_risk`: ``(mean, standard error)`` over ``n_tasks`` new
    tasks, each with its own draw of the prior mean and of the threshold."""
    k1, k2, k3 = jax.random.split(key, 3)
    x, y, a = sample_tasks(k1, env, n_tasks, m, mu0)
    mu = nu + kappa * jax.random.normal(k2, (n_tasks,))
    t = lr.w * mu + (1 - lr.w) * x.mean(axis=1) + lr.sigma_q * jax.random.normal(k3, (n_tasks,))
    s = env.noise
    risk = 0.5 * (norm.cdf((a - env.gap - t) / s) + norm.cdf((t - a - env.gap) / s))
    return risk.mean(), risk.std() / jnp.sqrt(n_tasks)
