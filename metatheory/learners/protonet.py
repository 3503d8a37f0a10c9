r"""Prototypical and matching networks as pure functions over pytrees (claims M1, M3).

**Prototypical networks** (Snell et al. 2017): an embedding ``f`` (a :mod:`metatheory.nets`
MLP), class prototypes ``c_k = mean_{i: y_i = k} f(x_i)`` over the support set, and
:math:`p(y = k|x) = \mathrm{softmax}_k(-\|f(x) - c_k\|^2)`. Since
:math:`-\|f - c_k\|^2 = 2c_k^\top f - \|c_k\|^2 - \|f\|^2` and the last term is the same for
every class, this is the linear classifier ``w_k = 2c_k``, ``b_k = -‖c_k‖²`` on ``f(x)``
(Snell et al. 2017, Sec. 2.4).

**Matching networks** (Vinyals et al. 2016, without full-context embeddings): attention over
the support set, :math:`p(y = k|x) = \sum_i a(x, x_i)[y_i = k]` with
:math:`a = \mathrm{softmax}_i(\tau \cos(f(x), f(x_i)))` and a learned temperature ``τ``.

Both are trained over episodes by minimizing the query cross-entropy with optax.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from metatheory import nets
from metatheory.learners.train import make_scan_train

__all__ = [
    "init",
    "embed",
    "prototypes",
    "proto_logits",
    "linear_head",
    "linear_logits",
    "proto_loss",
    "matching_log_probs",
    "matching_loss",
    "accuracy",
    "make_episode_train",
]


def init(key: jax.Array, sizes: tuple[int, ...], *, matching: bool = False) -> dict:
    """Embedding parameters ``{"f": mlp}``; matching networks add ``log_tau`` (τ = 10 at init)."""
    p = {"f": nets.init(key, sizes)}
    if matching:
        p["log_tau"] = jnp.log(jnp.asarray(10.0))
    return p


def embed(params, x):
    """``f(x)``; an empty layer list ``{"f": []}`` is the identity embedding."""
    return nets.apply(params["f"], x) if params["f"] else x


def prototypes(emb, labels, n_way: int):
    """``c_k``: the mean embedding of each class, ``emb (n, d)``, ``labels (n,)`` -> ``(K, d)``."""
    onehot = jax.nn.one_hot(labels, n_way, dtype=emb.dtype)
    return (onehot.T @ emb) / jnp.sum(onehot, axis=0)[:, None]


def proto_logits(params, xs, ys, xq, n_way: int):
    """``-‖f(x_q) - c_k‖²`` for every query and class, shape ``(n_q, K)``."""
    c = prototypes(embed(params, xs), ys, n_way)
    fq = embed(params, xq)
    return -jnp.sum((fq[:, None, :] - c[None, :, :]) ** 2, axis=-1)


def linear_head(c):
    """The equivalent linear classifier of the prototypes ``c (K, d)``: ``W = 2c``,
    ``b = -‖c‖²`` (logits ``f W^T + b``)."""
    return 2.0 * c, -jnp.sum(c**2, axis=-1)


def linear_logits(params, xs, ys, xq, n_way: int):
    """Logits of the linear head on the embedded queries: ``2 c_k^T f(x) - ‖c_k‖²``."""
    w, b = linear_head(prototypes(embed(params, xs), ys, n_way))
    return embed(params, xq) @ w.T + b


def proto_loss(params, xs, ys, xq, yq, n_way: int):
    """Mean query cross-entropy of one episode."""
    logp = jax.nn.log_softmax(proto_logits(params, xs, ys, xq, n_way))
    return -jnp.mean(jnp.take_along_axis(logp, yq[:, None], axis=1))


def matching_log_probs(params, xs, ys, xq, n_way: int):
    """``log Σ_i a(x_q, x_i)[y_i = k]``, cosine attention with temperature τ, ``(n_q, K)``."""
    fs, fq = embed(params, xs), embed(params, xq)
    unit = lambda v: v / jnp.sqrt(jnp.sum(v**2, axis=-1, keepdims=True) + 1e-12)
    log_a = jax.nn.log_softmax(jnp.exp(params["log_tau"]) * unit(fq) @ unit(fs).T, axis=1)
    onehot = jax.nn.one_hot(ys, n_way, dtype=fs.dtype)
    # log Σ_i a_i [y_i = k], computed stably: logsumexp over the support of log a + log 1[y=k]
    mask = jnp.where(onehot.T[None, :, :] > 0, 0.0, -jnp.inf)  # (1, K, n_s)
    return jax.nn.logsumexp(log_a[:, None, :] + mask, axis=-1)


def matching_loss(params, xs, ys, xq, yq, n_way: int):
    """Mean query cross-entropy of one matching-network episode."""
    logp = matching_log_probs(params, xs, ys, xq, n_way)
    return -jnp.mean(jnp.take_along_axis(logp, yq[:, None], axis=1))


def accuracy(scores, yq):
    """Fraction of queries whose highest-scoring class is the label."""
    return jnp.mean(jnp.argmax(scores, axis=-1) == yq)


def make_episode_train(loss_fn, sample_episodes, optimizer: optax.GradientTransformation):
    """``train(params, key, n_steps) -> (params, losses)``: Adam over batches of episodes in a
    ``lax.scan``. ``sample_episodes(key) -> (xs, ys, xq, yq)`` with a leading batch axis;
    ``loss_fn(params, xs, ys, xq, yq)`` is one episode's loss (minimized)."""

    def batch_loss(params, key):
        xs, ys, xq, yq = sample_episodes(key)
        return jnp.mean(jax.vmap(loss_fn, (None, 0, 0, 0, 0))(params, xs, ys, xq, yq))

    return make_scan_train(batch_loss, optimizer)
