r"""B2: a CNP and a latent NP (and, at paper scale, an attentive CNP) trained with Adam over fresh
GP tasks, evaluated on held-out tasks against the exact GP predictive at checkpoints along
training (the closed share of the prior-to-oracle NLL gap against training steps); and the
LNP's ELBO and importance-weighted log-likelihood estimators on a *linear-Gaussian* LNP, whose
exact ELBO and log-likelihood are closed forms (Garnelo et al. 2018a,b; Kim et al. 2019).

Held-out protocol: each evaluation task has ``n_context_max`` context candidates and
``n_eval_targets`` separate targets; a context of size ``n`` is the first ``n`` candidates, so
the NLL curves over ``n`` are paired (same targets, nested contexts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metatheory import stats
from metatheory.experiments import vmappable
from metatheory.experiments.neural_process._common import (
    FAMILY,
    closed_forms,
    exact_bounds,
    kl_diag,
    linear_gaussian_lnp,
)
from metatheory.learners import neural_process as npl
from metatheory.tasks import gp

__all__ = [
    "NeuralProcessesConfig",
    "NEURAL_PROCESSES_PRESETS",
    "LatentBounds",
    "NeuralProcessesResult",
    "neural_processes",
    "gap_statistic",
    "closed_share",
]


@dataclass(frozen=True)
class NeuralProcessesConfig:
    family: gp.GPFamily = FAMILY
    models: tuple[str, ...] = ("cnp", "lnp")
    n_points: int = 40  # points per training task; all of them are targets
    n_context_max: int = 25  # training contexts have U{0..25} points; eval candidates
    batch: int = 16
    segment_steps: int = 400  # Adam steps between checkpoints (cosine-decayed per segment)
    n_segments: int = 4
    lr: float = 5e-3  # Adam, cosine-decayed to 10% over each segment (warm restarts)
    hidden: int = 32
    z_dim: int = 8
    n_windows: int = 40  # training-loss windows (trend fit; second vs last window)
    n_eval_tasks: int = 512  # the quick context slopes: 128 left one draw in 100 at 2.4 s.e.
    n_eval_targets: int = 20
    context_sizes: tuple[int, ...] = (0, 1, 2, 3, 4, 6, 8, 10, 15, 20, 25)
    first_segment: int = 4  # n <= 4: the fitted slope must be negative
    last_segment: int = 15  # n >= 15: the per-point gain must have flattened
    n_pred_samples: int = 32  # z draws for the LNP's marginal predictive
    wrong_lengthscale_factor: float = 3.0  # the control GP oversmooths
    judge_plateau: bool = False  # judge the gap at the plateau (paper scale) or the trend
    # the linear-Gaussian LNP of the estimator checks
    bound_tasks: int = 64  # at most n_eval_tasks: the first held-out tasks
    bound_context: int = 10
    bound_ks: tuple[int, ...] = (1, 16, 256)  # importance samples
    n_elbo: int = 256  # samples of the ELBO's expectation
    bound_z_dim: int = 2
    bound_slope: float = 0.05  # ‖a‖, the decoder's sensitivity to z
    bound_sigma: float = 0.5  # the decoder's (constant) predictive standard deviation
    bound_latent_scale: float = 0.75  # scales the latent encoder's output layer
    band_tasks: int = 0  # held-out tasks drawn with predictive bands (figures; 0: none)
    band_context: tuple[int, ...] = (4, 15)


NEURAL_PROCESSES_PRESETS = {
    "quick": NeuralProcessesConfig(),
    "full": NeuralProcessesConfig(
        models=("cnp", "lnp", "anp"),
        segment_steps=2500,
        n_segments=12,
        n_eval_tasks=512,
        n_pred_samples=64,
        judge_plateau=True,
        band_tasks=3,
        bound_tasks=256,
        bound_ks=(1, 16, 256, 4096),
        n_elbo=1024,
    ),
}
"""Quick: 1,600 steps in 4 segments, which does not reach the plateau (the closed share still
rises), so the quick check judges the trend; full: 30,000 steps in 12 segments, judged at the
plateau."""


@dataclass(frozen=True, kw_only=True)
class LatentBounds:
    """Estimators of the LNP on a linear-Gaussian LNP (see :func:`linear_gaussian_lnp`), per
    held-out task, in nats per target."""

    ks: np.ndarray  # numbers of importance samples K
    iwae: np.ndarray  # (len(ks), tasks) lnp_log_likelihood_is with K samples
    elbo_mc: np.ndarray  # (tasks,) lnp_elbo (Monte Carlo over n_elbo draws)
    elbo_exact: np.ndarray  # (tasks,) closed-form ELBO
    loglik_exact: np.ndarray  # (tasks,) closed-form log p(y_T | x_T, C)
    kl_exact: np.ndarray  # (tasks,) KL(q(z|C∪T) ‖ q(z|C)), closed form
    min_preactivation: float  # the decoder's ReLUs stay in their linear regime if > 0
    # the same LNP with a decoder that ignores z (bound_slope = 0): its ELBO estimate has no
    # Monte Carlo error, so it must equal the closed form to float32 rounding, task by task
    flat_elbo_mc: np.ndarray  # (tasks,) lnp_elbo
    flat_elbo_exact: np.ndarray  # (tasks,) closed-form ELBO
    flat_kl_reverse: np.ndarray  # (tasks,) KL(q(z|C) ‖ q(z|C∪T)) − KL(q(z|C∪T) ‖ q(z|C))


@dataclass(frozen=True, kw_only=True)
class NeuralProcessesResult:
    context_sizes: np.ndarray
    checkpoints: np.ndarray  # training steps at each checkpoint
    loss_steps: np.ndarray  # centre step of each loss window
    loss: dict  # model -> window-mean training loss (NLL or negative ELBO per target)
    trend: dict  # model -> stats.Interval: slope of loss against log(step) (the figure's fit)
    loss_ends: dict  # model -> (2, steps per window): per-step loss, second and last window
    nll: dict  # model -> (checkpoints, tasks, contexts) mean NLL per held-out target
    closed: dict  # model -> (checkpoints,) closed share of the prior-to-oracle gap
    gp_nll: np.ndarray  # (tasks, contexts) the exact GP predictive
    prior_nll: np.ndarray  # (tasks,) the GP prior (context ignored)
    wrong_gp_nll: np.ndarray  # (tasks, contexts) GP with the lengthscale x3 (control)
    untrained_nll: np.ndarray  # (tasks, contexts) the CNP at initialization (control)
    bounds: LatentBounds
    judge_plateau: bool
    band_x: np.ndarray  # (G,) grid for the figure
    band: dict  # name -> (band_tasks, len(band_context), 2, G) mean and std
    band_ctx: np.ndarray  # (band_tasks, n_context_max, 2) context points
    band_tgt: np.ndarray  # (band_tasks, n_eval_targets, 2)
    band_n: np.ndarray  # the context sizes of the bands


def _masks(n_context_max, sizes):
    return jnp.arange(n_context_max)[None, :] < jnp.asarray(sizes)[:, None]  # (S, n)


def _train_batch_sampler(c: NeuralProcessesConfig):
    def sample_batch(key):
        kt, kn = jax.random.split(key)
        x, y, _ = gp.sample_tasks(kt, c.batch, c.n_points, c.family)
        n = jax.random.randint(kn, (c.batch,), 0, c.n_context_max + 1)
        return x, y, jnp.arange(c.n_points)[None, :] < n[:, None]

    return sample_batch


def _windows(losses, n_windows):
    losses = np.asarray(losses, np.float64)
    w = losses[: len(losses) // n_windows * n_windows].reshape(n_windows, -1)
    steps = (np.arange(n_windows) + 0.5) * w.shape[1]
    return steps, w.mean(axis=1)


def _trend(steps, loss):
    """Least-squares slope of the window-mean loss against log(step), first window left out
    (the initial drop from the random initialization)."""
    return stats.linear_fit(np.log(steps[1:]), loss[1:])


def _ends(losses, n_windows):
    """Per-step training losses of the second window and of the last (the first window, the
    drop from the random initialization, is left out, as in the trend fit)."""
    losses = np.asarray(losses, np.float64)
    w = len(losses) // n_windows
    return np.stack([losses[w : 2 * w], losses[(n_windows - 1) * w : n_windows * w]])


def gap_statistic(nll, gp_nll, prior_nll, sizes):
    """Per task: ½(prior + oracle) − model NLL, averaged over contexts of ≥ 1 point; > 0 iff
    the model closes more than half of the prior-to-oracle distance on that task."""
    sel = np.asarray(sizes) >= 1
    return (0.5 * (prior_nll[:, None] + gp_nll) - nll)[:, sel].mean(1)


def closed_share(nll, gp_nll, prior_nll, sizes):
    """The share of the prior-to-oracle NLL gap the model closes (0: the prior, 1: the oracle),
    averaged over tasks and over contexts of ≥ 1 point."""
    sel = np.asarray(sizes) >= 1
    prior = prior_nll[:, None]
    return float((prior - nll)[:, sel].mean() / (prior - gp_nll)[:, sel].mean())


@partial(jax.jit, static_argnums=(0, 8))
def _eval_nll(model, params, key, xc, yc, xt, yt, masks, n_pred):
    """(tasks, contexts) mean NLL per target under the model's marginal predictive."""

    def one(k, a, b, cx, d, m):
        if model == "lnp":
            lp = npl.lnp_marginal_log_density(params, k, a, b, m, cx, d, n_pred)
        else:
            mu, s = npl.cnp_predict(params, a, b, m, cx)
            lp = gp.gaussian_log_density(d[:, 0], mu, s**2)
        return -jnp.mean(lp)

    over_masks = jax.vmap(one, (None, None, None, None, None, 0))
    over_tasks = jax.vmap(over_masks, (0, 0, 0, 0, 0, None))
    keys = jax.random.split(key, xc.shape[0])
    split = lambda v: v.reshape(-1, 16, *v.shape[1:])  # chunks of 16 tasks bound the memory
    out = jax.lax.map(
        lambda a: over_tasks(*a, masks), tuple(split(v) for v in (keys, xc, yc, xt, yt))
    )
    return out.reshape(xc.shape[0], masks.shape[0])


