r"""Experiments for the first-order theory: FOMAML's bias (G3), Reptile's expected update (G4)
and learned step sizes (G8).

G3: :math:`b = g_{MAML} - g_{FO} = (\prod_j(I-\alpha H_j) - I)\nabla L_Q(\theta_N)`; exact on
quadratics, and on a sinusoid MLP :math:`\|b\| \le ((1+\alpha L)^N-1)G` with ``L`` the largest
Hessian spectral norm along the inner trajectory (HVP power iteration) and
:math:`G = \|\nabla L_Q(\theta_N)\|` measured; :math:`\|b\| \propto \alpha` at small α.

G4: the expectation over minibatch sequences is computed exactly by enumerating all
:math:`M^k` sequences of ``k`` minibatches drawn with replacement from ``M``; then
``AvgGrad`` = mean minibatch gradient and ``AvgGradInner`` = :math:`E[\bar H]E[\bar g]`.

G8: :math:`\partial L_Q(\theta_N)/\partial\alpha` by autodiff against the closed form on linear
regression, and Meta-SGD against MAML with a fixed α on sinusoids.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from metatheory import nets
from metatheory.autodiff import hvp
from metatheory.bounds import fomaml_bias_bound
from metatheory.learners.maml import maml_meta_gradient, maml_meta_loss
from metatheory.learners.meta_sgd import make_meta_sgd_step, meta_sgd_init
from metatheory.learners.reptile import reptile_direction
from metatheory.learners.train import make_meta_step
from metatheory.tasks import linear, sinusoid

__all__ = [
    "BiasConfig",
    "BIAS_QUICK",
    "BIAS_FULL",
    "BiasResult",
    "fomaml_bias",
    "ReptileConfig",
    "REPTILE_QUICK",
    "REPTILE_FULL",
    "ReptileResult",
    "reptile_expansion",
    "StepSizeConfig",
    "STEP_QUICK",
    "STEP_FULL",
    "StepSizeResult",
    "step_size_gradient",
    "learned_step_sizes",
    "quad_loss",
    "power_norm",
]


def quad_loss(theta, a, b):
    r"""1-D quadratic :math:`\tfrac a2(\theta-b)^2` as a ``loss_fn(params, x, y)``."""
    return 0.5 * a * (theta - b) ** 2


def _flat(tree):
    return ravel_pytree(tree)[0]


def power_norm(f, params, key, n_iter: int):
    r"""Spectral norm :math:`\|\nabla^2 f\|` at ``params`` by power iteration on HVPs.

    Power iteration approaches :math:`\max|\lambda|` from below, so bounds built on it are,
    if anything, slightly too small (the check is conservative)."""
    flat, unravel = ravel_pytree(params)
    v = jax.random.normal(key, flat.shape, flat.dtype)
    v = v / jnp.linalg.norm(v)

    def body(_, carry):
        v, _ = carry
        hv = _flat(hvp(f, params, unravel(v)))
        nrm = jnp.linalg.norm(hv)
        return hv / nrm, nrm

    return jax.lax.fori_loop(0, n_iter, body, (v, jnp.zeros((), flat.dtype)))[1]


# --------------------------------------------------------------------------- G3


def _loss_on(data, params):
    return nets.mse_loss(params, *data)


def _bias_fn(loss_fn, n):
    """Jitted, task-vmapped ``(g_MAML - g_FO, g_FO)`` for ``n`` inner steps."""

    def one(theta0, s, q, al):
        kw = dict(alpha=al, n_inner=n)
        full = maml_meta_gradient(loss_fn, theta0, s, q, **kw)
        fo = maml_meta_gradient(loss_fn, theta0, s, q, first_order=True, **kw)
        return full - fo, fo

    return jax.jit(jax.vmap(one))


@dataclass(frozen=True)
class BiasConfig:
    n_inner: tuple[int, ...] = (1, 5)
    n_quadratic: int = 50  # random 1-D quadratics per N (bias attains the PSD bound)
    n_linear: int = 4  # linear-regression task pairs per N
    d: int = 6
    m: int = 12
    mlp_sizes: tuple[int, ...] = (1, 20, 20, 1)
    mlp_n_inner: tuple[int, ...] = (1, 5)
    n_tasks: int = 10
    k_shot: int = 10
    # Hessian norms on these tasks are ~500 (amplitudes up to 5): alpha <= 1e-5 keeps
    # N alpha L <= 0.03, the small-step regime where the slope-1 law is claimed; the bias
    # (~ N alpha L G >~ 1e-3 here) is still far above float64 rounding of the gradients
    alphas: tuple[float, ...] = tuple(np.geomspace(1e-7, 1e-5, 5).tolist())
    power_iters: int = 40


BIAS_QUICK = BiasConfig()
BIAS_FULL = BiasConfig(
    n_quadratic=500,
    n_linear=50,
    mlp_sizes=(1, 40, 40, 1),
    n_tasks=64,
    alphas=tuple(np.geomspace(1e-7, 1e-5, 9).tolist()),
    power_iters=100,
)


@dataclass
class BiasResult:
    n_inner: np.ndarray
    quad_err: np.ndarray  # per N: max |(|b| - PSD bound)| / bound over 1-D quadratics
    linear_err: np.ndarray  # per N: max rel. err of b vs ((I-aH)^N - I) grad L_Q(theta_N)
    linear_ratio: np.ndarray  # per N: max |b| / PSD bound (<= 1)
    mlp_n_inner: np.ndarray
    alphas: np.ndarray
    bias: np.ndarray  # (n_mlp_N, n_tasks, n_alpha): ||g_MAML - g_FO|| on the MLP
    bound: np.ndarray  # same shape: ((1 + alpha L)^N - 1) G with measured L, G
    lip: np.ndarray  # same shape: L (max Hessian spectral norm along the inner trajectory)
    grad: np.ndarray  # same shape: G = ||grad L_Q(theta_N)||


def fomaml_bias(config: BiasConfig, key: jax.Array) -> BiasResult:
    """G3: exactness on quadratics and the bound and its slope on a sinusoid MLP (float64)."""
    c = config
    with jax.enable_x64(True):
        kq, kl, km, kd, kp = jax.random.split(key, 5)
        quad_err, lin_err, lin_ratio = [], [], []
        u = np.asarray(jax.random.uniform(kq, (5, c.n_quadratic)))
        a = np.exp(np.log(0.1) + u[0] * np.log(100.0))
        alpha = (0.02 + 0.96 * u[1]) / a  # alpha a in (0.02, 0.98): the PSD case
        b, d_, t0 = 4 * u[2] - 2, 4 * u[3] - 2, 4 * u[4] - 2
        for n in c.n_inner:
            f = _bias_fn(quad_loss, n)
            bias, g_fo = (np.asarray(z) for z in f(t0, (a, b), (np.ones_like(a), d_), alpha))
            bound = fomaml_bias_bound(alpha, a, np.abs(g_fo), n, psd=True)
            quad_err.append(np.max(np.abs(np.abs(bias) - bound) / bound))

            xs, ys, _ = linear.sample_tasks(jax.random.fold_in(kl, n), 2 * c.n_linear, c.m, c.d)
            sup, qry = (xs[0::2], ys[0::2]), (xs[1::2], ys[1::2])
            lmax = np.array([np.linalg.eigvalsh(linear.hessian(x))[-1] for x in sup[0]])
            als = 0.5 / lmax
            th0 = jnp.zeros((c.n_linear, c.d))
            biases, _ = (np.asarray(z) for z in _bias_fn(linear.loss, n)(th0, sup, qry, als))
            errs, ratios = [], []
            for t in range(c.n_linear):
                s, q, al = (sup[0][t], sup[1][t]), (qry[0][t], qry[1][t]), als[t]
                H = linear.hessian(s[0])
                th_n = linear.gd_iterates(np.zeros(c.d), *s, alpha=al, n_steps=n)[-1]
                gq = linear.gradient(th_n, *q)
                pred = (np.linalg.matrix_power(np.eye(c.d) - al * H, n) - np.eye(c.d)) @ gq
                errs.append(np.linalg.norm(biases[t] - pred) / np.linalg.norm(pred))
                bnd = fomaml_bias_bound(al, lmax[t], np.linalg.norm(gq), n, psd=True)
                ratios.append(np.linalg.norm(biases[t]) / bnd)
            lin_err.append(max(errs))
            lin_ratio.append(max(ratios))

        params = nets.init(km, c.mlp_sizes, dtype=jnp.float64)
        supp, query = sinusoid.sample_batch(kd, c.n_tasks, c.k_shot, c.k_shot)
        alphas = jnp.asarray(c.alphas)
        out = {k: [] for k in ("bias", "bound", "lip", "grad")}
        for n in c.mlp_n_inner:

            def stats(s, q, al, n=n):
                full = maml_meta_gradient(nets.mse_loss, params, s, q, alpha=al, n_inner=n)
                fo = maml_meta_gradient(
                    nets.mse_loss, params, s, q, alpha=al, n_inner=n, first_order=True
                )
                bias = jnp.linalg.norm(_flat(full) - _flat(fo))
                p, lip = params, 0.0
                support_loss = partial(_loss_on, s)
                for j in range(n):
                    norm = power_norm(support_loss, p, jax.random.fold_in(kp, j), c.power_iters)
                    lip = jnp.maximum(lip, norm)
                    g = jax.grad(nets.mse_loss)(p, *s)
                    p = jax.tree_util.tree_map(lambda w, gw: w - al * gw, p, g)
                grad = jnp.linalg.norm(_flat(jax.grad(nets.mse_loss)(p, *q)))
                return bias, lip, grad

            f = jax.jit(jax.vmap(jax.vmap(stats, (None, None, 0)), (0, 0, None)))
            bias, lip, grad = (np.asarray(z) for z in f(supp, query, alphas))
            out["bias"].append(bias)
            out["lip"].append(lip)
            out["grad"].append(grad)
            out["bound"].append(fomaml_bias_bound(np.asarray(alphas)[None, :], lip, grad, n))
        return BiasResult(
            np.array(c.n_inner),
            np.array(quad_err),
            np.array(lin_err),
            np.array(lin_ratio),
            np.array(c.mlp_n_inner),
            np.asarray(alphas),
            *(np.stack(out[k]) for k in ("bias", "bound", "lip", "grad")),
        )


# --------------------------------------------------------------------------- G4


@dataclass(frozen=True)
class ReptileConfig:
    ks: tuple[int, ...] = (2, 4)
    n_batches: int = 3  # M minibatches; M^k sequences enumerated
    batch_size: int = 5
    sizes: tuple[int, ...] = (1, 8, 8, 1)
    # alpha ||H|| <~ 0.05 on this task: the regime where O(alpha^3) is negligible
    alphas: tuple[float, ...] = tuple(np.geomspace(3e-5, 1e-3, 8).tolist())


REPTILE_QUICK = ReptileConfig()
REPTILE_FULL = ReptileConfig(ks=(2, 3, 4, 5), n_batches=4, sizes=(1, 40, 40, 1))


def tanh_mse(params, x, y):
    """MSE of a tanh MLP (smooth, so the Taylor expansion in α has bounded remainders)."""
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return jnp.mean((x @ params[-1]["w"] + params[-1]["b"] - y) ** 2)


@dataclass
class ReptileResult:
    ks: np.ndarray
    alphas: np.ndarray
    # (method, k, alpha): ||E g(alpha) - leading-order prediction||, method = maml, fomaml, reptile
    residual: np.ndarray
    # same, prediction without the alpha * AvgGradInner term (the negative control)
    residual_control: np.ndarray
    scale: np.ndarray  # (method, k): ||leading-order prediction|| at the smallest alpha
    k1_err: float  # Reptile with k = 1 vs AvgGrad (exact: SGD on the expected loss)


METHODS_G4 = ("maml", "fomaml", "reptile")


def reptile_expansion(config: ReptileConfig, key: jax.Array) -> ReptileResult:
    """G4: exact expected updates (enumerated minibatch sequences) vs the first-order terms."""
    c = config
    with jax.enable_x64(True):
        kp, kd = jax.random.split(key)
        params = nets.init(kp, c.sizes, dtype=jnp.float64)
        m = c.n_batches * c.batch_size
        (x, y), _ = sinusoid.sample_batch(kd, 1, m, 1)
        xb = x[0].reshape(c.n_batches, c.batch_size, 1)
        yb = y[0].reshape(c.n_batches, c.batch_size, 1)
        full = lambda p: jnp.mean(jax.vmap(lambda a, b: tanh_mse(p, a, b))(xb, yb))
        avg_grad = jax.grad(full)(params)
        avg_inner = hvp(full, params, avg_grad)  # E[H] E[g] for iid minibatches
        ag, ai = np.asarray(_flat(avg_grad)), np.asarray(_flat(avg_inner))
        alphas = jnp.asarray(c.alphas)

        res, ctl, scale = [], [], []
        for k in c.ks:
            seqs = np.array(list(itertools.product(range(c.n_batches), repeat=k)))
            sx, sy = xb[seqs], yb[seqs]  # (S, k, b, 1)

            def updates(sx, sy, al, k=k):
                rep = reptile_direction(
                    tanh_mse, params, (sx, sy), alpha=al, n_inner=k, per_step=True
                )
                inner = (sx[: k - 1], sy[: k - 1])
                q = (sx[k - 1], sy[k - 1])
                kw = dict(alpha=al, n_inner=k - 1, per_step=True)
                g = jax.grad(maml_meta_loss, argnums=1)(tanh_mse, params, inner, q, **kw)
                fo = jax.grad(maml_meta_loss, argnums=1)(
                    tanh_mse, params, inner, q, first_order=True, **kw
                )
                return jnp.stack([_flat(g), _flat(fo), _flat(rep)])

            def mean_updates(al, sx=sx, sy=sy, updates=updates):
                return jnp.mean(jax.vmap(updates, (0, 0, None))(sx, sy, al), 0)

            f = jax.jit(jax.vmap(mean_updates))
            exact = np.asarray(f(alphas))  # (alpha, method, P)
            al = np.asarray(alphas)[:, None]
            lead = np.stack(
                [
                    ag - 2 * (k - 1) * al * ai,
                    ag - (k - 1) * al * ai,
                    k * ag - 0.5 * k * (k - 1) * al * ai,
                ],
                axis=1,
            )
            zeroth = np.stack([ag, ag, k * ag])[None] + 0 * al[:, :, None]
            res.append(np.linalg.norm(exact - lead, axis=-1).T)
            ctl.append(np.linalg.norm(exact - zeroth, axis=-1).T)
            scale.append(np.linalg.norm(lead[0], axis=-1))

        sx1, sy1 = xb[:, None], yb[:, None]
        rep1 = jax.vmap(
            lambda a, b: _flat(
                reptile_direction(
                    tanh_mse, params, (a, b), alpha=c.alphas[-1], n_inner=1, per_step=True
                )
            )
        )(sx1, sy1)
        k1 = np.linalg.norm(np.asarray(rep1).mean(0) - ag) / np.linalg.norm(ag)
        return ReptileResult(
            np.array(c.ks),
            np.asarray(alphas),
            np.stack(res, axis=1),
            np.stack(ctl, axis=1),
            np.stack(scale, axis=1),
            float(k1),
        )


# --------------------------------------------------------------------------- G8


@dataclass(frozen=True)
class StepSizeConfig:
    n_inner: tuple[int, ...] = (1, 2, 5)
    n_linear: int = 6
    d: int = 6
    m: int = 12
    sizes: tuple[int, ...] = (1, 20, 20, 1)
    alpha: float = 0.01  # Finn et al.'s fixed inner step
    train_n_inner: int = 1
    k_shot: int = 10
    meta_batch: int = 25
    meta_steps: int = 400
    learning_rate: float = 1e-3
    n_seeds: int = 2
    n_eval_tasks: int = 500
    eval_query: int = 50


STEP_QUICK = StepSizeConfig()
STEP_FULL = StepSizeConfig(
    n_inner=(1, 2, 5, 10),
    sizes=(1, 40, 40, 1),
    meta_steps=10_000,
    n_seeds=4,
    n_eval_tasks=2000,
    n_linear=30,
)


@dataclass
class StepSizeResult:
    n_inner: np.ndarray
    err_scalar: np.ndarray  # per N: max rel. err, autodiff dL_Q/dalpha vs closed form
    err_vector: np.ndarray  # per N: same for per-parameter alpha
    control: np.ndarray  # per N: min rel. err of the closed form without the (I - A H) factors
    curves: np.ndarray  # (2, n_seeds, meta_steps): meta-loss, fixed and learned alpha
    mse_fixed: np.ndarray  # (n_eval_tasks,) post-adaptation MSE, averaged over seeds
    mse_learned: np.ndarray
    alpha_learned: np.ndarray  # all learned step sizes (flattened over seeds)
    alpha_fixed: float


def _closed_alpha_grad(theta0, s, q, a, n):
    r""":math:`\partial L_Q/\partial a = -\sum_j g_j \odot ((I - H A)^{N-1-j}\nabla L_Q(\theta_N))`
    for ``theta_{j+1} = theta_j - a * g_j`` on linear regression (``a`` scalar or vector)."""
    H = linear.hessian(s[0])
    A = np.diag(np.broadcast_to(np.asarray(a, np.float64), theta0.shape))
    th, gs = np.asarray(theta0, np.float64), []
    for _ in range(n):
        gs.append(linear.gradient(th, *s))
        th = th - A @ gs[-1]
    v = linear.gradient(th, *q)
    M = np.eye(len(th)) - H @ A
    total, control = np.zeros_like(th), np.zeros_like(th)
    for j, g in enumerate(gs):
        total -= g * (np.linalg.matrix_power(M, n - 1 - j) @ v)
        control -= g * v
    if np.ndim(a) == 0:
        return total.sum(), control.sum()
    return total, control


def step_size_gradient(config: StepSizeConfig, key: jax.Array):
    """G8 (exact part): autodiff of the meta-loss in alpha vs the closed form (float64)."""
    c = config
    errs_s, errs_v, ctl = [], [], []
    with jax.enable_x64(True):
        for n in c.n_inner:
            xs, ys, _ = linear.sample_tasks(jax.random.fold_in(key, n), 2 * c.n_linear, c.m, c.d)
            sup, qry = (xs[0::2], ys[0::2]), (xs[1::2], ys[1::2])
            th0 = jax.random.normal(jax.random.fold_in(key, 1000 + n), (c.n_linear, c.d))
            lmax = np.array([np.linalg.eigvalsh(linear.hessian(x))[-1] for x in sup[0]])
            a_s = 0.5 / lmax
            a_v = np.linspace(0.2, 0.8, c.d)[None, :] / lmax[:, None]

            def grad_alpha(t, s, q, a, n=n):
                return jax.grad(lambda a: maml_meta_loss(linear.loss, t, s, q, alpha=a, n_inner=n))(
                    a
                )

            f = jax.jit(jax.vmap(grad_alpha))
            gs_auto, gv_auto = np.asarray(f(th0, sup, qry, a_s)), np.asarray(f(th0, sup, qry, a_v))
            es, ev, cc = [], [], []
            for t in range(c.n_linear):
                s, q, t0 = (sup[0][t], sup[1][t]), (qry[0][t], qry[1][t]), np.asarray(th0[t])
                gs_cf, gs_ctl = _closed_alpha_grad(t0, s, q, a_s[t], n)
                gv_cf, gv_ctl = _closed_alpha_grad(t0, s, q, a_v[t], n)
                es.append(abs(gs_auto[t] - gs_cf) / abs(gs_cf))
                ev.append(np.linalg.norm(gv_auto[t] - gv_cf) / np.linalg.norm(gv_cf))
                # with N = 1 there is no later step, so the control equals the closed form
                worst = min(
                    abs(gs_auto[t] - gs_ctl) / abs(gs_cf),
                    np.linalg.norm(gv_auto[t] - gv_ctl) / np.linalg.norm(gv_cf),
                )
                cc.append(worst if n > 1 else np.inf)
            errs_s.append(max(es))
            errs_v.append(max(ev))
            ctl.append(min(cc))
    return np.array(c.n_inner), np.array(errs_s), np.array(errs_v), np.array(ctl)


def learned_step_sizes(config: StepSizeConfig, key: jax.Array) -> StepSizeResult:
    """G8: autodiff vs closed form, then Meta-SGD vs MAML with fixed alpha on sinusoids."""
    c = config
    k_exact, k_init, k_train, k_eval = jax.random.split(key, 4)
    n_inner, err_s, err_v, ctl = step_size_gradient(c, k_exact)

    opt = optax.adam(c.learning_rate)
    fixed_step = make_meta_step(nets.mse_loss, opt, alpha=c.alpha, n_inner=c.train_n_inner)
    learned_step = make_meta_sgd_step(nets.mse_loss, opt, n_inner=c.train_n_inner)

    def train(step, init, seed):
        def body(carry, k):
            p, s = carry
            supp, query = sinusoid.sample_batch(k, c.meta_batch, c.k_shot, c.k_shot)
            p, s, loss = step(p, s, supp, query)
            return (p, s), loss

        keys = jax.random.split(jax.random.fold_in(k_train, seed), c.meta_steps)
        (p, _), losses = jax.lax.scan(body, (init, opt.init(init)), keys)
        return p, losses

    supp, query = sinusoid.sample_batch(k_eval, c.n_eval_tasks, c.k_shot, c.eval_query)

    def per_task_mse(params, alpha):
        def one(s, q):
            return maml_meta_loss(nets.mse_loss, params, s, q, alpha=alpha, n_inner=c.train_n_inner)

        return jax.vmap(one)(supp, query)

    # one compile per method; the seed is a traced argument (vmap over seeds compiles slower)
    train_f, train_l = jax.jit(partial(train, fixed_step)), jax.jit(partial(train, learned_step))
    eval_f, eval_l = jax.jit(partial(per_task_mse, alpha=c.alpha)), jax.jit(per_task_mse)
    loss_f, loss_l, mse_f, mse_l, alphas = [], [], [], [], []
    for seed in range(c.n_seeds):
        init = nets.init(jax.random.fold_in(k_init, seed), c.sizes)
        p_f, lf = train_f(init, jnp.int32(seed))
        m_l, ll = train_l(meta_sgd_init(init, c.alpha), jnp.int32(seed))
        loss_f.append(np.asarray(lf))
        loss_l.append(np.asarray(ll))
        mse_f.append(np.asarray(eval_f(p_f)))
        mse_l.append(np.asarray(eval_l(m_l["params"], m_l["alpha"])))
        alphas.append(np.asarray(_flat(m_l["alpha"])))
    return StepSizeResult(
        n_inner,
        err_s,
        err_v,
        ctl,
        np.stack([np.stack(loss_f), np.stack(loss_l)]),
        np.mean(mse_f, axis=0),
        np.mean(mse_l, axis=0),
        np.concatenate(alphas),
        c.alpha,
    )
