"""Functional multilayer perceptrons: parameters are a list of ``{"w", "b"}`` dicts.

``init(key, sizes)`` draws He-normal weights (std ``sqrt(2 / fan_in)``) and zero biases;
``finn_init(key, sizes, std)`` draws Finn et al. (2017)'s truncated normal weights;
``apply(params, x)`` is ReLU on the hidden layers and linear at the output, as in
Finn et al. (2017)'s 1-40-40-1 sinusoid regressor.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["init", "finn_init", "apply", "mse_loss"]


def init(key: jax.Array, sizes: tuple[int, ...] | list[int], dtype=None) -> list[dict]:
    """Random parameters for an MLP with layer widths ``sizes`` (input first)."""
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least two positive widths, got {sizes}")
    dtype = dtype or jnp.zeros(()).dtype
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {
            "w": jax.random.normal(k, (n_in, n_out), dtype) * jnp.sqrt(2.0 / n_in).astype(dtype),
            "b": jnp.zeros((n_out,), dtype),
        }
        for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def finn_init(key: jax.Array, sizes: tuple[int, ...], std: float = 0.01) -> list[dict]:
    """Finn et al. (2017)'s initialization of the MLP: float32 weights from a normal with
    standard deviation ``std`` truncated at two standard deviations, zero biases (their
    ``construct_fc_weights``). He-scaled weights give the sinusoid loss a curvature at which
    ``alpha = 0.01`` diverges."""
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least two positive widths, got {sizes}")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {
            "w": std * jax.random.truncated_normal(kk, -2.0, 2.0, (n_in, n_out), jnp.float32),
            "b": jnp.zeros((n_out,), jnp.float32),
        }
        for kk, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def apply(params: list[dict], x: jax.Array) -> jax.Array:
    """Forward pass ``x -> y`` of shape ``(..., sizes[0]) -> (..., sizes[-1])``."""
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def mse_loss(params: list[dict], x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of the MLP on ``(x, y)``: the loss of claim G9."""
    return jnp.mean((apply(params, x) - y) ** 2)
