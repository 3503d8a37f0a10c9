r"""Hessian-vector products (Pearlmutter 1994), for scalar functions of a pytree (claim S1).

:math:`Hv = \frac{d}{d\epsilon}\nabla f(x+\epsilon v)|_{\epsilon=0}` costs a small constant
times a gradient, without forming :math:`H`:

- ``"fwd-rev"``: forward-mode JVP of the reverse-mode gradient (the cheap default);
- ``"rev-rev"``: reverse-mode gradient of :math:`\langle \nabla f(x), v\rangle`;
- ``"explicit"``: the dense Hessian times ``v`` (reference only: memory :math:`O(d^2)`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = ["hvp", "HVP_MODES", "dense_hessian"]

HVP_MODES = ("fwd-rev", "rev-rev", "explicit")


def dense_hessian(f, x):
    """The Hessian of ``f`` at pytree ``x`` as a dense ``(d, d)`` matrix over ``ravel(x)``."""
    flat, unravel = ravel_pytree(x)
    return jax.hessian(lambda z: f(unravel(z)))(flat)


def hvp(f, x, v, mode: str = "fwd-rev"):
    """``∇²f(x) v`` for pytrees ``x`` and ``v`` of the same structure."""
    if mode == "fwd-rev":
        return jax.jvp(jax.grad(f), (x,), (v,))[1]
    if mode == "rev-rev":
        return jax.grad(
            lambda z: sum(
                jnp.vdot(a, b)
                for a, b in zip(
                    jax.tree_util.tree_leaves(jax.grad(f)(z)),
                    jax.tree_util.tree_leaves(v),
                    strict=True,
                )
            )
        )(x)
    if mode == "explicit":
        flat_v, unravel = ravel_pytree(v)
        return unravel(dense_hessian(f, x) @ flat_v)
    raise ValueError(f"mode must be one of {HVP_MODES}, got {mode!r}")
