r"""K-way few-shot classification of 2-D isotropic Gaussian clusters (claim M3).

An episode draws ``K`` class centres :math:`\mu_k \sim U[-b, b]^2`, then ``k_shot`` support
and ``n_query`` query points per class, :math:`x \sim N(\mu_k, \sigma^2 I)`. With equal class
priors the Bayes rule given the true centres is the nearest centre, and its posterior is
:math:`\mathrm{softmax}_k(-\|x-\mu_k\|^2 / 2\sigma^2)`. With the centres unknown and a flat prior
on each, the class mean :math:`\hat c_k` of ``k_shot`` support points has
:math:`\mu_k | \text{support} \sim N(\hat c_k, \sigma^2/k_{\text{shot}})`, so the posterior
predictive of a query is

.. math:: p(y = k \mid x, S) = \mathrm{softmax}_k\Big(-\frac{\|x-\hat c_k\|^2}
          {2\sigma^2(1 + 1/k_{\text{shot}})}\Big),

the nearest-centroid rule with calibrated probabilities (:func:`predictive_logits`). By the
identity of Snell et al. (2017, Sec. 2.4) a prototypical network with the linear embedding
:math:`f(x) = x / \sqrt{2\sigma^2(1+1/k_{\text{shot}})}` computes exactly this predictive.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp

__all__ = ["Clusters", "DEFAULT", "sample_episodes", "centroids", "predictive_logits"]


@dataclass(frozen=True)
class Clusters:
    """``n_way`` classes, ``k_shot`` support and ``n_query`` query points per class."""

    n_way: int = 5
    k_shot: int = 5
    n_query: int = 15
    box: float = 4.0  # class centres ~ U[-box, box]^2
    sigma: float = 1.0  # isotropic within-class standard deviation


DEFAULT = Clusters()


@partial(jax.jit, static_argnums=(1, 2))
def sample_episodes(key: jax.Array, n: int, family: Clusters = DEFAULT):
    """``n`` episodes ``(xs, ys, xq, yq, centres)``: support ``(n, K·k_shot, 2)`` with labels
    ``0..K-1`` cycling, queries ``(n, K·n_query, 2)``, the true centres ``(n, K, 2)``."""
    c = family
    kc, ks, kq = jax.random.split(key, 3)
    centres = jax.random.uniform(kc, (n, c.n_way, 2), minval=-c.box, maxval=c.box)
    ys = jnp.tile(jnp.arange(c.n_way), c.k_shot)
    yq = jnp.tile(jnp.arange(c.n_way), c.n_query)
    xs = centres[:, ys] + c.sigma * jax.random.normal(ks, (n, ys.size, 2))
    xq = centres[:, yq] + c.sigma * jax.random.normal(kq, (n, yq.size, 2))
    return xs, jnp.broadcast_to(ys, (n, ys.size)), xq, jnp.broadcast_to(yq, (n, yq.size)), centres


def centroids(xs, ys, n_way: int):
    """Class means of one support set, ``(K, 2)``: a reference independent of the learners."""
    counts = jnp.sum(ys[None, :] == jnp.arange(n_way)[:, None], axis=1)
    sums = jnp.stack(
        [jnp.sum(jnp.where((ys == k)[:, None], xs, 0.0), axis=0) for k in range(n_way)]
    )
    return sums / counts[:, None]


def predictive_logits(xs, ys, xq, family: Clusters = DEFAULT):
    """Logits of the Bayes posterior predictive (module docstring) for one episode, ``(n_q, K)``:
    ``-‖x - ĉ_k‖² / (2σ²(1 + 1/k_shot))``. Their argmax is the nearest-centroid rule."""
    c = centroids(xs, ys, family.n_way)
    d2 = jnp.sum((xq[:, None, :] - c[None, :, :]) ** 2, axis=-1)
    return -d2 / (2 * family.sigma**2 * (1 + 1 / family.k_shot))
