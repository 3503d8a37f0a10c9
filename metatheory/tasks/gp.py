r"""Gaussian-process regression tasks and their exact posterior predictive (claim B1).

A task is a draw ``f ~ GP(0, k_ℓ)`` with the RBF kernel
:math:`k_\ell(x, x') = s^2 \exp(-\|x - x'\|^2 / (2\ell^2))`, a lengthscale
``ℓ ~ U[ℓ_min, ℓ_max]`` drawn per task, and observations ``y = f(x) + ε``,
``ε ~ N(0, σ_n^2)``. Given a context ``(X_C, y_C)``, the posterior predictive of a noisy
target ``y_*`` at ``x_*`` is Gaussian (Rasmussen & Williams 2006, Eq. 2.23–2.24):

.. math:: \mu_* = K_{*C}(K_{CC} + \sigma_n^2 I)^{-1} y_C,\qquad
          \sigma_*^2 = k(x_*, x_*) - K_{*C}(K_{CC} + \sigma_n^2 I)^{-1}K_{C*} + \sigma_n^2,

computed by a Cholesky factorization (``jnp.linalg.cholesky``/``cho_solve``). The
predictive is exact, so it is the oracle against which neural processes are measured (B2).
Arrays carry a trailing feature axis of size 1, as in :mod:`metatheory.tasks.sinusoid`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve

__all__ = [
    "GPFamily",
    "DEFAULT",
    "rbf_kernel",
    "sample_tasks",
    "posterior_predictive",
    "gaussian_log_density",
    "log_predictive_density",
    "joint_log_predictive_density",
]

_JITTER = 1e-6
"""Added to the kernel diagonal when *sampling* noise-free draws (keeps K positive definite
in float32); the predictive itself uses K + σ_n² I, which needs none."""


@dataclass(frozen=True)
class GPFamily:
    """RBF-kernel GP tasks: lengthscale ``U[lengthscale_range]``, inputs ``U[x_range]``."""

    lengthscale_range: tuple[float, float] = (0.4, 1.0)
    variance: float = 1.0  # signal variance s^2
    noise: float = 0.1  # observation noise standard deviation sigma_n
    x_range: tuple[float, float] = (-2.0, 2.0)


DEFAULT = GPFamily()


# Batched LAPACK calls (a vmapped Cholesky or triangular solve over tasks) split the batch over
# XLA's CPU thread pool; on a 2-core machine this deadlocked intermittently (every thread
# idle on a futex inside the jitted predictive). Under ``vmap`` these three therefore run as a
# loop over the batch (``sequential_vmap``): the same numbers, one LAPACK call per task.


@jax.custom_batching.sequential_vmap
def _cholesky(a):
    return jnp.linalg.cholesky(a)


@jax.custom_batching.sequential_vmap
def _cho_solve(chol, b):
    return cho_solve((chol, True), b)


@jax.custom_batching.sequential_vmap
def _solve_lower(chol, b):
    return jax.scipy.linalg.solve_triangular(chol, b, lower=True)


def rbf_kernel(x1, x2, lengthscale, variance=1.0):
    """``s^2 exp(-|x1 - x2|^2 / (2 ℓ^2))`` for ``x1 (n, d)``, ``x2 (m, d)`` -> ``(n, m)``."""
    d2 = jnp.sum((x1[:, None, :] - x2[None, :, :]) ** 2, axis=-1)
    return variance * jnp.exp(-0.5 * d2 / lengthscale**2)


def sample_tasks(key: jax.Array, n_tasks: int, n_points: int, family: GPFamily = DEFAULT):
    """``(x, y, lengthscale)``: ``x, y`` of shape ``(n_tasks, n_points, 1)``, iid inputs.

    Because the inputs are iid, the first ``n`` points of a task are a uniformly random
    context of size ``n``; callers split context and targets by position.
    """
    kl, kx, kf, ke = jax.random.split(key, 4)
    lo, hi = family.lengthscale_range
    ell = jax.random.uniform(kl, (n_tasks,), minval=lo, maxval=hi)
    x = jax.random.uniform(
        kx, (n_tasks, n_points, 1), minval=family.x_range[0], maxval=family.x_range[1]
    )

    def draw(k, xi, li):
        kxx = rbf_kernel(xi, xi, li, family.variance) + _JITTER * jnp.eye(n_points)
        chol = _cholesky(kxx)
        return chol @ jax.random.normal(k, (n_points, 1), xi.dtype)

    f = jax.vmap(draw)(jax.random.split(kf, n_tasks), x, ell)
    y = f + family.noise * jax.random.normal(ke, f.shape, f.dtype)
    return x, y, ell


def posterior_predictive(x_c, y_c, x_t, lengthscale, *, variance=1.0, noise=0.1, mask=None):
    """Mean and variance ``(n_t,)`` of the noisy targets ``y_*`` given the context.

    ``x_c (n_c, d)``, ``y_c (n_c, 1)``, ``x_t (n_t, d)``. An optional boolean ``mask (n_c,)``
    keeps only the marked context points (masked points get no correlation with anything and
    a zero observation), so one compiled function serves every context size; an empty context
    gives the prior ``(0, s^2 + σ_n^2)``.
    """
    n_c = x_c.shape[0]
    y = y_c[:, 0]
    k_cc = rbf_kernel(x_c, x_c, lengthscale, variance)
    k_tc = rbf_kernel(x_t, x_c, lengthscale, variance)
    if mask is not None:
        m = mask.astype(k_cc.dtype)
        k_cc = k_cc * m[:, None] * m[None, :] + jnp.diag(1.0 - m)
        k_tc = k_tc * m[None, :]
        y = y * m
    if n_c == 0:
        mean = jnp.zeros(x_t.shape[0], x_t.dtype)
        var = jnp.full(x_t.shape[0], variance + noise**2, x_t.dtype)
        return mean, var
    chol = _cholesky(k_cc + noise**2 * jnp.eye(n_c, dtype=k_cc.dtype))
    mean = k_tc @ _cho_solve(chol, y)
    reduction = jnp.sum(k_tc * _cho_solve(chol, k_tc.T).T, axis=1)
    var = variance - reduction + noise**2
    return mean, var


def gaussian_log_density(y, mean, var):
    """Elementwise ``log N(y; mean, var)``."""
    return -0.5 * (jnp.log(2 * jnp.pi * var) + (y - mean) ** 2 / var)


def log_predictive_density(x_c, y_c, x_t, y_t, lengthscale, *, variance=1.0, noise=0.1, mask=None):
    """Pointwise ``log p(y_t | x_t, C)`` under the exact GP predictive, shape ``(n_t,)``."""
    mean, var = posterior_predictive(
        x_c, y_c, x_t, lengthscale, variance=variance, noise=noise, mask=mask
    )
    return gaussian_log_density(y_t[:, 0], mean, var)


def joint_log_predictive_density(x_c, y_c, x_t, y_t, lengthscale, *, variance=1.0, noise=0.1):
    r"""``log p(y_t | x_t, C)`` of the targets jointly (full predictive covariance
    :math:`K_{**} - K_{*C}(K_{CC}+\sigma_n^2 I)^{-1}K_{C*} + \sigma_n^2 I`), a scalar."""
    n_t = x_t.shape[0]
    k_tt = rbf_kernel(x_t, x_t, lengthscale, variance) + noise**2 * jnp.eye(n_t)
    if x_c.shape[0]:
        k_tc = rbf_kernel(x_t, x_c, lengthscale, variance)
        f = _cholesky(
            rbf_kernel(x_c, x_c, lengthscale, variance) + noise**2 * jnp.eye(x_c.shape[0])
        )
        mean = k_tc @ _cho_solve(f, y_c[:, 0])
        cov = k_tt - k_tc @ _cho_solve(f, k_tc.T)
    else:
        mean, cov = jnp.zeros(n_t, x_t.dtype), k_tt
    chol = _cholesky(cov)
    a = _solve_lower(chol, y_t[:, 0] - mean)
    return -0.5 * jnp.sum(a**2) - jnp.sum(jnp.log(jnp.diag(chol))) - 0.5 * n_t * jnp.log(2 * jnp.pi)
