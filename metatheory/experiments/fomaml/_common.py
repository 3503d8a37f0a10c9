"""The first-order family's shared piece: FOMAML's bias on one task by the package's
learner."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metatheory.learners.maml import maml_meta_gradient

__all__ = ["task_bias"]


def task_bias(loss_fn, theta0, s, q, al, n):
    """``(g_MAML - g_FO, g_FO)`` for one task, by the package's learner."""
    full = maml_meta_gradient(loss_fn, theta0, s, q, alpha=al, n_inner=n)
    fo = maml_meta_gradient(loss_fn, theta0, s, q, alpha=al, n_inner=n, first_order=True)
    return jax.tree_util.tree_map(jnp.subtract, full, fo), fo
