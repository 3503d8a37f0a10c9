r"""Experiments for the metric lens: prototypes as linear classifiers (M1), the mean as the
Bregman-optimal centre (M2), and 5-way 5-shot Gaussian clusters (M3).

M1 and M2 run in float64 (exact identities, and a numerical minimizer against the mean);
M3 trains prototypical and matching networks over episodes and measures held-out accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize

from metatheory import stats
from metatheory.learners import protonet as pn

__all__ = [
    "LinearConfig",
    "LINEAR_QUICK",
    "LINEAR_FULL",
    "LinearResult",
    "linear_equivalence",
    "BREGMAN",
    "bregman",
    "BregmanConfig",
    "BREGMAN_QUICK",
    "BREGMAN_FULL",
    "BregmanResult",
    "bregman_centres",
    "ClusterConfig",
    "QUICK",
    "FULL",
    "sample_episodes",
    "ClusterResult",
    "clusters",
]

# --------------------------------------------------------------------------- M1


@dataclass(frozen=True)
class LinearConfig:
    test_prototypes: tuple = ((1.0, 0.0), (0.0, 3.0))  # c_0, c_1 of CLAIMS.md
    test_query: tuple = (1.0, 1.0)
    n_episodes: int = 16
    n_way: int = 5
    k_shot: int = 5
    n_query: int = 40
    sizes: tuple[int, ...] = (2, 32, 32, 8)  # an (untrained) embedding network


LINEAR_QUICK = LinearConfig()
LINEAR_FULL = LinearConfig(n_episodes=256)


@dataclass
class LinearResult:
    p_test_dist: np.ndarray  # softmax(-||x - c_k||^2) at the test value
    p_test_linear: np.ndarray  # softmax(2 c_k.x - ||c_k||^2) at the test value
    p_test_control: np.ndarray  # with the wrong bias b_k = +||c_k||^2
    err_prob: float  # max |p_dist - p_linear| over random episodes (embedded by an MLP)
    err_shift: float  # max over queries of the spread over k of (dist - linear) logits + ||f||^2
    err_control: float  # max |p_dist - p_control| over the same episodes


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def linear_equivalence(config: LinearConfig, key: jax.Array) -> LinearResult:
    """M1 in float64: the test value of CLAIMS.md and random episodes through an MLP."""
    c = config
    cp = np.asarray(c.test_prototypes, np.float64)
    x = np.asarray(c.test_query, np.float64)
    dist = -np.sum((x[None] - cp) ** 2, -1)
    lin = 2 * cp @ x - np.sum(cp**2, -1)
    wrong = 2 * cp @ x + np.sum(cp**2, -1)
    with jax.enable_x64(True):
        kp, kd = jax.random.split(key)
        params = pn.init(kp, c.sizes)
        n_s = c.n_way * c.k_shot
        xs = jax.random.normal(kd, (c.n_episodes, n_s + c.n_query, c.sizes[0]))
        ys = jnp.tile(jnp.arange(c.n_way), c.k_shot)

        @jax.jit
        def logits(xe):
            f = pn.embed(params, xe)
            proto = pn.prototypes(f[:n_s], ys, c.n_way)
            d = pn.proto_logits(params, xe[:n_s], ys, xe[n_s:], c.n_way)
            li = pn.linear_logits(params, xe[:n_s], ys, xe[n_s:], c.n_way)
            bad = f[n_s:] @ (2 * proto).T + jnp.sum(proto**2, -1)
            return d, li, bad, jnp.sum(f[n_s:] ** 2, -1)

        d, li, bad, fsq = (np.asarray(a) for a in jax.vmap(logits)(xs))
    shift = d - li + fsq[..., None]  # zero when -||f - c||^2 = 2c.f - ||c||^2 - ||f||^2
    scale = np.max(np.abs(d))
    return LinearResult(
        _softmax(dist),
        _softmax(lin),
        _softmax(wrong),
        float(np.max(np.abs(_softmax(d) - _softmax(li)))),
        float(np.max(np.abs(shift)) / scale),
        float(np.max(np.abs(_softmax(d) - _softmax(bad)))),
    )


# --------------------------------------------------------------------------- M2


def _sq_euclid(x, mu):
    return jnp.sum((x - mu) ** 2, -1)


def _gen_kl(x, mu):
    return jnp.sum(x * jnp.log(x / mu) - x + mu, -1)


def _itakura_saito(x, mu):
    return jnp.sum(x / mu - jnp.log(x / mu) - 1, -1)


def _l1(x, mu):
    return jnp.sum(jnp.abs(x - mu), -1)


BREGMAN = {
    "sqeuclid": _sq_euclid,  # phi(x) = ||x||^2
    "genkl": _gen_kl,  # phi(x) = sum x log x - x
    "itakurasaito": _itakura_saito,  # phi(x) = -sum log x
}
"""Divergences ``D_φ(x, μ) = φ(x) − φ(μ) − ⟨∇φ(μ), x − μ⟩``, summed over coordinates."""


def bregman(name: str, x, mu):
    """``D_φ(x, μ)`` of the named divergence (``x, μ`` broadcast over a trailing axis)."""
    return BREGMAN[name](x, mu)


@dataclass(frozen=True)
class BregmanConfig:
    n_datasets: int = 8
    n_points: int = 25  # odd: the median is unique (the L1 control)
    dim: int = 3
    gamma_shape: float = 1.5  # positive, right-skewed data: mean != median


BREGMAN_QUICK = BregmanConfig()
BREGMAN_FULL = BregmanConfig(n_datasets=64)


@dataclass
class BregmanResult:
    names: tuple
    err_min: np.ndarray  # (divergence,) max rel. error of the numerical minimizer vs the mean
    grad_at_mean: np.ndarray  # (divergence,) max |grad of sum D at the mean| / |grad at start|
    err_reverse: np.ndarray  # (divergence,) min rel. gap, argmin_mu sum D(mu, x_i) vs the mean
    l1_vs_median: float  # max rel. error, numerical L1 minimizer vs the median
    l1_vs_mean: float  # min rel. gap, numerical L1 minimizer vs the mean (control)
    l1_subgrad_at_mean: float  # min over datasets of |sum sign(x_i - mean)| (0 at an optimum)
    example: np.ndarray  # (n_points,) one coordinate of one dataset, for the figure
    example_curves: dict  # name -> (grid, objective) of that coordinate


@partial(jax.jit, static_argnums=(0, 1))
def _objective(name, reverse, mu, x):
    """``Σ_i D(x_i, μ)`` (or ``Σ_i D(μ, x_i)`` when ``reverse``) and its gradient in ``μ``."""
    d = BREGMAN[name]
    return jax.value_and_grad(lambda m: jnp.sum(d(m, x) if reverse else d(x, m)))(mu)


def _minimize(name, x, start, reverse=False):
    """L-BFGS-B (float64, tight tolerances, ``μ > 0``) from ``start``; returns the minimizer."""
    xj = jnp.asarray(x)
    fun = lambda m: tuple(
        np.asarray(a, np.float64) for a in _objective(name, reverse, jnp.asarray(m), xj)
    )
    res = scipy.optimize.minimize(
        fun,
        np.asarray(start),
        jac=True,
        method="L-BFGS-B",
        bounds=[(1e-8, None)] * len(start),
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000},
    )
    return res.x


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def bregman_centres(config: BregmanConfig, key: jax.Array) -> BregmanResult:
    """M2: numerical minimizers of ``Σ_i D(x_i, μ)`` vs the mean (and of ``Σ_i D(μ, x_i)``, and of
    the L1 distance, which are not the mean), with the gradient at the mean."""
    c = config
    names = tuple(BREGMAN)
    with jax.enable_x64(True):
        data = jax.random.gamma(key, c.gamma_shape, (c.n_datasets, c.n_points, c.dim))
        data = np.asarray(data, np.float64)
        err_min, grad_mean, err_rev = [], [], []
        for name in names:
            em, gm, er = 0.0, 0.0, np.inf
            for x in data:
                start, mean = x.max(0), x.mean(0)  # start far from the mean
                em = max(em, _rel(_minimize(name, x, start), mean))
                g_mean = _objective(name, False, jnp.asarray(mean), jnp.asarray(x))[1]
                g_start = _objective(name, False, jnp.asarray(start), jnp.asarray(x))[1]
                gm = max(gm, float(jnp.linalg.norm(g_mean) / jnp.linalg.norm(g_start)))
                if name != "sqeuclid":  # symmetric there: the reverse minimizer is the mean too
                    er = min(er, _rel(_minimize(name, x, start, reverse=True), mean))
            err_min.append(em)
            grad_mean.append(gm)
            err_rev.append(er)

        # control: L1 is not a Bregman divergence; its minimizer is the coordinatewise median
        l1_med, l1_mean, sub = 0.0, np.inf, np.inf
        for x in data:
            mu = np.array(
                [
                    scipy.optimize.minimize_scalar(
                        lambda m, v=x[:, j]: np.sum(np.abs(v - m)),
                        bounds=(v.min(), v.max()),
                        method="bounded",
                        options={"xatol": 1e-12},
                    ).x
                    for j, v in enumerate(x.T)
                ]
            )
            l1_med = max(l1_med, _rel(mu, np.median(x, 0)))
            l1_mean = min(l1_mean, _rel(mu, x.mean(0)))
            sub = min(sub, float(np.max(np.abs(np.sum(np.sign(x - x.mean(0)), 0)))))

        v = data[0, :, 0]
        grid = np.linspace(0.6 * v.mean(), 1.5 * v.mean(), 400)
        curves = {
            name: (grid, np.array([float(jnp.sum(BREGMAN[name](v[:, None], m))) for m in grid]))
            for name in names
        }
        curves["l1"] = (grid, np.array([np.sum(np.abs(v - m)) for m in grid]))
    return BregmanResult(
        names,
        np.array(err_min),
        np.array(grad_mean),
        np.array(err_rev),
        l1_med,
        l1_mean,
        sub,
        v,
        curves,
    )


# --------------------------------------------------------------------------- M3


@dataclass(frozen=True)
class ClusterConfig:
    n_way: int = 5
    k_shot: int = 5
    n_query: int = 15  # per class
    box: float = 4.0  # class centres ~ U[-box, box]^2
    sigma: float = 1.0  # isotropic within-class standard deviation
    sizes: tuple[int, ...] = (2, 32, 32, 8)
    steps: int = 1000
    batch: int = 8
    lr: float = 3e-3
    n_windows: int = 20
    n_eval: int = 500  # held-out episodes
    grid: int = 120  # decision-region resolution


QUICK = ClusterConfig()
FULL = ClusterConfig(steps=10000, batch=16, lr=1e-3, n_eval=5000, sizes=(2, 64, 64, 16))


@partial(jax.jit, static_argnums=(1, 2))
def sample_episodes(key, n: int, c: ClusterConfig):
    """``n`` episodes: support ``(n, K·k_shot, 2)`` with labels ``0..K-1`` cycling, queries
    ``(n, K·n_query, 2)``, and the true centres ``(n, K, 2)``."""
    kc, ks, kq = jax.random.split(key, 3)
    centres = jax.random.uniform(kc, (n, c.n_way, 2), minval=-c.box, maxval=c.box)
    ys = jnp.tile(jnp.arange(c.n_way), c.k_shot)
    yq = jnp.tile(jnp.arange(c.n_way), c.n_query)
    xs = centres[:, ys] + c.sigma * jax.random.normal(ks, (n, ys.size, 2))
    xq = centres[:, yq] + c.sigma * jax.random.normal(kq, (n, yq.size, 2))
    return xs, jnp.broadcast_to(ys, (n, ys.size)), xq, jnp.broadcast_to(yq, (n, yq.size)), centres


@dataclass
class ClusterResult:
    acc: dict  # name -> (n_eval,) per-episode query accuracy
    ci: dict  # name -> stats.MeanCI (99.9%)
    steps: np.ndarray
    loss: dict  # "proto" / "matching" -> window-mean training loss
    trend: dict  # name -> stats.SlopeFit of loss vs log step
    grid_x: np.ndarray  # (G,)
    regions: dict  # name -> (G, G) predicted class on the grid for the example episode
    example: tuple  # (xs, ys, xq, yq, centres) of the example episode
    prototypes: np.ndarray  # (K, 2) input-space means of the example's support


def _windows(losses, n_windows):
    w = np.asarray(losses, np.float64)
    w = w[: len(w) // n_windows * n_windows].reshape(n_windows, -1)
    return (np.arange(n_windows) + 0.5) * w.shape[1], w.mean(1)


def clusters(config: ClusterConfig, key: jax.Array) -> ClusterResult:
    """M3: train both networks over episodes; held-out accuracy per episode against the
    nearest-centroid rule in input space, the Bayes rule with the true centres, and a
    chance-level control (prototypes from randomly permuted support labels)."""
    c = config
    k_init, k_train, k_eval, k_perm = jax.random.split(key, 4)
    sampler = lambda k: sample_episodes(k, c.batch, c)[:4]
    opt = optax.adam(optax.cosine_decay_schedule(c.lr, c.steps, alpha=0.1))
    params, loss, trend = {}, {}, {}
    for i, (name, fn) in enumerate((("proto", pn.proto_loss), ("matching", pn.matching_loss))):
        p0 = pn.init(jax.random.fold_in(k_init, i), c.sizes, matching=name == "matching")
        train = pn.make_episode_train(partial(fn, n_way=c.n_way), sampler, opt)
        params[name], losses = train(p0, jax.random.fold_in(k_train, i), c.steps)
        steps, loss[name] = _windows(losses, c.n_windows)
        trend[name] = stats.linear_fit(np.log(steps[1:]), loss[name][1:])

    xs, ys, xq, yq, centres = sample_episodes(k_eval, c.n_eval, c)
    perm = jax.vmap(lambda k, y: jax.random.permutation(k, y))(
        jax.random.split(k_perm, c.n_eval), ys
    )
    identity = {"f": []}  # the identity embedding: nearest centroid in input space
    bayes_d = -jnp.sum((xq[:, :, None, :] - centres[:, None, :, :]) ** 2, -1)

    @jax.jit
    def scores(pp, pm, xs, ys, xq, perm):
        k = c.n_way
        return {
            "proto": jax.vmap(lambda a, b, q: pn.proto_logits(pp, a, b, q, k))(xs, ys, xq),
            "matching": jax.vmap(lambda a, b, q: pn.matching_log_probs(pm, a, b, q, k))(xs, ys, xq),
            "centroid": jax.vmap(lambda a, b, q: pn.proto_logits(identity, a, b, q, k))(xs, ys, xq),
            "control": jax.vmap(lambda a, b, q: pn.proto_logits(pp, a, b, q, k))(xs, perm, xq),
        }

    sc = scores(params["proto"], params["matching"], xs, ys, xq, perm)
    sc["bayes"] = bayes_d
    acc = {n: np.asarray(jax.vmap(pn.accuracy)(s, yq)) for n, s in sc.items()}
    ci = {n: stats.mean_ci(a, level=0.999) for n, a in acc.items()}

    # decision regions of the first held-out episode
    g = jnp.linspace(-c.box - 2.5, c.box + 2.5, c.grid)
    gx, gy = jnp.meshgrid(g, g)
    pts = jnp.stack([gx.ravel(), gy.ravel()], -1)
    k = c.n_way
    regions = {
        "proto": pn.proto_logits(params["proto"], xs[0], ys[0], pts, k),
        "matching": pn.matching_log_probs(params["matching"], xs[0], ys[0], pts, k),
        "centroid": pn.proto_logits(identity, xs[0], ys[0], pts, k),
    }
    regions = {n: np.asarray(jnp.argmax(r, -1)).reshape(c.grid, c.grid) for n, r in regions.items()}
    example = tuple(np.asarray(a[0]) for a in (xs, ys, xq, yq, centres))
    return ClusterResult(
        acc,
        ci,
        steps,
        loss,
        trend,
        np.asarray(g),
        regions,
        example,
        np.asarray(pn.prototypes(xs[0], ys[0], k)),
    )
