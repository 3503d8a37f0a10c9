r"""MAML and its first-order and truncated variants, for any ``loss_fn(params, x, y)``.

Inner loop (Finn et al. 2017): :math:`\theta_{j+1} = \theta_j - \alpha \nabla L_S(\theta_j)`,
:math:`j = 0..N-1`. The meta-loss is :math:`L_Q(\theta_N)` and its gradient in
:math:`\theta_0` is the product formula (claim G1)

.. math::
    \nabla_{\theta_0} L_Q(\theta_N) = (I-\alpha H_0)\cdots(I-\alpha H_{N-1})\,\nabla L_Q(\theta_N).

Truncation to the last ``k`` inner steps applies ``stop_gradient`` to the inner gradients of
the first ``N-k`` steps, so their factors become ``I`` and only the last ``k`` factors of the
product remain; ``k = 0`` is first-order MAML, :math:`g_{FO} = \nabla L_Q(\theta_N)` (G2).

``alpha`` is a scalar or a pytree shaped like ``params`` (per-parameter step sizes, Meta-SGD);
the meta-loss is differentiable in it (G8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "inner_adapt",
    "maml_meta_loss",
    "maml_meta_gradient",
    "batched_maml_meta_loss",
    "batched_maml_meta_gradient",
]

PyTree = Any
LossFn = Callable[[PyTree, jax.Array, jax.Array], jax.Array]


def _check(alpha, n_inner: int, n_diff: int | None) -> int:
    if isinstance(n_inner, bool) or not isinstance(n_inner, int | np.integer) or n_inner < 0:
        raise ValueError(f"n_inner must be a non-negative int, got {n_inner!r}")
    if isinstance(alpha, int | float) and not np.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha!r}")
    if n_diff is None:
        return n_inner
    if not 0 <= n_diff <= n_inner:
        raise ValueError(f"truncate must be in [0, n_inner={n_inner}], got {n_diff!r}")
    return int(n_diff)


def _step(params, grads, alpha):
    if jax.tree_util.tree_structure(alpha) == jax.tree_util.tree_structure(params):
        return jax.tree_util.tree_map(lambda p, g, a: p - a * g, params, grads, alpha)
    return jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)


def inner_adapt(
    loss_fn: LossFn,
    params: PyTree,
    support,
    *,
    alpha,
    n_inner: int,
    first_order: bool = False,
    truncate: int | None = None,
    per_step: bool = False,
) -> PyTree:
    r"""``theta_N`` after ``n_inner`` gradient steps on the support loss.

    ``truncate=k`` differentiates through the last ``k`` steps only; ``first_order`` is
    ``truncate=0``. With ``per_step=True`` the support arrays carry a leading axis of length
    ``n_inner`` and step ``j`` uses batch ``j`` (minibatch inner loops, as in Reptile).
    """
    n_diff = _check(alpha, n_inner, 0 if first_order else truncate)
    x, y = support
    grad_fn = jax.grad(loss_fn)
    for j in range(n_inner):
        xj, yj = (x[j], y[j]) if per_step else (x, y)
        g = grad_fn(params, xj, yj)
        if j < n_inner - n_diff:
            g = jax.lax.stop_gradient(g)
        params = _step(params, g, alpha)
    return params


def maml_meta_loss(
    loss_fn: LossFn, params: PyTree, support, query, *, alpha, n_inner: int, **kw
) -> jax.Array:
    """Query loss after adaptation, ``L_Q(theta_N(params))``, for one task."""
    adapted = inner_adapt(loss_fn, params, support, alpha=alpha, n_inner=n_inner, **kw)
    return loss_fn(adapted, *query)


def maml_meta_gradient(
    loss_fn: LossFn,
    params: PyTree,
    support,
    query,
    *,
    alpha,
    n_inner: int,
    first_order: bool = False,
    truncate: int | None = None,
) -> PyTree:
    r"""Meta-gradient :math:`\nabla_\theta L_Q(\theta_N)` of one task, shaped like ``params``.

    ``support`` and ``query`` are ``(x, y)`` pairs; ``first_order=True`` gives FOMAML's
    :math:`\nabla L_Q(\theta_N)`, ``truncate=k`` the product of the last ``k`` factors.
    """
    return jax.grad(maml_meta_loss, argnums=1)(
        loss_fn,
        params,
        support,
        query,
        alpha=alpha,
        n_inner=n_inner,
        first_order=first_order,
        truncate=truncate,
    )


def batched_maml_meta_loss(
    loss_fn: LossFn, params: PyTree, supports, queries, *, alpha, n_inner: int, **kw
) -> jax.Array:
    """Mean over a leading task axis of ``maml_meta_loss`` (tasks vectorized with vmap)."""

    def one(s, q):
        return maml_meta_loss(loss_fn, params, s, q, alpha=alpha, n_inner=n_inner, **kw)

    return jnp.mean(jax.vmap(one)(supports, queries))


def batched_maml_meta_gradient(
    loss_fn: LossFn,
    params: PyTree,
    supports,
    queries,
    *,
    alpha,
    n_inner: int,
    first_order: bool = False,
    truncate: int | None = None,
) -> PyTree:
    """Mean over tasks of the per-task meta-gradients; arrays carry a leading task axis."""
    return jax.grad(batched_maml_meta_loss, argnums=1)(
        loss_fn,
        params,
        supports,
        queries,
        alpha=alpha,
        n_inner=n_inner,
        first_order=first_order,
        truncate=truncate,
    )
