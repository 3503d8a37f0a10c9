"""M3: prototypical and matching networks trained over episodes of 5-way 5-shot 2-D Gaussian
clusters (:mod:`metatheory.tasks.clusters`; Snell et al. 2017, Vinyals et al. 2016), against
the nearest-centroid rule and its Bayes posterior predictive on held-out episodes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metatheory import stats
from metatheory.experiments import vmappable
from metatheory.learners import protonet as pn
from metatheory.tasks import clusters

__all__ = [
    "ACCURACY_LEVEL",
    "ProtonetClustersConfig",
    "PROTONET_CLUSTERS_PRESETS",
    "ProtonetClustersResult",
    "clusters_experiment",
]

ACCURACY_LEVEL = 1e-3
"""Tail probability of the stored per-method accuracy intervals (figure and ledger numbers)."""


@dataclass(frozen=True)
class ProtonetClustersConfig:
    family: clusters.Clusters = clusters.DEFAULT
    sizes: tuple[int, ...] = (2, 32, 32, 8)
    steps: int = 1000
    batch: int = 8
    lr: float = 3e-3  # Adam, cosine-decayed to 10% over the run
    n_windows: int = 20
    n_eval: int = 400  # held-out episodes
    grid: int = 120  # decision-region resolution


PROTONET_CLUSTERS_PRESETS = {
    "quick": ProtonetClustersConfig(),
    "full": ProtonetClustersConfig(
        steps=10000, batch=16, lr=1e-3, n_eval=5000, sizes=(2, 64, 64, 16)
    ),
}


@dataclass(frozen=True, kw_only=True)
class ProtonetClustersResult:
    acc: dict  # name -> (n_eval,) per-episode query accuracy
    ci: dict  # name -> stats.Interval of the mean accuracy (tail ACCURACY_LEVEL)
    nll: dict  # "proto" / "predictive" -> (n_eval,) per-episode query cross-entropy (nats)
    steps: np.ndarray
    loss: dict  # "proto" / "matching" -> window-mean training loss
    grid_x: np.ndarray  # (G,)
    regions: dict  # name -> (G, G) predicted class on the grid for the example episode
    example: tuple  # (xs, ys, xq, yq, centres) of the example episode
    prototypes: np.ndarray  # (K, 2) input-space means of the example's support
    n_way: int


def _windows(losses, n_windows):
    w = np.asarray(losses, np.float64)
    w = w[: len(w) // n_windows * n_windows].reshape(n_windows, -1)
    return (np.arange(n_windows) + 0.5) * w.shape[1], w.mean(1)


def _episode_nll(logits, yq):
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, yq[:, None], axis=1))


def _clusters_core(config: ProtonetClustersConfig, key: jax.Array) -> dict:
    """M3 (pure JAX over ``key``): train both networks over episodes, then per held-out
    episode the query accuracy of each, of the nearest-centroid rule (a reference independent
    of the learners), of the Bayes rule with the true centres, and of the chance control
    (prototypes from permuted support labels); the cross-entropies of the prototypical network
    and of the Bayes posterior predictive; decision regions of one episode."""
    c, fam = config, config.family
    k = fam.n_way
    k_init, k_train, k_eval, k_perm = jax.random.split(key, 4)
    sampler = lambda kk: clusters.sample_episodes(kk, c.batch, fam)[:4]
    opt = optax.adam(optax.cosine_decay_schedule(c.lr, c.steps, alpha=0.1))
    params, losses = {}, {}
    for i, name in enumerate(("proto", "matching")):
        loss_fn = pn.proto_loss if name == "proto" else pn.matching_loss
        p0 = pn.init(jax.random.fold_in(k_init, i), c.sizes, matching=name == "matching")
        train = pn.make_episode_train(partial(loss_fn, n_way=k), sampler, opt)
        params[name], losses[name] = train(p0, jax.random.fold_in(k_train, i), c.steps)

    xs, ys, xq, yq, centres = clusters.sample_episodes(k_eval, c.n_eval, fam)
    perm = jax.vmap(jax.random.permutation)(jax.random.split(k_perm, c.n_eval), ys)
    over = lambda f: jax.vmap(f)(xs, ys, xq)
    pp, pm = params["proto"], params["matching"]
    scores = {
        "proto": over(lambda a, b, q: pn.proto_logits(pp, a, b, q, k)),
        "matching": over(lambda a, b, q: pn.matching_log_probs(pm, a, b, q, k)),
        "centroid": over(lambda a, b, q: clusters.predictive_logits(a, b, q, fam)),
        "bayes": -jnp.sum((xq[:, :, None, :] - centres[:, None, :, :]) ** 2, -1),
        "control": jax.vmap(lambda a, b, q: pn.proto_logits(pp, a, b, q, k))(xs, perm, xq),
    }
    acc = {n: jax.vmap(pn.accuracy)(s, yq) for n, s in scores.items()}
    nll = {
        "proto": jax.vmap(_episode_nll)(scores["proto"], yq),
        "predictive": jax.vmap(_episode_nll)(scores["centroid"], yq),
    }

    g = jnp.linspace(-fam.box - 2.5, fam.box + 2.5, c.grid)
    gx, gy = jnp.meshgrid(g, g)
    pts = jnp.stack([gx.ravel(), gy.ravel()], -1)
    regions = {
        "proto": pn.proto_logits(pp, xs[0], ys[0], pts, k),
        "matching": pn.matching_log_probs(pm, xs[0], ys[0], pts, k),
        "centroid": clusters.predictive_logits(xs[0], ys[0], pts, fam),
    }
    regions = {n: jnp.argmax(r, -1).reshape(c.grid, c.grid) for n, r in regions.items()}
    return {
        "acc": acc,
        "nll": nll,
        "losses": losses,
        "grid": g,
        "regions": regions,
        "example": (xs[0], ys[0], xq[0], yq[0], centres[0]),
        "prototypes": clusters.centroids(xs[0], ys[0], k),
    }


def _clusters_finish(config: ProtonetClustersConfig, out: dict) -> ProtonetClustersResult:
    acc = {n: np.asarray(a, np.float64) for n, a in out["acc"].items()}
    loss, steps = {}, None
    for name, losses in out["losses"].items():
        steps, loss[name] = _windows(losses, config.n_windows)
    return ProtonetClustersResult(
        acc=acc,
        ci={n: stats.mean_ci(a, level=ACCURACY_LEVEL) for n, a in acc.items()},
        nll={n: np.asarray(a, np.float64) for n, a in out["nll"].items()},
        steps=steps,
        loss=loss,
        grid_x=np.asarray(out["grid"]),
        regions={n: np.asarray(r) for n, r in out["regions"].items()},
        example=tuple(np.asarray(a) for a in out["example"]),
        prototypes=np.asarray(out["prototypes"]),
        n_way=config.family.n_way,
    )


clusters_experiment = vmappable(_clusters_core, _clusters_finish)
"""M3: see :func:`_clusters_core`; seeds vmap (calibration runs them as one program)."""
