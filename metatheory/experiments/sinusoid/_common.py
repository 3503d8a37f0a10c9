"""The sinusoid benchmark's building blocks: test-time adaptation curves, support sets for
several ``K`` in one program, and the crossed bootstrap over training seeds and tasks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from metatheory import nets
from metatheory.learners import maml as maml_learner

__all__ = [
    "adapt_curves",
    "adapt_predictions",
    "evaluate",
    "per_k",
    "stack_models",
    "draw_counts",
    "crossed_bootstrap",
]


def adapt_curves(params, x_s, y_s, x_q, y_q, *, alpha, n_steps: int):
    """Query MSE of one task after ``0..n_steps`` gradient steps of size ``alpha`` on the
    support set ``(x_s, y_s)``, each step one call of the learner's
    :func:`~metatheory.learners.maml.inner_adapt`: shape ``(n_steps + 1,)``."""

    def mse(p):
        return jnp.mean((nets.apply(p, x_q) - y_q) ** 2)

    def body(p, _):
        p2 = maml_learner.inner_adapt(nets.mse_loss, p, (x_s, y_s), alpha=alpha, n_inner=1)
        return p2, mse(p)

    p_end, m = jax.lax.scan(body, params, None, length=n_steps)
    return jnp.concatenate([m, mse(p_end)[None]])


def adapt_predictions(params, x_s, y_s, grid, *, alpha, n_steps: int):
    """Predictions on ``grid`` after ``0..n_steps`` steps (for the figures)."""

    def body(p, _):
        p2 = maml_learner.inner_adapt(nets.mse_loss, p, (x_s, y_s), alpha=alpha, n_inner=1)
        return p2, nets.apply(p, grid)[:, 0]

    p_end, preds = jax.lax.scan(body, params, None, length=n_steps)
    return jnp.concatenate([preds, nets.apply(p_end, grid)[None, :, 0]])


def evaluate(params, alpha, supp_x, supp_y, query_x, query_y, n_steps: int):
    """``(n_tasks, n_steps + 1)`` query MSE curves of one model and step size."""
    return jax.vmap(
        lambda xs, ys, xq, yq: adapt_curves(params, xs, ys, xq, yq, alpha=alpha, n_steps=n_steps)
    )(supp_x, supp_y, query_x, query_y)


def per_k(supp, k_eval):
    """The support sets for every ``K`` of ``k_eval`` at one shape: the first ``K`` points
    repeated ``max(k_eval) / K`` times, which leaves the mean-squared loss and its gradient
    unchanged, so every ``K`` runs in one compiled program. ``(nK, n_tasks, max K, 1)``."""
    kmax = max(k_eval)
    return tuple(jnp.stack([a[:, np.arange(kmax) % k] for k in k_eval]) for a in supp)


def stack_models(params: dict, names) -> list[dict]:
    """Parameters of several models stacked on a new leading axis, in the order ``names``."""
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *(params[m] for m in names))


def draw_counts(key, n_boot: int, n: int):
    """How often each of ``n`` items is drawn in each of ``n_boot`` resamples with replacement."""
    draws = jax.random.randint(key, (n_boot, n), 0, n)
    return jax.vmap(lambda d: jnp.bincount(d, length=n))(draws).astype(jnp.int16)


def crossed_bootstrap(values, seed_counts, task_counts):
    """Replicate means of ``values[..., n_seeds, n_tasks]`` under a crossed bootstrap: seeds and
    tasks resampled independently with replacement (``*_counts``: ``(n_boot, n)`` draw counts),
    the same resample for every leading index, so that differences of replicates are replicates
    of paired differences. Returns ``values.shape[:-2] + (n_boot,)``."""
    values = np.asarray(values, np.float64)
    w_s = np.asarray(seed_counts, np.float64) / values.shape[-2]
    w_t = np.asarray(task_counts, np.float64) / values.shape[-1]
    return np.einsum("...sb,bs->...b", values @ w_t.T, w_s)
