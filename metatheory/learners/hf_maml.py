r"""Hessian-free MAML: the one-step meta-gradient with a finite-difference Hessian-vector
product, for any ``loss_fn(params, x, y)``.

Fallah, Mokhtari, Ozdaglar (AISTATS 2020) propose Hessian-free MAML, which needs no
second-order information. As we implement it (the form was not read in the paper), the
one-step meta-gradient :math:`(I-\alpha\nabla^2 f_S(w))\,v`, :math:`v = \nabla f_Q(\tilde w)`,
:math:`\tilde w = w - \alpha\nabla f_S(w)`, becomes

.. math:: v - \alpha\,\frac{\nabla f_S(w+\delta v) - \nabla f_S(w-\delta v)}{2\delta},

four gradient evaluations and no Hessian. For a :math:`\rho`-Lipschitz Hessian it differs from
MAML's meta-gradient by at most :math:`\alpha\rho\delta\|v\|^2/2`, and by
:math:`O(\delta^2)` for a loss with a Lipschitz third derivative
(:mod:`metatheory.symbolic.hessian_free`, claim C7).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

__all__ = ["central_difference_hvp", "hf_maml_meta_gradient"]

PyTree = Any


def _check_scalar(name: str, x, *, low_open: bool) -> None:
    """A concrete ``x`` must be a finite real scalar, ``> 0`` (``low_open``) or ``>= 0``."""
    if isinstance(x, jax.core.Tracer):
        return  # traced: its value is unknown here
    a = np.asarray(x)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise ValueError(f"{name} must be a real number, got {x!r}")
    if a.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {a.shape}")
    ok = np.isfinite(a) and (a > 0 if low_open else a >= 0)
    if not ok:
        rng = "(0, inf)" if low_open else "[0, inf)"
        raise ValueError(f"{name} must be finite and in {rng}, got {float(a)!r}")


def _check_pair(name: str, pair) -> None:
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        raise ValueError(f"{name} must be an (x, y) pair, got {type(pair).__name__}")


def central_difference_hvp(grad_fn: Callable, params: PyTree, v: PyTree, *, delta) -> PyTree:
    r""":math:`(\nabla f(w+\delta v) - \nabla f(w-\delta v))/(2\delta)`, the central-difference
    Hessian-vector product; ``grad_fn(params) -> pytree`` is :math:`\nabla f`, ``v`` shaped
    like ``params``, ``delta`` > 0.

    Its error is at most :math:`\rho\delta\|v\|^2/2` for a :math:`\rho`-Lipschitz Hessian
    (:func:`metatheory.bounds.hf_maml_hvp_error_bound`)."""
    _check_scalar("delta", delta, low_open=True)
    flat_w, unravel = ravel_pytree(params)
    flat_v, _ = ravel_pytree(v)
    if flat_v.shape != flat_w.shape:
        raise ValueError(
            f"v must be shaped like params, got {flat_v.size} vs {flat_w.size} entries"
        )
    plus = ravel_pytree(grad_fn(unravel(flat_w + delta * flat_v)))[0]
    minus = ravel_pytree(grad_fn(unravel(flat_w - delta * flat_v)))[0]
    return unravel((plus - minus) / (2 * delta))


def hf_maml_meta_gradient(
    loss_fn: Callable, params: PyTree, support, query, *, alpha, delta
) -> PyTree:
    r"""Hessian-free one-step MAML meta-gradient of one task, shaped like ``params``:
    :math:`v - \alpha\,d_\delta(w, v)`, :math:`v = \nabla f_Q(w - \alpha\nabla f_S(w))`,
    :math:`d_\delta` the central difference of :math:`\nabla f_S` (:func:`central_difference_hvp`).

    ``support`` and ``query`` are ``(x, y)`` pairs for ``loss_fn(params, x, y)``; ``alpha``
    >= 0 (scalar inner step), ``delta`` > 0. As ``delta`` → 0 it converges to
    :func:`metatheory.learners.maml_meta_gradient` with ``n_inner=1``, at order
    :math:`\delta^2` for smooth losses. Pure: ``jax.jit`` and ``jax.vmap`` apply."""
    _check_pair("support", support)
    _check_pair("query", query)
    _check_scalar("alpha", alpha, low_open=False)
    _check_scalar("delta", delta, low_open=True)
    xs, ys = support
    xq, yq = query
    grad = jax.grad(loss_fn)

    def grad_s(p):
        return grad(p, xs, ys)

    g_s = grad_s(params)
    adapted = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, g_s)
    v = grad(adapted, xq, yq)
    hv = central_difference_hvp(grad_s, params, v, delta=delta)
    return jax.tree_util.tree_map(lambda a, b: a - alpha * b, v, hv)
