r"""The PAC-optimal hyper-posterior (PACOH) in conjugate Bayesian linear regression (claim P6).

Rothfuss, Fortuin, Josifoski & Krause (2021, ICML) minimise a meta-level PAC-Bayes bound over
hyper-posteriors :math:`\mathcal Q`; in the form restated by Ding et al. (2021, NeurIPS,
Theorem 2) its data-dependent part is

.. math:: \hat R(\mathcal Q) + \Big(\frac1\lambda + \frac1{n\beta}\Big) KL(\mathcal Q\|\mathcal P)
          + \frac1{n\beta}\sum_i E_{P\sim\mathcal Q} KL(Q_i\|P),

with the Gibbs base learner :math:`Q_i(h) \propto P(h)\,e^{-\beta\hat L(h, S_i)}`. Its minimiser
(derived here, Donsker–Varadhan twice) is the Gibbs hyper-posterior

.. math:: \mathcal Q^*(P) \propto \mathcal P(P)\,
          \exp\Big(\kappa \sum_i \ln Z_\beta(S_i, P)\Big), \qquad
          \kappa = \frac{\lambda}{n\beta + \lambda},

and the minimum equals :math:`-(1/\lambda + 1/(n\beta))\ln E_{\mathcal P}
\exp(\kappa\sum_i\ln Z_\beta(S_i, P))`.

**Linear regression.** Task :math:`i` has inputs :math:`X_i \in \mathbb R^{m\times d}` and
outputs :math:`y_i`; the loss is the Gaussian negative log-likelihood with known noise
:math:`\sigma`, :math:`\hat L(w, S) = \frac1m\sum_j[(y_j - x_j^\top w)^2/(2\sigma^2) +
\tfrac12\ln 2\pi\sigma^2]`; priors :math:`P_\mu = N(\mu, \sigma_P^2 I)`; hyper-prior
:math:`\mathcal P = N(\mu_0, s^2 I)` over :math:`\mu`. With :math:`t = \beta/m` (:math:`t = 1`:
the Bayesian posterior and marginal likelihood), :math:`\ln Z_\beta(S_i, \mu)` is a quadratic
in :math:`\mu` with Hessian :math:`-X_i^\top C_i^{-1} X_i` and linear coefficient
:math:`X_i^\top C_i^{-1} y_i`, :math:`C_i = (\sigma^2/t) I + \sigma_P^2 X_i X_i^\top`, so

.. math:: \mathcal Q^* = N(\nu, \Gamma), \quad \Gamma^{-1} = \frac{I}{s^2}
          + \kappa\sum_i K_i(I + \sigma_P^2 K_i)^{-1}, \quad
          \nu = \Gamma\Big(\frac{\mu_0}{s^2} + \kappa\sum_i (I + \sigma_P^2 K_i)^{-1}
          \frac{t}{\sigma^2} X_i^\top y_i\Big),

:math:`K_i = (t/\sigma^2) X_i^\top X_i` (Woodbury: :math:`X^\top C^{-1} X = K(I+\sigma_P^2
K)^{-1}`). Derivation: :mod:`metatheory.symbolic.pacoh`.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from metatheory.bounds._validate import Args, check, is_traced

__all__ = ["pacoh_exponent", "pacoh_hyper_posterior", "pacoh_bound"]


def pacoh_exponent(n_tasks, beta, lam):
    r""":math:`\kappa = \lambda/(n\beta + \lambda)`, the weight of the tasks' log-partition
    functions in the PAC-optimal hyper-posterior.

    Args:
        n_tasks: number of observed tasks n, in [1, inf).
        beta: inverse temperature of the Gibbs base learner, in (0, inf).
        lam: inverse temperature of the meta level, in (0, inf).
    """
    v = Args()
    pos = dict(low=0.0, high=math.inf, low_open=True, high_open=True)
    n = v("n_tasks", n_tasks, low=1.0, high=math.inf, high_open=True)
    b, lm = v("beta", beta, **pos), v("lam", lam, **pos)
    n, b, lm = v.floats(n, b, lm)
    return v.out(lm / (n * b + lm))


def _matrix(name, x, ndim):
    if is_traced(x):
        if x.ndim != ndim:
            raise ValueError(f"{name} must have {ndim} dimensions, got shape {x.shape}")
        return x
    a = check(name, x, low=-math.inf, high=math.inf, low_open=True, high_open=True)
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    return a


def pacoh_hyper_posterior(X, y, *, mu0, s, sigma_p, noise, beta, lam):
    r"""Mean and covariance of the PAC-optimal hyper-posterior :math:`\mathcal Q^* = N(\nu,
    \Gamma)` over the prior mean, in Bayesian linear regression (module docstring).

    Args:
        X: inputs, shape (n, m, d): n tasks of m samples in d dimensions, finite.
        y: outputs, shape (n, m), finite.
        mu0: hyper-prior mean, a scalar or shape (d,), finite.
        s: hyper-prior standard deviation, in (0, inf).
        sigma_p: prior standard deviation sigma_P over the weights, in (0, inf).
        noise: observation noise sigma, in (0, inf).
        beta: inverse temperature of the Gibbs base learner (beta = m: Bayes), in (0, inf).
        lam: inverse temperature of the meta level, in (0, inf).

    Returns ``(mean, cov)`` of shapes (d,) and (d, d).
    """
    X = _matrix("X", X, 3)
    y = _matrix("y", y, 2)
    if tuple(y.shape) != tuple(X.shape[:2]):
        raise ValueError(f"y must have shape {tuple(X.shape[:2])} (n, m), got {tuple(y.shape)}")
    n, m, d = X.shape
    v = Args()
    pos = dict(low=0.0, high=math.inf, low_open=True, high_open=True)
    mu0 = v("mu0", mu0, low=-math.inf, high=math.inf, low_open=True, high_open=True)
    s, sp, sig = v("s", s, **pos), v("sigma_p", sigma_p, **pos), v("noise", noise, **pos)
    b, lm = v("beta", beta, **pos), v("lam", lam, **pos)
    if np.ndim(mu0) not in (0, 1) or (np.ndim(mu0) == 1 and np.shape(mu0)[0] != d):
        raise ValueError(f"mu0 must be a scalar or have shape ({d},), got {np.shape(mu0)}")
    if is_traced(X) or is_traced(y):
        v.jax = True
        v.ok.append(jnp.all(jnp.isfinite(X)) & jnp.all(jnp.isfinite(y)))
    xp = v.xp
    X, y, mu0, s, sp, sig, b, lm = v.floats(X, y, mu0, s, sp, sig, b, lm)
    kappa = pacoh_exponent(n, b, lm)
    t = b / m
    eye = xp.eye(d)
    K = (t / sig**2) * xp.einsum("imd,ime->ide", X, X)
    inv = xp.linalg.inv(eye + sp**2 * K)  # (I + sigma_P^2 K_i)^{-1}, symmetric positive
    prec = eye / s**2 + kappa * xp.sum(K @ inv, axis=0)
    lin = mu0 * xp.ones(d) / s**2 + kappa * xp.einsum(
        "ide,ie->d", inv, (t / sig**2) * xp.einsum("imd,im->id", X, y)
    )
    cov = xp.linalg.inv(prec)
    cov = 0.5 * (cov + cov.T)
    return v.out(cov @ lin), v.out(cov)


def pacoh_bound(emp_risk, n_tasks, beta, lam, kl_hyper, kl_task):
    r"""Data-dependent part of the PACOH bound (Rothfuss et al. 2021, as restated by Ding et
    al. 2021, Theorem 2): :math:`\hat R + (1/\lambda + 1/(n\beta))\,KL(\mathcal Q\|\mathcal P)
    + \overline{KL}_{task}/\beta`. The confidence term :math:`C(\delta, \lambda, \beta, n, m)`
    is not included (its constants were not read in the source).

    Args:
        emp_risk: task-averaged empirical risk E_Q E_Q_i L(h, S_i), in (-inf, inf).
        n_tasks: number of observed tasks n, in [1, inf).
        beta: inverse temperature of the Gibbs base learner, in (0, inf).
        lam: inverse temperature of the meta level, in (0, inf).
        kl_hyper: KL(hyper-posterior || hyper-prior), in [0, inf).
        kl_task: task average of E_{P~Q} KL(Q_i || P), in [0, inf).
    """
    v = Args()
    pos = dict(low=0.0, high=math.inf, low_open=True, high_open=True)
    args = (
        v("emp_risk", emp_risk, low=-math.inf, high=math.inf, low_open=True, high_open=True),
        v("n_tasks", n_tasks, low=1.0, high=math.inf, high_open=True),
        v("beta", beta, **pos),
        v("lam", lam, **pos),
        v("kl_hyper", kl_hyper, low=0.0, high=math.inf, high_open=True),
        v("kl_task", kl_task, low=0.0, high=math.inf, high_open=True),
    )
    emp, n, b, lm, kh, kt = v.floats(*args)
    return v.out(emp + (1.0 / lm + 1.0 / (n * b)) * kh + kt / b)
