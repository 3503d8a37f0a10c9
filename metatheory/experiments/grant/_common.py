"""The hierarchical-Bayes family's shared draw: all the randomness of an experiment in one
compiled call."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

__all__ = ["draw"]


@partial(jax.jit, static_argnums=(1, 2))
def draw(key, n_normal: int, n_uniform: int):
    """All the randomness of an experiment in one compiled draw (each distinct jax.random
    shape costs an XLA compile): ``n_normal`` standard normals and ``n_uniform`` U(0, 1)."""
    kz, ku = jax.random.split(key)
    return (
        jax.random.normal(kz, (n_normal,), jnp.float64),
        jax.random.uniform(ku, (n_uniform,), jnp.float64),
    )
