r"""The shared problems of the Hessian-free family (claim C7): per-sample losses of
:math:`s = x^\top w - y` with unit features :math:`\|x\| = 1` and known constants.

- ``abs_cubic_loss``: :math:`\mathrm{mean}_j\,(\rho/6)|s_j|^3`, Hessian
  :math:`\mathrm{mean}_j\,\rho|s_j|x_jx_j^\top`, :math:`\rho`-Lipschitz (``|s|`` is
  1-Lipschitz and :math:`\|x_jx_j^\top\| = 1`); the central difference attains
  :math:`\rho\delta\|v\|^2/2` on one sample at :math:`s = 0` with :math:`v\parallel x`.
- ``quartic_loss``: :math:`\mathrm{mean}_j\,(\rho_3/24)s_j^4`, third derivative
  :math:`\mathrm{mean}_j\,\rho_3 s_j\,x_j^{\otimes 3}`, :math:`\rho_3`-Lipschitz; one sample
  with :math:`v\parallel x` attains :math:`\rho_3\delta^2\|v\|^3/6` at every ``w``.
- ``smooth_loss``: :math:`\mathrm{mean}_j\,(1-\cos s_j)`, every derivative bounded: the
  HF-MAML error is :math:`O(\delta^2)` with a non-vanishing next order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "abs_cubic_loss",
    "quartic_loss",
    "smooth_loss",
    "random_tasks",
    "attaining_tasks",
]


def abs_cubic_loss(w, x, y, *, rho=1.0):
    r""":math:`\mathrm{mean}_j(\rho/6)|x_j^\top w - y_j|^3`."""
    s = x @ w - y
    return rho / 6.0 * jnp.mean(s * s * jnp.abs(s))


def quartic_loss(w, x, y, *, rho3=1.0):
    r""":math:`\mathrm{mean}_j(\rho_3/24)(x_j^\top w - y_j)^4`."""
    s = x @ w - y
    return rho3 / 24.0 * jnp.mean(s**4)


def smooth_loss(w, x, y):
    r""":math:`\mathrm{mean}_j(1-\cos(x_j^\top w - y_j))`."""
    return jnp.mean(1.0 - jnp.cos(x @ w - y))


def _unit(x):
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def random_tasks(key, n: int, d: int, m: int):
    """``n`` tasks ``(w, support, query)`` with a leading task axis: ``w ~ N(0, I_d)``;
    ``m`` unit features and ``y ~ N(0, 1)`` for each of support and query (one normal draw,
    carved)."""
    z = jax.random.normal(key, (n, d + 2 * m * (d + 1)), jnp.float64)
    w, rest = z[:, :d], z[:, d:].reshape(n, 2, m, d + 1)
    support = (_unit(rest[:, 0, :, :d]), rest[:, 0, :, d])
    query = (_unit(rest[:, 1, :, :d]), rest[:, 1, :, d])
    return w, support, query


def attaining_tasks(key, n: int, d: int, m: int, *, support_residual: bool):
    """``n`` tasks attaining the bounds: every sample of a task (``m`` copies, so shapes
    match :func:`random_tasks`) has the same unit feature ``a``, so ``v`` is parallel to ``a``.
    Without ``support_residual`` the support residual is zero at ``w`` (the abs-cubic loss's
    kink, where its bound is attained); with it, a residual of the query's sign (the quartic
    loss attains its bound anywhere, and the one-sided difference's first-order error shows).
    ``w`` is uniform on ``[-2, 2]^d``, ``a`` the normalized uniform vector on ``[-1, 1]^d``."""
    z = jax.random.uniform(key, (n, 2 * d + 2), jnp.float64)  # one draw, carved
    w, a = 4.0 * z[:, :d] - 2.0, _unit(2.0 * z[:, d : 2 * d] - 1.0)
    b = 0.5 + z[:, 2 * d]  # query residual, away from 0
    r = b * (0.1 + 0.4 * z[:, 2 * d + 1]) if support_residual else 0.0 * b
    x = jnp.repeat(a[:, None, :], m, axis=1)
    s = jnp.sum(a * w, axis=1)
    ones = jnp.ones((1, m), jnp.float64)
    return w, (x, (s - r)[:, None] * ones), (x, (s - b)[:, None] * ones)
