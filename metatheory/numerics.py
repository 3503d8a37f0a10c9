r"""Shared numerics of the checks: named error measures, pytree flattening, Hessian norms.

Every tolerance in the ledger names the measure it bounds:

- :func:`rel_err_norm`: :math:`\|a-b\|_2/\|b\|_2` (ratio of norms: a vector as a whole);
- :func:`rel_err_max`: :math:`\max_i|a_i-b_i|/\max_i|b_i|` (largest error against the scale);
- :func:`rel_err_elementwise`: :math:`\max_i |a_i-b_i|/|b_i|` (every entry on its own scale).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from metatheory.autodiff import hvp

__all__ = [
    "rel_err_norm",
    "rel_err_max",
    "rel_err_elementwise",
    "flatten",
    "hessian_norm",
    "tanh_mse",
]

_TINY = 1e-300


def _pair(a, b):
    a = np.ravel(np.asarray(flatten(a) if _is_tree(a) else a, np.float64))
    b = np.ravel(np.asarray(flatten(b) if _is_tree(b) else b, np.float64))
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same size, got {a.size} and {b.size}")
    return a, b


def _is_tree(x) -> bool:
    return isinstance(x, dict | list | tuple)


def rel_err_norm(a, b) -> float:
    r""":math:`\|a-b\|_2 / \|b\|_2` over all entries (arrays or pytrees)."""
    a, b = _pair(a, b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), _TINY))


def rel_err_max(a, b) -> float:
    r""":math:`\max_i|a_i-b_i| / \max_i|b_i|` (arrays or pytrees)."""
    a, b = _pair(a, b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), _TINY))


def rel_err_elementwise(a, b) -> float:
    r""":math:`\max_i |a_i-b_i| / |b_i|` (arrays or pytrees; ``b_i = 0`` counts as tiny)."""
    a, b = _pair(a, b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), _TINY)))


def flatten(tree) -> jax.Array:
    """All leaves of ``tree`` concatenated into one vector (``jax.flatten_util.ravel_pytree``)."""
    return ravel_pytree(tree)[0]


def hessian_norm(f, params, key, n_iter: int, restarts: int = 2) -> jax.Array:
    r"""Spectral norm :math:`\|\nabla^2 f(\text{params})\|` by power iteration on HVPs.

    The best of ``restarts`` random starts: each estimate approaches :math:`\max|\lambda|`
    from below at the rate :math:`|\lambda_2/\lambda_1|^k`, and one start nearly orthogonal to
    the top eigenvector can stall when the gap is small. Bounds built on it are, if
    anything, slightly too small (checks against it are conservative)."""
    flat, unravel = ravel_pytree(params)

    def one(k):
        v = jax.random.normal(k, flat.shape, flat.dtype)
        v = v / jnp.linalg.norm(v)

        def body(v, _):
            hv = flatten(hvp(f, params, unravel(v)))
            return hv / jnp.linalg.norm(hv), None

        v, _ = jax.lax.scan(body, v, None, length=n_iter)
        return jnp.linalg.norm(flatten(hvp(f, params, unravel(v))))

    return jnp.max(jax.vmap(one)(jax.random.split(key, restarts)))


def tanh_mse(params, x, y):
    """MSE of a tanh MLP ``[{"w", "b"}, ...]`` (smooth, so finite differences and Taylor
    expansions in the step size have no kinks)."""
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return jnp.mean((x @ params[-1]["w"] + params[-1]["b"] - y) ** 2)
