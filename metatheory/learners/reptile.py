r"""Reptile (Nichol et al. 2018).

The Reptile direction of one task is :math:`g = (\theta - \phi_k)/\alpha`, with
:math:`\phi_k` the result of ``k`` inner SGD steps; its expectation to first order in
:math:`\alpha` is :math:`k\,\mathrm{AvgGrad} - \tfrac12 k(k-1)\alpha\,\mathrm{AvgGradInner}`
(claim G4). The outer update is :math:`\theta \leftarrow \theta - \beta\,g` averaged over tasks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.learners.maml import inner_adapt

__all__ = ["reptile_direction", "batched_reptile_direction"]


def _check_positive_alpha(alpha) -> None:
    """The direction divides by ``alpha``: every concrete step size must be > 0."""
    for leaf in jax.tree_util.tree_leaves(alpha):
        if isinstance(leaf, jax.core.Tracer):
            continue
        a = np.asarray(leaf, dtype=np.float64)
        if np.any(~(a > 0)):
            raise ValueError(
                f"alpha must be > 0 for Reptile (the direction is (theta - phi)/alpha), "
                f"got {a[~(a > 0)].ravel()[0]!r}"
            )


def reptile_direction(loss_fn, params, support, *, alpha, n_inner: int, per_step: bool = False):
    """``(params - phi_k) / alpha`` for one task (no differentiation through the loop)."""
    if n_inner < 1:
        raise ValueError(f"n_inner must be >= 1 for Reptile, got {n_inner}")
    _check_positive_alpha(alpha)
    phi = inner_adapt(
        loss_fn, params, support, alpha=alpha, n_inner=n_inner, first_order=True, per_step=per_step
    )
    return jax.tree_util.tree_map(lambda p, f: (p - f) / alpha, params, phi)


def batched_reptile_direction(loss_fn, params, supports, *, alpha, n_inner: int, **kw):
    """Mean over a leading task axis of ``reptile_direction``."""
    _check_positive_alpha(alpha)
    dirs = jax.vmap(
        lambda s: reptile_direction(loss_fn, params, s, alpha=alpha, n_inner=n_inner, **kw)
    )(supports)
    return jax.tree_util.tree_map(lambda d: jnp.mean(d, axis=0), dirs)
