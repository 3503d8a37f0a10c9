"""Linear-regression tasks, the exact case of the MAML-family identities.

A task is a design ``x`` of shape ``(m, d)`` and targets ``y`` of shape ``(m,)``; the
loss of parameters ``theta`` is ``L(theta) = ||x theta - y||^2 / (2m)``, a quadratic with
constant Hessian ``H = x^T x / m``, gradient ``H theta - x^T y / m`` and optimum
``theta* = H^+ x^T y / m``. The closed forms here are plain numpy (float64) so that they are
an independent reference for the JAX learners.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "loss",
    "hessian",
    "gradient",
    "optimum",
    "gd_iterates",
    "sample_tasks",
]


def loss(theta: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """``||x theta - y||^2 / (2m)``; the ``loss_fn(params, x, y)`` of the learners."""
    r = x @ theta - y
    return 0.5 * jnp.mean(r**2)


def hessian(x) -> np.ndarray:
    """``H = x^T x / m`` (numpy, float64)."""
    x = np.asarray(x, dtype=np.float64)
    return x.T @ x / x.shape[0]


def gradient(theta, x, y) -> np.ndarray:
    """``H theta - x^T y / m`` (numpy, float64)."""
    x, y, theta = (np.asarray(a, dtype=np.float64) for a in (x, y, theta))
    return hessian(x) @ theta - x.T @ y / x.shape[0]


def optimum(x, y) -> np.ndarray:
    """Minimum-norm minimizer ``H^+ x^T y / m``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.linalg.lstsq(x, y, rcond=None)[0]


def gd_iterates(theta0, x, y, *, alpha: float, n_steps: int) -> np.ndarray:
    """``theta_0 .. theta_N`` of gradient descent with step ``alpha``, shape ``(N+1, d)``."""
    th = [np.asarray(theta0, dtype=np.float64)]
    for _ in range(n_steps):
        th.append(th[-1] - alpha * gradient(th[-1], x, y))
    return np.stack(th)


def sample_tasks(
    key: jax.Array, n_tasks: int, m: int, d: int, *, noise: float = 0.1, theta_scale: float = 1.0
):
    """``n_tasks`` regression tasks: ``x ~ N(0, I_d)``, ``theta_i ~ N(0, theta_scale^2 I)``,
    ``y = x theta_i + noise * eps``. Returns ``(x, y, theta)`` with leading task axis."""
    if n_tasks < 1 or m < 1 or d < 1:
        raise ValueError(f"n_tasks, m and d must be >= 1, got {n_tasks}, {m}, {d}")
    kx, kt, ke = jax.random.split(key, 3)
    x = jax.random.normal(kx, (n_tasks, m, d))
    theta = theta_scale * jax.random.normal(kt, (n_tasks, d))
    y = jnp.einsum("tmd,td->tm", x, theta) + noise * jax.random.normal(ke, (n_tasks, m))
    return x, y, theta
