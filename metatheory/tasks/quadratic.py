r"""Quadratic tasks, where the MAML family's identities are exact.

A task's loss is :math:`L(\theta) = \tfrac12(\theta-c)^\top H(\theta-c)` (``h`` a scalar for
1-D tasks; negative ``h`` gives the concave case), written as a learner's
``loss_fn(params, x, y)`` with ``x = H`` and ``y = c``. Its gradient is :math:`H(\theta-c)` and
its Hessian ``H``, constant, so ``N`` gradient steps are
:math:`\theta_N = c + (I-\alpha H)^N(\theta_0 - c)` and every derivative through the inner loop
has a closed form (the step-size derivative of claim G8:
:func:`metatheory.bounds.fomaml.meta_sgd_alpha_gradient`).

:func:`sample_minibatches` draws the minibatch losses of one task for Reptile's expected update
(claim G4): ``M`` quadratics with different PSD Hessians, so that :math:`\bar H_i` and
:math:`\bar g_i` vary between minibatches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["loss", "sample_minibatches"]


def loss(theta, h, c):
    r""":math:`\tfrac12(\theta-c)^\top H(\theta-c)`, or :math:`\tfrac h2(\theta-c)^2` for scalar
    ``theta`` and ``h``."""
    r = theta - c
    if jnp.ndim(h) < 2:
        return 0.5 * jnp.sum(h * r * r)
    return 0.5 * r @ (h @ r)


def sample_minibatches(key: jax.Array, n_batches: int, d: int, *, scale: float = 1.0):
    """``(H, c)`` of ``n_batches`` minibatch quadratics in ``d`` dimensions: ``H_i = A_i A_i^T / d``
    with ``A_i`` standard normal (PSD, spectral norm about 4), ``c_i ~ N(0, scale^2 I)``."""
    if n_batches < 1 or d < 1:
        raise ValueError(f"n_batches and d must be >= 1, got {n_batches}, {d}")
    ka, kc = jax.random.split(key)
    a = jax.random.normal(ka, (n_batches, d, d))
    h = a @ jnp.swapaxes(a, 1, 2) / d
    return h, scale * jax.random.normal(kc, (n_batches, d))