def _gp_nll(xc, yc, xt, yt, ell, masks, variance, noise, factor):
    def one(a, b, cx, d, li, m):
        lp = gp.log_predictive_density(
            a, b, cx, d, li * factor, variance=variance, noise=noise, mask=m
        )
        return -jnp.mean(lp)

    return jax.vmap(jax.vmap(one, (None, None, None, None, None, 0)), (0, 0, 0, 0, 0, None))(
        xc, yc, xt, yt, ell, masks
    )


@partial(jax.jit, static_argnums=(0, 8, 9))
def _bands(model, params, key, xc, yc, ell, masks, grid, variance, noise):
    """(tasks, contexts, 2, G): predictive mean and std on ``grid``; the LNP's are the moments
    of its mixture over ``z ~ q(z|C)``."""

    def one(a, b, li, m):
        if model == "gp":
            mu, var = gp.posterior_predictive(
                a, b, grid, li, variance=variance, noise=noise, mask=m
            )
            return jnp.stack([mu, jnp.sqrt(var)])
        if model == "lnp":
            mus, sds = npl.lnp_predict(params, key, a, b, m, grid)
            mu = mus.mean(0)
            return jnp.stack([mu, jnp.sqrt(jnp.mean(sds**2 + mus**2, 0) - mu**2)])
        return jnp.stack(npl.cnp_predict(params, a, b, m, grid))

    return jax.vmap(jax.vmap(one, (None, None, None, 0)), (0, 0, 0, None))(xc, yc, ell, masks)


