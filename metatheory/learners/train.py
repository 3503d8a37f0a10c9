"""One outer (meta) step for MAML, FOMAML, truncated MAML or Reptile, with an optax optimizer."""

from __future__ import annotations

import jax
import optax

from metatheory.learners.maml import batched_maml_meta_loss
from metatheory.learners.reptile import _check_positive_alpha, batched_reptile_direction

__all__ = ["make_meta_step", "make_scan_train", "METHODS"]

METHODS = ("maml", "fomaml", "reptile")


def make_meta_step(
    loss_fn,
    optimizer: optax.GradientTransformation,
    *,
    alpha,
    n_inner: int,
    method: str = "maml",
    truncate: int | None = None,
    **inner,
):
    """A jitted ``step(params, opt_state, supports, queries) -> (params, opt_state, loss)``.

    ``loss`` is the mean post-adaptation query loss of the batch (before the update). For
    Reptile the query set is used only to report that loss; the update direction is
    ``(theta - phi_k) / alpha`` (so ``alpha`` must be > 0). Task batches have shape
    ``(n_tasks, n_samples, ...)``: one unbatched task ``x`` of shape ``(K, d)`` would run as
    ``K`` one-sample tasks, so give it a task axis (``x[None]``). Further keywords
    (``unroll``, ``checkpoint``) go to the inner loop,
    :func:`metatheory.learners.maml.inner_adapt`.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "reptile":
        _check_positive_alpha(alpha)
    first_order = method == "fomaml"

    def meta_loss(params, supports, queries):
        return batched_maml_meta_loss(
            loss_fn,
            params,
            supports,
            queries,
            alpha=alpha,
            n_inner=n_inner,
            first_order=first_order,
            truncate=truncate,
            **inner,
        )

    @jax.jit
    def step(params, opt_state, supports, queries):
        if method == "reptile":
            loss = meta_loss(params, supports, queries)
            grads = batched_reptile_direction(
                loss_fn, params, supports, alpha=alpha, n_inner=n_inner, **inner
            )
        else:
            loss, grads = jax.value_and_grad(meta_loss)(params, supports, queries)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def make_scan_train(batch_loss, optimizer: optax.GradientTransformation, *, sign: float = 1.0):
    """A jitted ``train(params, key, n_steps) -> (params, losses)``: ``n_steps`` optimizer steps
    on ``batch_loss(params, key)`` (a fresh batch drawn from each step's key) in one
    ``lax.scan``. The loss is minimized; ``sign = -1`` ascends it (for negative controls)."""

    def step(carry, key):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(batch_loss)(params, key)
        grads = jax.tree_util.tree_map(lambda g: sign * g, grads)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    def train(params, key, n_steps: int):
        (params, _), losses = jax.lax.scan(
            step, (params, optimizer.init(params)), jax.random.split(key, n_steps)
        )
        return params, losses

    return jax.jit(train, static_argnums=2)
