r"""Experiments for the metric lens: prototypes as linear classifiers (M1), the mean as the
Bregman-optimal centre (M2), and 5-way 5-shot Gaussian clusters (M3).

M1 and M2 run in float64 (exact identities, and a numerical minimizer against the prototype).
M3 trains prototypical and matching networks over episodes of
:mod:`metatheory.tasks.clusters` and measures held-out accuracy and cross-entropy against the
nearest-centroid rule and its Bayes posterior predictive.

Every experiment calls the learners of :mod:`metatheory.learners.protonet` (prototypes, the
distance logits, the linear head) and the divergences of :mod:`metatheory.symbolic.protonet`
through their module globals, so a mutant of either reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize
import sympy as sp

from metatheory import stats
from metatheory.experiments import experiment, vmappable
from metatheory.learners import protonet as pn
from metatheory.numerics import rel_err_norm
from metatheory.symbolic import protonet as sym
from metatheory.tasks import clusters

__all__ = [
    "LinearConfig",
    "LINEAR_PRESETS",
    "LinearResult",
    "linear_equivalence",
    "BregmanConfig",
    "BREGMAN_PRESETS",
    "BregmanResult",
    "bregman_centres",
    "divergence",
    "ClusterConfig",
    "CLUSTER_PRESETS",
    "ClusterResult",
    "clusters_experiment",
]

IDENTITY = {"f": []}
"""The identity embedding of :func:`metatheory.learners.protonet.embed`."""

# --------------------------------------------------------------------------- M1


@dataclass(frozen=True)
class LinearConfig:
    test_prototypes: tuple = ((1.0, 0.0), (0.0, 3.0))  # c_0, c_1 of the test value
    test_query: tuple = (1.0, 1.0)
    n_episodes: int = 16
    n_way: int = 5
    k_shot: int = 5
    n_query: int = 40
    sizes: tuple[int, ...] = (2, 32, 32, 8)  # an (untrained) embedding network


LINEAR_PRESETS = {"quick": LinearConfig(), "full": LinearConfig(n_episodes=256)}


@dataclass(frozen=True, kw_only=True)
class LinearResult:
    p_test_dist: np.ndarray  # softmax(-||x - c_k||^2) at the test value (protonet logits)
    p_test_linear: np.ndarray  # softmax(w_k.x + b_k) with (w, b) from the linear head
    p_test_control: np.ndarray  # with the wrong bias b_k = +||c_k||^2
    err_prob: float  # max |p_dist - p_linear| over random episodes (embedded by an MLP)
    err_shift: float  # max over queries of the spread over k of (dist - linear) logits + ||f||^2
    err_control: float  # max |p_dist - p_control| over the same episodes
    sympy_expansion: str  # residual of -||x-c||^2 - (2c.x - ||c||^2 - ||x||^2), simplified
    sympy_softmax: str  # residual of the two softmaxes, simplified


def _softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


@experiment
def linear_equivalence(config: LinearConfig, key: jax.Array) -> LinearResult:
    """M1 in float64: the test value through the learner (identity embedding) and random
    episodes through an MLP embedding; the protonet's distance logits against the logits of
    its linear head, and sympy's expansion of the squared distance."""
    c = config
    expansion, softmax_res = sym.derive_linear(2, 2)
    with jax.enable_x64(True):
        cp = jnp.asarray(c.test_prototypes, jnp.float64)
        x = jnp.asarray([c.test_query], jnp.float64)
        labels = jnp.arange(cp.shape[0])
        dist = pn.proto_logits(IDENTITY, cp, labels, x, cp.shape[0])[0]
        lin = pn.linear_logits(IDENTITY, cp, labels, x, cp.shape[0])[0]
        wrong = 2 * cp @ x[0] + jnp.sum(cp**2, -1)  # the control: bias with the wrong sign

        kp, kd = jax.random.split(key)
        params = pn.init(kp, c.sizes)  # float64 under enable_x64
        n_s = c.n_way * c.k_shot
        xs = jax.random.normal(kd, (c.n_episodes, n_s + c.n_query, c.sizes[0]), jnp.float64)
        ys = jnp.tile(jnp.arange(c.n_way), c.k_shot)

        def logits(xe):
            f = pn.embed(params, xe)
            proto = pn.prototypes(f[:n_s], ys, c.n_way)
            d = pn.proto_logits(params, xe[:n_s], ys, xe[n_s:], c.n_way)
            li = pn.linear_logits(params, xe[:n_s], ys, xe[n_s:], c.n_way)
            bad = f[n_s:] @ (2 * proto).T + jnp.sum(proto**2, -1)
            return d, li, bad, jnp.sum(f[n_s:] ** 2, -1)

        d, li, bad, fsq = (np.asarray(a) for a in jax.jit(jax.vmap(logits))(xs))
        dist, lin, wrong = (np.asarray(a) for a in (dist, lin, wrong))
    shift = d - li + fsq[..., None]  # zero when -||f - c||^2 = 2c.f - ||c||^2 - ||f||^2
    spread = shift.max(-1) - shift.min(-1)
    return LinearResult(
        p_test_dist=_softmax(dist),
        p_test_linear=_softmax(lin),
        p_test_control=_softmax(wrong),
        err_prob=float(np.max(np.abs(_softmax(d) - _softmax(li)))),
        err_shift=float(np.max(spread) / np.max(np.abs(d))),
        err_control=float(np.max(np.abs(_softmax(d) - _softmax(bad)))),
        sympy_expansion=str(expansion),
        sympy_softmax=str(softmax_res),
    )


