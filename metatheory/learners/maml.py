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
the meta-loss is differentiable in it (G8). Concrete ``alpha`` must be finite and ``>= 0``.

The inner loop runs as ``lax.scan`` (compile time flat in ``N``; ``unroll`` and a
``jax.checkpoint`` policy are options of :func:`inner_adapt`).
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


def _check_alpha(alpha) -> None:
    """``alpha`` real and finite, for a scalar or every concrete leaf of a pytree. Either sign:
    a negative rate is a legitimate *training* rate (Bernacchia 2021; claim G10 trains MAML
    at one)."""
    for leaf in jax.tree_util.tree_leaves(alpha):
        if isinstance(leaf, jax.core.Tracer):
            continue  # traced (differentiated or vmapped): its value is unknown here
        a = np.asarray(leaf)
        if a.dtype == bool or not np.issubdtype(a.dtype, np.number):
            raise ValueError(f"alpha must be a real number or array, got {leaf!r}")
        if np.iscomplexobj(a):
            raise ValueError(f"alpha must be real, got {leaf!r}")
        bad = ~np.isfinite(a)
        if np.any(bad):
            raise ValueError(f"alpha must be finite, got {a[bad].ravel()[0]!r}")


def _check_alpha_tree(alpha, params) -> None:
    """``alpha`` is one step size (a scalar leaf) or a pytree shaped like ``params``."""
    if jax.tree_util.treedef_is_leaf(jax.tree_util.tree_structure(alpha)):
        return
    a_def, p_def = jax.tree_util.tree_structure(alpha), jax.tree_util.tree_structure(params)
    if a_def != p_def:
        raise ValueError(
            "alpha must be a scalar or a pytree shaped like params (per-parameter step sizes, "
            f"as in Meta-SGD); got the structure {a_def}, params have {p_def}"
        )


def _check(alpha, n_inner: int, first_order: bool, truncate) -> int:
    """Validate and return the number of differentiated (last) steps."""
    if isinstance(n_inner, bool) or not isinstance(n_inner, int | np.integer) or n_inner < 0:
        raise ValueError(f"n_inner must be a non-negative int, got {n_inner!r}")
    _check_alpha(alpha)
    if truncate is None:
        return 0 if first_order else int(n_inner)
    if first_order:
        raise ValueError(
            "truncate cannot be combined with first_order=True (first-order is truncate=0)"
        )
    if isinstance(truncate, bool) or not isinstance(truncate, int | np.integer):
        raise ValueError(f"truncate must be an int in [0, n_inner={n_inner}], got {truncate!r}")
    if not 0 <= truncate <= n_inner:
        raise ValueError(f"truncate must be in [0, n_inner={n_inner}], got {truncate!r}")
    return int(truncate)


def _check_pair(name: str, pair) -> None:
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        what = (
            f"a {type(pair).__name__} of length {len(pair)}"
            if hasattr(pair, "__len__")
            else (type(pair).__name__)
        )
        raise ValueError(f"{name} must be an (x, y) pair, got {what}")


