r"""ANIL ("almost no inner loop"): MAML whose inner loop adapts only the head.

Parameters are a pytree ``{"body": ..., "head": ...}`` and ``loss_fn(params, x, y)`` any loss.
The inner loop runs :func:`metatheory.learners.maml.inner_adapt` on the head with the body
held as a constant of the task loss,

.. math:: w_{j+1} = w_j - \alpha\nabla_w L_S(B, w_j),\qquad j = 0..N-1,

and the meta-loss :math:`L_Q(B, w_N(B, w_0))` is differentiated in both the body :math:`B`
(through the inner steps, which depend on it) and the head initialisation :math:`w_0`. This is
MAML with the per-parameter step sizes ``{"body": 0, "head": alpha}`` (Raghu et al. 2020's
ANIL; Collins et al. 2022 analyse it on multitask linear regression).
"""

from __future__ import annotations

from typing import Any

import jax

from metatheory.learners import maml

__all__ = [
    "anil_meta_loss",
    "anil_meta_gradient",
    "batched_anil_meta_loss",
    "batched_anil_meta_gradient",
]

PyTree = Any


def _check_params(params) -> None:
    if not isinstance(params, dict) or set(params) != {"body", "head"}:
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with the keys 'body' and 'head', got {got}")


def _head_loss(loss_fn, body):
    """The task loss as a function of the head, the body a constant of it."""
    return lambda head, x, y: loss_fn({"body": body, "head": head}, x, y)


def anil_meta_loss(loss_fn, params: PyTree, support, query, *, alpha, n_inner: int, **kw):
    """Query loss after ``n_inner`` head-only steps of size ``alpha`` on ``support``, for one
    task; keyword options (``first_order``, ``truncate``, ...) as
    :func:`metatheory.learners.maml.inner_adapt`."""
    _check_params(params)
    return maml.maml_meta_loss(
        _head_loss(loss_fn, params["body"]),
        params["head"],
        support,
        query,
        alpha=alpha,
        n_inner=n_inner,
        **kw,
    )


def anil_meta_gradient(loss_fn, params: PyTree, support, query, *, alpha, n_inner: int, **kw):
    """Gradient of :func:`anil_meta_loss` in ``params`` (body and head), shaped like it."""
    return jax.grad(anil_meta_loss, argnums=1)(
        loss_fn, params, support, query, alpha=alpha, n_inner=n_inner, **kw
    )


def batched_anil_meta_loss(
    loss_fn, params: PyTree, supports, queries, *, alpha, n_inner: int, **kw
):
    """Mean over a leading task axis of :func:`anil_meta_loss` (every array of ``supports`` and
    ``queries`` has shape ``(n_tasks, n_samples, ...)``), by
    :func:`metatheory.learners.maml.batched_maml_meta_loss` on the head."""
    _check_params(params)
    return maml.batched_maml_meta_loss(
        _head_loss(loss_fn, params["body"]),
        params["head"],
        supports,
        queries,
        alpha=alpha,
        n_inner=n_inner,
        **kw,
    )


def batched_anil_meta_gradient(
    loss_fn, params: PyTree, supports, queries, *, alpha, n_inner: int, **kw
):
    """Gradient of :func:`batched_anil_meta_loss` in ``params`` (body and head)."""
    return jax.grad(batched_anil_meta_loss, argnums=1)(
        loss_fn, params, supports, queries, alpha=alpha, n_inner=n_inner, **kw
    )