# --------------------------------------------------------------------------- M2

_X, _MU = sp.symbols("x mu", positive=True)


def divergence(name: str):
    """``D(x, μ)`` of the named generator of :data:`metatheory.symbolic.protonet.GENERATORS`,
    lambdified from :func:`metatheory.symbolic.protonet.bregman` at call time (so a mutant of
    the symbolic definition reaches the numerics), summed over a trailing coordinate axis."""
    expr = sym.bregman(sym.GENERATORS[name], _X, _MU)
    f = sp.lambdify((_X, _MU), expr, modules="jax")
    return lambda x, mu: jnp.sum(f(x, mu), -1)


@dataclass(frozen=True)
class BregmanConfig:
    n_datasets: int = 8
    n_points: int = 25  # odd: the median is unique (the L1 control)
    dim: int = 3
    gamma_shape: float = 1.5  # positive, right-skewed data: mean != median


BREGMAN_PRESETS = {"quick": BregmanConfig(), "full": BregmanConfig(n_datasets=64)}


@dataclass(frozen=True, kw_only=True)
class BregmanResult:
    names: tuple
    err_min: np.ndarray  # (divergence,) max rel. error, numerical minimizer vs the prototype
    grad_at_centre: np.ndarray  # (divergence,) max |grad of sum D at the prototype| / |at start|
    err_reverse: np.ndarray  # (divergence,) min rel. gap, argmin sum D(mu, x_i) vs the prototype
    symbolic_err: np.ndarray  # (divergence,) |sympy stationary point - mean| at a rational point
    symbolic_condition: str  # sympy residual of d/dmu sum D = -phi''(mu) sum (x_i - mu)
    l1_vs_median: float  # max rel. error, numerical L1 minimizer vs the median
    l1_vs_centre: float  # min rel. gap, numerical L1 minimizer vs the prototype (control)
    l1_subgrad_at_centre: float  # min over datasets of |sum sign(x_i - centre)| (0 at an optimum)
    example: np.ndarray  # (n_points,) one coordinate of one dataset, for the figure
    example_curves: dict  # name -> (grid, objective) of that coordinate


_RATIONAL_POINTS = (sp.Rational(1, 2), sp.Integer(2), sp.Integer(7))
"""Three positive points at which the symbolic stationary point is compared with their mean."""


def _symbolic_centres(names):
    """Per generator: |the stationary point of Σ D(x_i, μ) (sympy) − the mean| at three rational
    points, ``inf`` when sympy finds no unique positive stationary point."""
    out = []
    for name in names:
        sols, mean = sym.derive_centre(name, len(_RATIONAL_POINTS))
        xs = sp.symbols(f"x_1:{len(_RATIONAL_POINTS) + 1}", positive=True)
        subs = dict(zip(xs, _RATIONAL_POINTS, strict=True))
        vals = [complex(sp.N(s.subs(subs), 30)) for s in sols]
        vals = [v.real for v in vals if abs(v.imag) < 1e-20 and v.real > 0]
        target = float(sp.N(mean.subs(subs), 30))
        out.append(abs(vals[0] - target) if len(vals) == 1 else np.inf)
    return np.array(out)


def _minimize(fun_and_grad, start):
    """L-BFGS-B (float64, tight tolerances, ``μ > 0``) from ``start``; returns the minimizer."""
    fun = lambda m: tuple(np.asarray(a, np.float64) for a in fun_and_grad(jnp.asarray(m)))
    res = scipy.optimize.minimize(
        fun,
        np.asarray(start),
        jac=True,
        method="L-BFGS-B",
        bounds=[(1e-8, None)] * len(start),
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000},
    )
    return res.x


