r"""Circular-regression tasks: noisy angles under the loss :math:`1-\cos` (claims C1–C5).

Task ``i`` has angles :math:`\theta_i\in\mathbb R^d`. A sample is a one-hot feature
:math:`x = e_k` (``k`` uniform) and a noisy angle :math:`y = \theta_{ik} + s\varepsilon`,
:math:`\varepsilon\sim N(0,1)`; its loss is :math:`\lambda(1-\cos(x^\top w - y))` (the von
Mises negative log-likelihood up to constants). The population (task) loss is

.. math:: f_i(w) = \frac{\lambda}{d}\sum_k \bigl(1 - \kappa\cos(w_k - \theta_{ik})\bigr),
          \qquad \kappa = e^{-s^2/2},

non-convex, with Hessian :math:`(\lambda\kappa/d)\,\mathrm{diag}\cos(w_k-\theta_{ik})`. With
:math:`\lambda = Ld/\kappa` its constants (derived in :func:`metatheory.symbolic.fmo.
derive_task_constants`) are exactly :math:`L` (gradient Lipschitz), :math:`\rho = L` (Hessian
Lipschitz) and :math:`G = L\sqrt d` (gradient bound), each attained; the curvature reaches
:math:`-L` at :math:`w_k = \theta_{ik} + \pi`, where multi-step MAML is least smooth.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["CircularFamily", "loss", "population_loss", "sample_tasks", "sample_data"]


@dataclass(frozen=True)
class CircularFamily:
    """``d`` angles per task, ``theta ~ N(0, tau^2 I)``, observation noise ``noise``, and the
    loss scaled so that ``sup ||Hessian f_i|| = L``."""

    d: int = 2
    L: float = 1.0
    tau: float = 0.5
    noise: float = 0.5

    def __post_init__(self):
        if self.d < 1 or not self.L > 0 or self.tau < 0 or self.noise < 0:
            raise ValueError(f"need d >= 1, L > 0, tau >= 0, noise >= 0; got {self}")

    @property
    def kappa(self) -> float:
        return float(np.exp(-(self.noise**2) / 2))

    @property
    def lam(self) -> float:
        """Per-sample scale ``lambda = L d / kappa``."""
        return self.L * self.d / self.kappa

    @property
    def rho(self) -> float:
        return self.L

    @property
    def G(self) -> float:
        return self.L * float(np.sqrt(self.d))


def loss(w: jax.Array, x: jax.Array, y: jax.Array, *, lam: float = 1.0) -> jax.Array:
    """Mean per-sample loss ``lam * (1 - cos(x w - y))``; ``x`` is ``(m, d)``, ``y`` is ``(m,)``.

    The ``loss_fn(params, x, y)`` of the learners (bind ``lam`` with ``functools.partial``).
    """
    return lam * jnp.mean(1.0 - jnp.cos(x @ w - y))


def population_loss(w: jax.Array, theta: jax.Array, family: CircularFamily) -> jax.Array:
    r""":math:`f_i(w) = L\sum_k(1/\kappa - \cos(w_k-\theta_k))` (noise and feature averaged)."""
    return family.L * jnp.sum(1.0 / family.kappa - jnp.cos(w - theta))


def sample_tasks(key: jax.Array, n_tasks: int, family: CircularFamily) -> jax.Array:
    """``(n_tasks, d)`` task angles ``theta ~ N(0, tau^2 I)``."""
    if n_tasks < 1:
        raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
    return family.tau * jax.random.normal(key, (n_tasks, family.d))


def sample_data(key: jax.Array, theta: jax.Array, m: int, family: CircularFamily):
    """``m`` samples of one task: one-hot ``x`` of shape ``(m, d)`` and ``y`` of shape ``(m,)``."""
    kk, ke = jax.random.split(key)
    k = jax.random.randint(kk, (m,), 0, family.d)
    x = jax.nn.one_hot(k, family.d, dtype=theta.dtype)
    y = theta[k] + family.noise * jax.random.normal(ke, (m,), dtype=theta.dtype)
    return x, y