def _init(model, key, c):
    cfg = npl.NPConfig(hidden=c.hidden, r_dim=c.hidden, z_dim=c.z_dim)
    return {"cnp": npl.init_cnp, "lnp": npl.init_lnp, "anp": npl.init_acnp}[model](key, cfg)


@partial(jax.jit, static_argnums=0)
def _latent_estimates(c: NeuralProcessesConfig, key, x, y):
    """One compiled program: the linear-Gaussian LNP, targets drawn from it, the estimators and
    the ingredients of the closed forms. ``x, y``: held-out GP tasks, the first
    ``bound_context`` points the context."""
    k_p, k_t, k_e = jax.random.split(key, 3)
    p = linear_gaussian_lnp(k_p, c)
    n_all = x.shape[1]
    ctx = jnp.arange(n_all) < c.bound_context
    tgt = ~ctx
    # targets drawn from the model given the context: z ~ q(z|C), y = μ(z) + σ ε
    k_z, k_y = jax.random.split(jax.random.fold_in(k_t, 1))
    mus, sds = jax.vmap(lambda k, a, b: npl.lnp_predict(p, k, a, b, ctx, a, 1))(
        jax.random.split(k_z, c.bound_tasks), x, y
    )
    y_model = (mus[:, 0] + sds[:, 0] * jax.random.normal(k_y, mus[:, 0].shape))[..., None]
    y = jnp.where(tgt[None, :, None], y_model, y)
    keys = jax.random.split(k_e, (c.bound_tasks, len(c.bound_ks) + 1))

    p_flat = linear_gaussian_lnp(k_p, replace(c, bound_slope=0.0))

    def one(k, a, b):
        iw = [
            npl.lnp_log_likelihood_is(p, k[i], a, b, ctx, tgt, kk)
            for i, kk in enumerate(c.bound_ks)
        ]
        el = npl.lnp_elbo(p, k[-1], a, b, ctx, tgt, c.n_elbo)
        flat = npl.lnp_elbo(p_flat, k[-1], a, b, ctx, tgt, 1), exact_bounds(p_flat, a, b, ctx, tgt)
        return jnp.stack(iw), el, exact_bounds(p, a, b, ctx, tgt), flat

    return jax.vmap(one)(keys, x, y), y, tgt


