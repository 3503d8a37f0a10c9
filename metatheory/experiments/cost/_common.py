r"""The cost family's shared problem: one meta step on a sinusoid MLP 1-w-w-1 with a batch of
``B`` tasks of ``K`` support and ``K`` query points (meta-gradient plus the SGD update
``theta - beta g``), in the variants whose compiled programs G5 and G6 measure.

Variants, all :func:`metatheory.batched_maml_meta_gradient`: ``maml`` and ``fomaml`` with
the inner loop fully unrolled (``unroll=True``, so that XLA's cost analysis counts every
step); ``maml_ckpt``: the same with each inner step under ``jax.checkpoint``
(``checkpoint=True``); ``maml_scan`` and ``maml_scan_ckpt``: the inner loop as a rolled
``lax.scan`` without and with ``jax.checkpoint`` on its body; ``sgd``: a plain SGD step on the
pooled support points (G5's unit).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metatheory import nets
from metatheory.learners.maml import batched_maml_meta_gradient

__all__ = ["VARIANTS", "MAML_VARIANTS", "MEMORY_VARIANTS", "meta_step"]

VARIANTS = ("sgd", "maml", "fomaml", "maml_ckpt", "maml_scan", "maml_scan_ckpt")
MAML_VARIANTS = ("maml", "fomaml", "maml_ckpt", "maml_scan", "maml_scan_ckpt")
MEMORY_VARIANTS = (*MAML_VARIANTS, "imaml")


def _sgd_update(params, g, beta):
    return jax.tree_util.tree_map(lambda p, d: p - beta * d, params, g)


def meta_step(variant: str, config, n_inner: int):
    """``step(params, supports, queries) -> params`` of one variant (not yet jitted), with
    ``n_inner`` a compile-time constant."""
    c = config

    def grad_of(params, s, q):
        if variant == "sgd":
            batch_loss = lambda p: jnp.mean(jax.vmap(nets.mse_loss, (None, 0, 0))(p, *s))
            return jax.grad(batch_loss)(params)
        if variant in VARIANTS[1:]:
            return batched_maml_meta_gradient(
                nets.mse_loss,
                params,
                s,
                q,
                alpha=c.alpha,
                n_inner=n_inner,
                first_order=variant == "fomaml",
                unroll=not variant.startswith("maml_scan"),
                checkpoint=variant.endswith("ckpt"),
            )
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")

    return lambda params, s, q: _sgd_update(params, grad_of(params, s, q), c.beta)