@experiment
def bregman_centres(config: BregmanConfig, key: jax.Array) -> BregmanResult:
    """M2: numerical minimizers of ``Σ_i D(x_i, μ)`` against the protonet's prototype
    (:func:`metatheory.learners.protonet.prototypes` of one class); ``Σ_i D(μ, x_i)`` and the L1
    distance, which are not minimized by the mean; the gradient at the prototype; sympy's
    stationary points."""
    c = config
    names = tuple(sym.GENERATORS)
    grad, factored = sym.derive_bregman_condition()
    condition = sp.simplify(grad - factored)
    symbolic_err = _symbolic_centres(names)
    with jax.enable_x64(True):
        data = jax.random.gamma(key, c.gamma_shape, (c.n_datasets, c.n_points, c.dim))
        data = np.asarray(data, np.float64)
        label = jnp.zeros(c.n_points, jnp.int32)
        centres = [np.asarray(pn.prototypes(jnp.asarray(x), label, 1)[0]) for x in data]
        err_min, grad_c, err_rev = [], [], []
        for name in names:
            d = divergence(name)
            fwd = jax.jit(jax.value_and_grad(lambda m, x, d=d: jnp.sum(d(x, m))))
            rev = jax.jit(jax.value_and_grad(lambda m, x, d=d: jnp.sum(d(m, x))))
            em, gm, er = 0.0, 0.0, np.inf
            for x, centre in zip(data, centres, strict=True):
                xj = jnp.asarray(x)
                start = x.max(0)  # start far from the mean
                em = max(
                    em, rel_err_norm(_minimize(lambda m, xj=xj, f=fwd: f(m, xj), start), centre)
                )
                g_c = np.asarray(fwd(jnp.asarray(centre), xj)[1])
                g_s = np.asarray(fwd(jnp.asarray(start), xj)[1])
                gm = max(gm, float(np.linalg.norm(g_c) / np.linalg.norm(g_s)))
                if name != "sqeuclid":  # symmetric there: the reverse minimizer is the mean too
                    mr = _minimize(lambda m, xj=xj, f=rev: f(m, xj), start)
                    er = min(er, rel_err_norm(mr, centre))
            err_min.append(em)
            grad_c.append(gm)
            err_rev.append(er)

        # control: L1 is not a Bregman divergence; its minimizer is the coordinatewise median
        l1_med, l1_c, sub = 0.0, np.inf, np.inf
        for x, centre in zip(data, centres, strict=True):
            mu = np.array(
                [
                    scipy.optimize.minimize_scalar(
                        lambda m, v=v: np.sum(np.abs(v - m)),
                        bounds=(v.min(), v.max()),
                        method="bounded",
                        options={"xatol": 1e-12},
                    ).x
                    for v in x.T
                ]
            )
            l1_med = max(l1_med, rel_err_norm(mu, np.median(x, 0)))
            l1_c = min(l1_c, rel_err_norm(mu, centre))
            sub = min(sub, float(np.max(np.abs(np.sum(np.sign(x - centre), 0)))))

        v = data[0, :, 0]
        grid = np.linspace(0.6 * v.mean(), 1.5 * v.mean(), 400)
        curves = {}
        for name in names:
            d = divergence(name)
            f = jax.jit(jax.vmap(lambda m, d=d: jnp.sum(d(jnp.asarray(v)[:, None], m[None]))))
            curves[name] = (grid, np.asarray(f(jnp.asarray(grid))))
        curves["l1"] = (grid, np.array([np.sum(np.abs(v - m)) for m in grid]))
    return BregmanResult(
        names=names,
        err_min=np.array(err_min),
        grad_at_centre=np.array(grad_c),
        err_reverse=np.array(err_rev),
        symbolic_err=symbolic_err,
        symbolic_condition=str(condition),
        l1_vs_median=l1_med,
        l1_vs_centre=l1_c,
        l1_subgrad_at_centre=sub,
        example=v,
        example_curves=curves,
    )


# --------------------------------------------------------------------------- M3


@dataclass(frozen=True)
class ClusterConfig:
    family: clusters.Clusters = clusters.DEFAULT
    sizes: tuple[int, ...] = (2, 32, 32, 8)
    steps: int = 1000
    batch: int = 8
    lr: float = 3e-3  # Adam, cosine-decayed to 10% over the run
    n_windows: int = 20
    n_eval: int = 400  # held-out episodes
    grid: int = 120  # decision-region resolution


CLUSTER_PRESETS = {
    "quick": ClusterConfig(),
    "full": ClusterConfig(steps=10000, batch=16, lr=1e-3, n_eval=5000, sizes=(2, 64, 64, 16)),
}


@dataclass(frozen=True, kw_only=True)
class ClusterResult:
    acc: dict  # name -> (n_eval,) per-episode query accuracy
    ci: dict  # name -> stats.MeanCI (99.9%) of the accuracy
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


def _clusters_core(config: ClusterConfig, key: jax.Array) -> dict:
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


def _clusters_finish(config: ClusterConfig, out: dict) -> ClusterResult:
    acc = {n: np.asarray(a, np.float64) for n, a in out["acc"].items()}
    loss, steps = {}, None
    for name, losses in out["losses"].items():
        steps, loss[name] = _windows(losses, config.n_windows)
    return ClusterResult(
        acc=acc,
        ci={n: stats.mean_ci(a, level=0.999) for n, a in acc.items()},
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