def _check_task_axis(supports, queries) -> None:
    """Batched inputs carry a leading task axis: every leaf of ``x`` and ``y`` has shape
    ``(B, K, ...)`` with one ``B``. An unbatched task ``x`` of shape ``(K, d)`` passes this
    check and runs as ``K`` one-sample tasks of ``d`` features (one-sample tasks are a valid
    input, e.g. the FMO experiments'): add the task axis, ``x[None]``, for one task."""
    _check_pair("supports", supports)
    _check_pair("queries", queries)
    sizes = set()
    for name, pair in (("supports", supports), ("queries", queries)):
        for part, tree in zip("xy", pair, strict=True):
            for leaf in jax.tree_util.tree_leaves(tree):
                shape = np.shape(leaf)
                if len(shape) < 2:
                    raise ValueError(
                        f"{name} {part} must carry a leading task axis, shape (n_tasks, "
                        f"n_samples, ...); got shape {shape} (for one task use the "
                        "unbatched function)"
                    )
                sizes.add(shape[0])
    if len(sizes) > 1:
        raise ValueError(
            f"supports and queries must share one leading task axis, got sizes {sorted(sizes)}"
        )


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
    unroll: int | bool = 1,
    checkpoint: bool | Callable = False,
) -> PyTree:
    r"""``theta_N`` after ``n_inner`` gradient steps on the support loss.

    ``truncate=k`` differentiates through the last ``k`` steps only; ``first_order`` is
    ``truncate=0`` (the two cannot be combined). With ``per_step=True`` the support arrays
    carry a leading axis of length ``n_inner`` and step ``j`` uses batch ``j`` (minibatch
    inner loops, as in Reptile).

    The loop is a ``lax.scan`` (one for the frozen first ``N - k`` steps, one for the
    differentiated last ``k``), so compile time does not grow with ``n_inner``. ``unroll``
    is passed to ``lax.scan`` (``True`` unrolls fully: fastest per call for small N).
    ``checkpoint=True`` wraps each step in ``jax.checkpoint`` (reverse mode stores only the
    iterates, recomputing each step's activations); a callable is used as its ``policy``
    (e.g. ``jax.checkpoint_policies.dots_saveable``).
    """
    n_diff = _check(alpha, n_inner, first_order, truncate)
    _check_alpha_tree(alpha, params)
    _check_pair("support", support)
    x, y = support
    grad_fn = jax.grad(loss_fn)

    def step(frozen):
        def body(p, batch):
            xj, yj = batch if per_step else (x, y)
            g = grad_fn(p, xj, yj)
            if frozen:
                g = jax.lax.stop_gradient(g)
            return _step(p, g, alpha), None

        if checkpoint is True:
            return jax.checkpoint(body)
        if callable(checkpoint):
            return jax.checkpoint(body, policy=checkpoint)
        if checkpoint is not False:
            raise ValueError(f"checkpoint must be a bool or a policy, got {checkpoint!r}")
        return body

    n_frozen = n_inner - n_diff
    for frozen, lo, hi in ((True, 0, n_frozen), (False, n_frozen, n_inner)):
        if hi == lo:
            continue
        xs = jax.tree_util.tree_map(lambda a, lo=lo, hi=hi: a[lo:hi], (x, y)) if per_step else None
        params, _ = jax.lax.scan(step(frozen), params, xs, length=hi - lo, unroll=unroll)
    return params


def maml_meta_loss(
    loss_fn: LossFn, params: PyTree, support, query, *, alpha, n_inner: int, **kw
) -> jax.Array:
    """Query loss after adaptation, ``L_Q(theta_N(params))``, for one task; keyword options
    as :func:`inner_adapt`."""
    _check_pair("query", query)
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
    **kw,
) -> PyTree:
    r"""Meta-gradient :math:`\nabla_\theta L_Q(\theta_N)` of one task, shaped like ``params``.

    ``support`` and ``query`` are ``(x, y)`` pairs; ``first_order=True`` gives FOMAML's
    :math:`\nabla L_Q(\theta_N)`, ``truncate=k`` the product of the last ``k`` factors.
    Further keywords (``unroll``, ``checkpoint``, ``per_step``) go to :func:`inner_adapt`.
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
        **kw,
    )


def batched_maml_meta_loss(
    loss_fn: LossFn, params: PyTree, supports, queries, *, alpha, n_inner: int, **kw
) -> jax.Array:
    """Mean over a leading task axis of ``maml_meta_loss`` (tasks vectorized with vmap):
    every array of ``supports`` and ``queries`` has shape ``(n_tasks, n_samples, ...)``."""
    _check_task_axis(supports, queries)
    _check_alpha(alpha)
    _check_alpha_tree(alpha, params)

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
    **kw,
) -> PyTree:
    """Mean over tasks of the per-task meta-gradients; arrays carry a leading task axis,
    shape ``(n_tasks, n_samples, ...)``. Keywords as :func:`maml_meta_gradient`."""
    return jax.grad(batched_maml_meta_loss, argnums=1)(
        loss_fn,
        params,
        supports,
        queries,
        alpha=alpha,
        n_inner=n_inner,
        first_order=first_order,
        truncate=truncate,
        **kw,
    )
