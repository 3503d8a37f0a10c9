"""One outer (meta) step for MAML, FOMAML, truncated MAML or Reptile, with an optax optimizer."""

from __future__ import annotations

import jax
import optax

from metatheory.learners.maml import batched_maml_meta_loss
from metatheory.learners.reptile import batched_reptile_direction

__all__ = ["make_meta_step", "METHODS"]

METHODS = ("maml", "fomaml", "reptile")


def make_meta_step(
    loss_fn,
    optimizer: optax.GradientTransformation,
    *,
    alpha,
    n_inner: int,
    method: str = "maml",
    truncate: int | None = None,
):
    """A jitted ``step(params, opt_state, supports, queries) -> (params, opt_state, loss)``.

    ``loss`` is the mean post-adaptation query loss of the batch (before the update). For
    Reptile the query set is used only to report that loss; the update direction is
    ``(theta - phi_k) / alpha``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
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
        )

    @jax.jit
    def step(params, opt_state, supports, queries):
        if method == "reptile":
            loss = meta_loss(params, supports, queries)
            grads = batched_reptile_direction(
                loss_fn, params, supports, alpha=alpha, n_inner=n_inner
            )
        else:
            loss, grads = jax.value_and_grad(meta_loss)(params, supports, queries)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step
