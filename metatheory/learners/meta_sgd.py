r"""Meta-SGD (Li et al. 2017): MAML with a learned per-parameter inner step size (claim G8).

The inner step is :math:`\theta_{j+1} = \theta_j - \alpha \odot \nabla L_S(\theta_j)` with
:math:`\alpha` a pytree shaped like :math:`\theta`; the meta-parameters are the pair
``{"params": theta, "alpha": alpha}`` and both are trained on the post-adaptation query loss
:math:`L_Q(\theta_N(\theta, \alpha))`, differentiating through the inner loop in
:math:`\alpha` as well as :math:`\theta` (:mod:`metatheory.learners.maml` accepts such an
``alpha``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from metatheory.learners.maml import batched_maml_meta_loss

__all__ = ["meta_sgd_init", "meta_sgd_meta_loss", "make_meta_sgd_step"]


def meta_sgd_init(params, alpha0: float):
    """Meta-parameters ``{"params": params, "alpha": alpha0 everywhere}``."""
    alpha = jax.tree_util.tree_map(lambda p: jnp.full_like(p, alpha0), params)
    return {"params": params, "alpha": alpha}


def meta_sgd_meta_loss(loss_fn, meta, supports, queries, *, n_inner: int):
    """Mean post-adaptation query loss of a task batch, adapting with ``meta["alpha"]``."""
    return batched_maml_meta_loss(
        loss_fn, meta["params"], supports, queries, alpha=meta["alpha"], n_inner=n_inner
    )


def make_meta_sgd_step(loss_fn, optimizer: optax.GradientTransformation, *, n_inner: int):
    """A jitted ``step(meta, opt_state, supports, queries) -> (meta, opt_state, loss)``."""

    @jax.jit
    def step(meta, opt_state, supports, queries):
        loss, grads = jax.value_and_grad(meta_sgd_meta_loss, argnums=1)(
            loss_fn, meta, supports, queries, n_inner=n_inner
        )
        updates, opt_state = optimizer.update(grads, opt_state, meta)
        return optax.apply_updates(meta, updates), opt_state, loss

    return step