def _latent_bounds(c: NeuralProcessesConfig, out) -> LatentBounds:
    """The LNP's estimators against the closed forms of :func:`linear_gaussian_lnp` (the
    estimators in float32 like training, the closed forms in float64 from the same decoder
    coefficients; float32 rounding of a per-task log-likelihood, ~1e-5 nats, is far below the
    Monte Carlo intervals, ~1e-3 nats per target)."""
    (iw, el, q, (el_flat, q_flat)), y, tgt = out
    iw, el, el_flat = (np.asarray(v, np.float64) for v in (iw, el, el_flat))
    y, tgt = np.asarray(y, np.float64), np.asarray(tgt)

    def closed(q):
        q = {k: np.asarray(v, np.float64) for k, v in q.items()}
        tasks = range(c.bound_tasks)
        exact = [closed_forms({k: v[t] for k, v in q.items()}, y[t], tgt) for t in tasks]
        return q, *(np.array(v) for v in zip(*exact, strict=True))

    q, elbo, loglik, kl = closed(q)
    q_flat, flat_elbo, _, flat_kl = closed(q_flat)
    flat_rev = kl_diag(q_flat["mu_c"], q_flat["s_c"] ** 2, q_flat["mu_ct"], q_flat["s_ct"] ** 2)
    nt = c.n_eval_targets
    return LatentBounds(
        ks=np.array(c.bound_ks),
        iwae=iw.T / nt,
        elbo_mc=el / nt,
        elbo_exact=elbo / nt,
        loglik_exact=loglik / nt,
        kl_exact=kl / nt,
        min_preactivation=float(min(q["min_pre"].min(), q_flat["min_pre"].min())),
        flat_elbo_mc=el_flat / nt,
        flat_elbo_exact=flat_elbo / nt,
        flat_kl_reverse=(flat_rev - flat_kl) / nt,
    )


@partial(jax.jit, static_argnums=0)
def _eval_tasks(c: NeuralProcessesConfig, key):
    """Held-out tasks split into context candidates and targets, the exact GP's NLL and the
    control GP's (lengthscale × ``wrong_lengthscale_factor``), in one compiled program."""
    fam = c.family
    x, y, ell = gp.sample_tasks(key, c.n_eval_tasks, c.n_context_max + c.n_eval_targets, fam)
    n = c.n_context_max
    data = (x[:, :n], y[:, :n], x[:, n:], y[:, n:], ell)
    masks = _masks(n, np.array(c.context_sizes))
    gp_args = (*data, masks, fam.variance, fam.noise)
    both = jax.vmap(lambda f: _gp_nll(*gp_args, f))(jnp.array([1.0, c.wrong_lengthscale_factor]))
    return data, both[0], both[1]


def _np_core(config: NeuralProcessesConfig, key: jax.Array) -> dict:
    """B2 (pure JAX over ``key``): train each NP in ``n_segments`` segments of
    ``segment_steps`` Adam steps, evaluating the held-out NLL against the GP oracle over
    context sizes after each segment; the untrained CNP (control); the LNP's estimators on a
    linear-Gaussian LNP; predictive bands for the figures."""
    c, fam = config, config.family
    k_init, k_train, k_eval, k_mc, k_bound = jax.random.split(key, 5)
    sample_batch = _train_batch_sampler(c)
    opt = optax.adam(optax.cosine_decay_schedule(c.lr, c.segment_steps, alpha=0.1))
    (xc, yc, xt, yt, ell), gp_nll, wrong = _eval_tasks(c, k_eval)
    masks = _masks(c.n_context_max, np.array(c.context_sizes))

    params, losses, nll = {}, {}, {}
    for i, model in enumerate(c.models):
        p = _init(model, jax.random.fold_in(k_init, i), c)
        train = npl.make_np_train("lnp" if model == "lnp" else "cnp", sample_batch, opt)
        seg_keys = jax.random.split(jax.random.fold_in(k_train, i), c.n_segments)
        key_i = jax.random.fold_in(k_mc, i)
        ls, curves = [], []
        for s in range(c.n_segments):
            p, l_s = train(p, seg_keys[s], c.segment_steps)
            ls.append(l_s)
            curves.append(_eval_nll(model, p, key_i, xc, yc, xt, yt, masks, c.n_pred_samples))
        params[model], losses[model], nll[model] = p, jnp.concatenate(ls), jnp.stack(curves)
    p_cnp0 = _init("cnp", jax.random.fold_in(k_init, 0), c)
    untrained = _eval_nll("cnp", p_cnp0, k_mc, xc, yc, xt, yt, masks, c.n_pred_samples)

    n_b, m_b = c.bound_tasks, c.bound_context
    bounds = _latent_estimates(
        c,
        k_bound,
        jnp.concatenate([xc[:n_b, :m_b], xt[:n_b]], 1),
        jnp.concatenate([yc[:n_b, :m_b], yt[:n_b]], 1),
    )

    band = {}
    if c.band_tasks:
        grid = jnp.linspace(fam.x_range[0], fam.x_range[1], 161, dtype=xc.dtype)[:, None]
        bt, bmask = slice(0, c.band_tasks), _masks(c.n_context_max, np.array(c.band_context))
        band = {
            name: _bands(
                name,
                params.get(name),
                k_mc,
                xc[bt],
                yc[bt],
                ell[bt],
                bmask,
                grid,
                fam.variance,
                fam.noise,
            )
            for name in ("gp", *c.models)
        }
    return {
        "data": (xc, yc, xt, yt),
        "gp_nll": gp_nll,
        "wrong": wrong,
        "losses": losses,
        "nll": nll,
        "untrained": untrained,
        "bounds": bounds,
        "band": band,
    }


def _np_finish(config: NeuralProcessesConfig, out: dict) -> NeuralProcessesResult:
    c, fam = config, config.family
    xc, yc, xt, yt = (np.asarray(v) for v in out["data"])
    sizes = np.array(c.context_sizes)
    gp_nll = np.asarray(out["gp_nll"], np.float64)
    s2 = fam.variance + fam.noise**2
    prior = np.mean(0.5 * np.log(2 * np.pi * s2) + 0.5 * yt[..., 0] ** 2 / s2, axis=1)
    loss, trend, ends, nll, closed = {}, {}, {}, {}, {}
    loss_steps = None
    for m in c.models:
        loss_steps, loss[m] = _windows(out["losses"][m], c.n_windows)
        trend[m] = _trend(loss_steps, loss[m])
        ends[m] = _ends(out["losses"][m], c.n_windows)
        nll[m] = np.asarray(out["nll"][m], np.float64)
        closed[m] = np.array([closed_share(v, gp_nll, prior, sizes) for v in nll[m]])
    bt = slice(0, c.band_tasks)
    pairs = lambda a, b: np.stack([a[bt, :, 0], b[bt, :, 0]], -1)
    return NeuralProcessesResult(
        context_sizes=sizes,
        checkpoints=c.segment_steps * np.arange(1, c.n_segments + 1),
        loss_steps=loss_steps,
        loss=loss,
        trend=trend,
        loss_ends=ends,
        nll=nll,
        closed=closed,
        gp_nll=gp_nll,
        prior_nll=prior,
        wrong_gp_nll=np.asarray(out["wrong"], np.float64),
        untrained_nll=np.asarray(out["untrained"], np.float64),
        bounds=_latent_bounds(c, out["bounds"]),
        judge_plateau=c.judge_plateau,
        band_x=np.linspace(fam.x_range[0], fam.x_range[1], 161),
        band={k: np.asarray(v) for k, v in out["band"].items()},
        band_ctx=pairs(xc, yc),
        band_tgt=pairs(xt, yt),
        band_n=np.array(c.band_context),
    )


neural_processes = vmappable(_np_core, _np_finish)
"""B2: see :func:`_np_core`; seeds vmap (calibration runs them as one program)."""
