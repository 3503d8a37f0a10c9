r"""Experiments for the first-order theory: FOMAML's bias (G3), the expected updates of MAML,
FOMAML and Reptile (G4) and learned step sizes (G8). Every instance is drawn from the key.

G3: :math:`b = g_{MAML} - g_{FO} = (\prod_j(I-\alpha H_j) - I)\nabla L_Q(\theta_N)` at realistic
step sizes :math:`\alpha L \in [0.05, 1]`, where :math:`(1+\alpha L)^N - 1` and :math:`N\alpha L`
differ. On 1-D quadratics the bias is :math:`((1-\alpha a)^N - 1)g_{FO}` (convex, ``a > 0``)
or :math:`((1+\alpha a)^N - 1)g_{FO}` (concave, curvature ``-a``): the PSD and the general
bound are attained. On linear regression the bias is :math:`((I-\alpha H)^N - I)\nabla
L_Q(\theta_N)`. On a sinusoid ReLU MLP the experiment measures ``‖b‖``, ``L`` (the largest
Hessian spectral norm along the inner trajectory, HVP power iteration) and
:math:`G = \|\nabla L_Q(\theta_N)\|`, at step sizes :math:`u/\|H(\theta_0)\|` and at Finn et
al.'s :math:`\alpha = 0.01`, and the exact first-order coefficient
:math:`\partial_\alpha b|_{\alpha=0}` against :math:`-N H_0\nabla L_Q(\theta_0)`. The bound
itself is evaluated by the check (so a mutant of the calculator reuses this result).

G4: expectations over minibatch sequences are exact: all :math:`M^k` sequences of ``k``
minibatches drawn with replacement from ``M`` are enumerated. On quadratic minibatch losses the
three expected updates are polynomials in α (degree ``2(k-1)`` for MAML, ``k-1`` for FOMAML
and Reptile), so their Taylor coefficients are recovered exactly by interpolation; on a tanh
MLP the value and α-derivative of MAML's and FOMAML's expected update at α = 0 are taken by
forward-mode autodiff.

G8: :math:`\partial L_Q(\theta_N)/\partial\alpha` by autodiff on linear regression (the check
compares it with :func:`metatheory.tasks.quadratic.step_size_gradient`), and Meta-SGD against
MAML with a fixed α on sinusoids (seeds vmapped: ``learned_step_sizes.core``).
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
from metatheory.experiments import experiment, vmappable
from metatheory.learners.maml import maml_meta_gradient, maml_meta_loss
from metatheory.learners.meta_sgd import make_meta_sgd_step, meta_sgd_init
from metatheory.learners.reptile import reptile_direction
from metatheory.numerics import flatten, hessian_norm, tanh_mse
from metatheory.tasks import linear, quadratic, sinusoid

__all__ = [
    "BiasConfig",
    "BIAS_QUICK",
    "BIAS_FULL",
    "BIAS_PRESETS",
    "BiasResult",
    "fomaml_bias",
    "ExpansionConfig",
    "EXPANSION_QUICK",
    "EXPANSION_FULL",
    "EXPANSION_PRESETS",
    "ExpansionResult",
    "expected_updates",
    "StepSizeConfig",
    "STEP_QUICK",
    "STEP_FULL",
    "STEP_PRESETS",
    "StepSizeResult",
    "learned_step_sizes",
    "METHODS",
]

METHODS = ("maml", "fomaml", "reptile")


@partial(jax.jit, static_argnums=(1, 2))
def _draw(key, n_normal: int, n_uniform: int):
    """All plain random numbers of an experiment in one compiled draw (every distinct
    jax.random shape costs an XLA compile)."""
    kz, ku = jax.random.split(key)
    return (
        jax.random.normal(kz, (n_normal,), jnp.float64),
        jax.random.uniform(ku, (n_uniform,), jnp.float64),
    )


def _bias(loss_fn, theta0, s, q, al, n):
    """``(g_MAML - g_FO, g_FO)`` for one task, by the package's learner."""
    full = maml_meta_gradient(loss_fn, theta0, s, q, alpha=al, n_inner=n)
    fo = maml_meta_gradient(loss_fn, theta0, s, q, alpha=al, n_inner=n, first_order=True)
    return jax.tree_util.tree_map(jnp.subtract, full, fo), fo


# --------------------------------------------------------------------------- G3


@dataclass(frozen=True)
class BiasConfig:
    n_inner: tuple[int, ...] = (1, 3)
    n_quadratic: int = 16  # random 1-D convex and as many concave quadratics per N
    alpha_l: tuple[float, float] = (0.05, 1.0)  # alpha * L drawn uniformly in this range
    n_linear: int = 4  # linear-regression task pairs per N
    d: int = 6
    m: int = 12
    mlp_sizes: tuple[int, ...] = (1, 12, 12, 1)
    mlp_n_inner: tuple[int, ...] = (3,)
    n_tasks: int = 4
    k_shot: int = 10
    # alpha = u / ||H_S(theta_0)|| per task: the realistic range where (1 + aL)^N - 1 and N aL
    # differ; then Finn et al.'s alpha = 0.01 (absolute), where the bound is vacuous
    mlp_alpha_l: tuple[float, ...] = (0.05, 0.3, 1.0)
    finn_alpha: float = 0.01
    power_iters: int = 0  # 0: L exactly from dense Hessians; else HVP power iterations


BIAS_QUICK = BiasConfig()
BIAS_FULL = BiasConfig(
    n_inner=(1, 2, 5, 10),
    n_quadratic=500,
    n_linear=50,
    mlp_sizes=(1, 40, 40, 1),
    mlp_n_inner=(1, 5),
    n_tasks=32,
    mlp_alpha_l=(0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
    power_iters=100,
)
BIAS_PRESETS = {"quick": BIAS_QUICK, "full": BIAS_FULL}


@dataclass(frozen=True, kw_only=True)
class BiasResult:
    n_inner: np.ndarray  # (n_N,)
    quad_curv: np.ndarray  # (2, n_N, n_quadratic): curvature a > 0 (row 0 convex, row 1 concave)
    quad_alpha: np.ndarray  # same shape: alpha, alpha * a in alpha_l
    quad_bias: np.ndarray  # same shape: g_MAML - g_FO (1-D)
    quad_gfo: np.ndarray  # same shape: g_FO = L_Q'(theta_N)
    linear_err: np.ndarray  # (n_N,) max rel. err of b vs ((I-aH)^N - I) grad L_Q(theta_N)
    linear_bias: np.ndarray  # (n_N, n_linear): ||b||
    linear_alpha: np.ndarray  # (n_N, n_linear)
    linear_l: np.ndarray  # (n_N, n_linear): lambda_max(H)
    linear_g: np.ndarray  # (n_N, n_linear): ||grad L_Q(theta_N)||
    mlp_n_inner: np.ndarray  # (n_mlp_N,)
    mlp_alpha: np.ndarray  # (n_tasks, n_alpha + 1): u / ||H_S(theta_0)||, then finn_alpha
    mlp_bias: np.ndarray  # (n_mlp_N, n_tasks, n_alpha + 1): ||g_MAML - g_FO||
    mlp_l: np.ndarray  # same shape: L = max_j ||H_S(theta_j)|| along the inner trajectory
    mlp_g: np.ndarray  # same shape: G = ||grad L_Q(theta_N)||
    mlp_gmaml: np.ndarray  # same shape: ||g_MAML||
    slope_err: np.ndarray  # (n_mlp_N, n_tasks): rel. err of d b/d alpha at 0 vs -N H_0 g_Q(theta_0)
    finn_alpha: float


@experiment
def fomaml_bias(config: BiasConfig, key: jax.Array) -> BiasResult:
    """G3: attained bounds on quadratics, the linear-regression identity, and the bias, L, G on
    a sinusoid MLP at realistic step sizes and at Finn et al.'s α (float64)."""
    c = config
    with jax.enable_x64(True):
        raw = _bias_program(c, key)
        raw = jax.tree_util.tree_map(np.asarray, raw)
        nq = c.n_quadratic
        curv, alpha = raw["curv"], raw["alpha"]
        qb = np.stack([np.asarray(o[0]).reshape(2, nq) for o in raw["quad"]], axis=1)
        qg = np.stack([np.asarray(o[1]).reshape(2, nq) for o in raw["quad"]], axis=1)

        # linear regression (PSD, d-dim): the identity against numpy closed forms
        lin_err, lin_b, lin_a, lin_l, lin_g = [], [], [], [], []
        for n, (xs, ys, als, lmax, biases) in zip(c.n_inner, raw["linear"], strict=True):
            errs, gq_norm = [], []
            for t in range(c.n_linear):
                s, q, al = (xs[2 * t], ys[2 * t]), (xs[2 * t + 1], ys[2 * t + 1]), als[t]
                H = linear.hessian(s[0])
                th_n = linear.gd_iterates(np.zeros(c.d), *s, alpha=al, n_steps=n)[-1]
                gq = linear.gradient(th_n, *q)
                pred = (np.linalg.matrix_power(np.eye(c.d) - al * H, n) - np.eye(c.d)) @ gq
                errs.append(np.linalg.norm(biases[t] - pred) / np.linalg.norm(pred))
                gq_norm.append(np.linalg.norm(gq))
            lin_err.append(max(errs))
            lin_b.append(np.linalg.norm(biases, axis=1))
            lin_a.append(als)
            lin_l.append(lmax)
            lin_g.append(np.array(gq_norm))

        als, out, slopes = raw["mlp"]
        b, lip, g, gm = (np.stack([np.asarray(o[i]) for o in out]) for i in range(4))
        return BiasResult(
            n_inner=np.array(c.n_inner),
            quad_curv=curv,
            quad_alpha=alpha,
            quad_bias=qb,
            quad_gfo=qg,
            linear_err=np.array(lin_err),
            linear_bias=np.stack(lin_b),
            linear_alpha=np.stack(lin_a),
            linear_l=np.stack(lin_l),
            linear_g=np.stack(lin_g),
            mlp_n_inner=np.array(c.mlp_n_inner),
            mlp_alpha=np.asarray(als),
            mlp_bias=b,
            mlp_l=lip,
            mlp_g=g,
            mlp_gmaml=gm,
            slope_err=np.stack([np.asarray(s) for s in slopes]),
            finn_alpha=c.finn_alpha,
        )


@partial(jax.jit, static_argnums=0)
def _bias_program(c: BiasConfig, key: jax.Array) -> dict:
    """G3's JAX part as one compiled program (learners are looked up at trace time, and a
    mutant clears JAX's caches, so it is traced in)."""
    nq, nn = c.n_quadratic, len(c.n_inner)
    k_u, k_lin, k_mlp, k_dat, k_pow = jax.random.split(key, 5)
    u = jax.random.uniform(k_u, (4, 2, nn, nq), jnp.float64)
    curv = jnp.exp(jnp.log(0.1) + u[0] * jnp.log(100.0))  # a log-uniform in [0.1, 10]
    lo, hi = c.alpha_l
    alpha = (lo + (hi - lo) * u[1]) / curv  # alpha * a uniform in alpha_l
    b, t0 = 4 * u[2] - 2, 4 * u[3] - 2  # support optimum, theta_0; query optimum 0, curvature 1
    sign = jnp.array([1.0, -1.0])[:, None]  # convex, concave
    quad = []
    for i, n in enumerate(c.n_inner):
        f = jax.vmap(jax.vmap(partial(_bias, quadratic.loss, n=n)))
        q = (jnp.ones_like(b[:, i]), jnp.zeros_like(b[:, i]))
        quad.append(f(t0[:, i], (sign * curv[:, i], b[:, i]), q, alpha[:, i]))

    lin = []
    for n in c.n_inner:
        xs, ys, _ = linear.sample_tasks(jax.random.fold_in(k_lin, n), 2 * c.n_linear, c.m, c.d)
        sup, qry = (xs[0::2], ys[0::2]), (xs[1::2], ys[1::2])
        hs = jnp.einsum("tmi,tmj->tij", sup[0], sup[0]) / c.m
        lmax = jnp.linalg.eigvalsh(hs)[:, -1]
        als = (lo + (hi - lo) * 0.5) / lmax
        th0 = jnp.zeros((c.n_linear, c.d))
        biases, _ = jax.vmap(partial(_bias, linear.loss, n=n))(th0, sup, qry, als)
        lin.append((xs, ys, als, lmax, biases))

    # sinusoid ReLU MLP
    params = nets.init(k_mlp, c.mlp_sizes, dtype=jnp.float64)
    supp, query = sinusoid.sample_batch(k_dat, c.n_tasks, c.k_shot, c.k_shot)
    fold = [jax.random.fold_in(k_pow, j) for j in range(max(c.mlp_n_inner) + 1)]

    def support_loss(s, p):
        return nets.mse_loss(p, *s)

    flat0, unravel = ravel_pytree(params)

    def spectral_norm(s, z, k):
        """||H_S(z)|| at flat parameters z: exact from the dense Hessian (``power_iters = 0``),
        else by HVP power iteration (from below: a bound built on it is, if anything, small)."""
        if c.power_iters == 0:
            hess = jax.hessian(lambda w: support_loss(s, unravel(w)))(z)
            return jnp.max(jnp.abs(jnp.linalg.eigvalsh(hess)))
        return hessian_norm(partial(support_loss, s), unravel(z), k, c.power_iters)

    def stats(s, q, al, n):
        """||b||, ||g_MAML||, G = ||grad L_Q(theta_N)|| and the inner iterates theta_0..N-1."""
        bias, fo = _bias(nets.mse_loss, params, s, q, al, n)
        full = jax.tree_util.tree_map(jnp.add, bias, fo)
        p, pts = params, []
        for _ in range(n):
            pts.append(flatten(p))
            g = jax.grad(nets.mse_loss)(p, *s)
            p = jax.tree_util.tree_map(lambda w, gw: w - al * gw, p, g)
        grad = jnp.linalg.norm(flatten(jax.grad(nets.mse_loss)(p, *q)))
        nb, nf = jnp.linalg.norm(flatten(bias)), jnp.linalg.norm(flatten(full))
        return nb, grad, nf, jnp.stack(pts)

    def first_order_coefficient(s, q, n):
        """rel. err of d b / d alpha at alpha = 0 against -N H_0 grad L_Q(theta_0)."""
        _, db = jax.jvp(
            lambda a: flatten(_bias(nets.mse_loss, params, s, q, a, n)[0]),
            (jnp.float64(0.0),),
            (jnp.float64(1.0),),
        )
        gq0 = jax.grad(nets.mse_loss)(params, *q)
        pred = -n * flatten(hvp(partial(support_loss, s), params, gq0))
        return jnp.linalg.norm(db - pred) / jnp.linalg.norm(pred)

    # every Hessian norm in one vmapped call: theta_0 per task, then all inner iterates
    norms = partial(spectral_norm, k=fold[0])
    ls = jax.vmap(norms, (0, None))(supp, flat0)
    als = jnp.concatenate(
        [jnp.asarray(c.mlp_alpha_l)[None, :] / ls[:, None], jnp.full((ls.size, 1), c.finn_alpha)],
        axis=1,
    )
    out, pts = [], []
    for n in c.mlp_n_inner:
        per_alpha = jax.vmap(partial(stats, n=n), (None, None, 0))
        nb, grad, nf, z = jax.vmap(per_alpha)(supp, query, als)  # z: (tasks, alphas, n, P)
        out.append([nb, grad, nf])
        pts.append(z.reshape(z.shape[0], -1, z.shape[-1]))
    allnorm = jax.vmap(jax.vmap(norms, (None, 0)))(supp, jnp.concatenate(pts, axis=1))
    start = 0
    for o, n in zip(out, c.mlp_n_inner, strict=True):
        width = als.shape[1] * n
        lip = allnorm[:, start : start + width].reshape(als.shape[0], als.shape[1], n).max(-1)
        start += width
        o.insert(1, lip)  # (||b||, L, G, ||g_MAML||)
    slopes = [jax.vmap(partial(first_order_coefficient, n=n))(supp, query) for n in c.mlp_n_inner]
    return {"curv": curv, "alpha": alpha, "quad": quad, "linear": lin, "mlp": (als, out, slopes)}


# --------------------------------------------------------------------------- G4


@dataclass(frozen=True)
class ExpansionConfig:
    ks: tuple[int, ...] = (1, 2, 3)  # inner steps on the quadratic minibatch family
    n_batches: int = 3  # M minibatches; all M^k sequences enumerated
    d: int = 3
    mlp_ks: tuple[int, ...] = (2, 3)
    mlp_sizes: tuple[int, ...] = (1, 8, 8, 1)
    batch_size: int = 5


EXPANSION_QUICK = ExpansionConfig()
EXPANSION_FULL = ExpansionConfig(
    ks=(1, 2, 3, 4, 5), n_batches=4, d=6, mlp_ks=(2, 3, 4), mlp_sizes=(1, 40, 40, 1)
)
EXPANSION_PRESETS = {"quick": EXPANSION_QUICK, "full": EXPANSION_FULL}


@dataclass(frozen=True, kw_only=True)
class ExpansionResult:
    ks: np.ndarray
    scale: np.ndarray  # (n_k,): s, the nodes are alpha = s t, t in (0, 1]; s = 1 / max ||H_i||
    coef: np.ndarray  # (n_k, 3, 2, d): Taylor coefficients c_0, c_1 of E g (maml, fomaml, reptile)
    avg_grad: np.ndarray  # (d,) E[g_i] at theta
    avg_grad_inner: np.ndarray  # (d,) E[H_i] E[g_j]
    mlp_ks: np.ndarray
    mlp_value: np.ndarray  # (n_mlp_k, 2, P): E g at alpha = 0 (maml, fomaml), tanh MLP
    mlp_slope: np.ndarray  # (n_mlp_k, 2, P): d E g / d alpha at alpha = 0
    mlp_avg_grad: np.ndarray  # (P,)
    mlp_avg_grad_inner: np.ndarray  # (P,)


def _chebyshev(deg: int) -> np.ndarray:
    """``deg + 1`` Chebyshev points of the first kind on (0, 1) (never 0: Reptile divides
    by α), the well-conditioned nodes for interpolating a polynomial of degree ``deg``."""
    j = np.arange(deg + 1)
    return (1 + np.cos((2 * j + 1) * np.pi / (2 * deg + 2))) / 2


def _updates(loss_fn, theta, sx, sy, al, k):
    """MAML, FOMAML and Reptile updates for one sequence of ``k`` minibatches (MAML and
    FOMAML adapt on the first ``k - 1`` and evaluate on the last; NaN for ``k = 1``)."""
    rep = flatten(reptile_direction(loss_fn, theta, (sx, sy), alpha=al, n_inner=k, per_step=True))
    if k == 1:
        return jnp.stack([jnp.full_like(rep, jnp.nan), jnp.full_like(rep, jnp.nan), rep])
    inner, q = (sx[: k - 1], sy[: k - 1]), (sx[k - 1], sy[k - 1])
    kw = dict(alpha=al, n_inner=k - 1, per_step=True)
    g = jax.grad(maml_meta_loss, argnums=1)(loss_fn, theta, inner, q, **kw)
    fo = jax.grad(maml_meta_loss, argnums=1)(loss_fn, theta, inner, q, first_order=True, **kw)
    return jnp.stack([flatten(g), flatten(fo), rep])


@partial(jax.jit, static_argnums=0)
def _expansion_program(c: ExpansionConfig, key: jax.Array) -> dict:
    """G4's JAX part (call under float64): exact expected updates at the interpolation nodes
    (quadratic minibatches) and their value and α-derivative at 0 (tanh MLP)."""
    kq, kt, kp, kd = jax.random.split(key, 4)
    hs, cs = quadratic.sample_minibatches(kq, c.n_batches, c.d)
    theta = jax.random.normal(kt, (c.d,), jnp.float64)
    gs = jnp.einsum("mij,mj->mi", hs, theta[None] - cs)
    avg_grad = gs.mean(0)
    avg_inner = hs.mean(0) @ avg_grad  # E[H_i g_j], i != j independent draws
    s = 1.0 / jnp.max(jnp.linalg.norm(hs, ord=2, axis=(1, 2)))
    values = []
    for k in c.ks:
        seqs = np.array(list(itertools.product(range(c.n_batches), repeat=k)))
        per_seq = jax.vmap(partial(_updates, quadratic.loss, theta, k=k), (0, 0, None))

        def mean(al, sx=hs[seqs], sy=cs[seqs], per_seq=per_seq):
            return jnp.mean(per_seq(sx, sy, al), 0)

        values.append(jax.vmap(mean)(s * _chebyshev(max(2 * (k - 1), 1))))

    params = nets.init(kp, c.mlp_sizes, dtype=jnp.float64)
    m = c.n_batches * c.batch_size
    (x, y), _ = sinusoid.sample_batch(kd, 1, m, 1)
    xb = x[0].reshape(c.n_batches, c.batch_size, 1)
    yb = y[0].reshape(c.n_batches, c.batch_size, 1)

    def full(p):
        return jnp.mean(jax.vmap(lambda a, b: tanh_mse(p, a, b))(xb, yb))

    mlp_g = jax.grad(full)(params)
    mlp_gi = flatten(hvp(full, params, mlp_g))
    taylor = []
    for k in c.mlp_ks:
        seqs = np.array(list(itertools.product(range(c.n_batches), repeat=k)))

        def mean_mlp(al, sx=xb[seqs], sy=yb[seqs], k=k):
            per = jax.vmap(partial(_updates, tanh_mse, params, k=k), (0, 0, None))
            return jnp.mean(per(sx, sy, al)[:, :2], 0)

        taylor.append(jax.jvp(mean_mlp, (jnp.float64(0.0),), (jnp.float64(1.0),)))
    return {
        "scale": s,
        "values": values,
        "avg_grad": avg_grad,
        "avg_inner": avg_inner,
        "taylor": taylor,
        "mlp_g": flatten(mlp_g),
        "mlp_gi": mlp_gi,
    }


@experiment
def expected_updates(config: ExpansionConfig, key: jax.Array) -> ExpansionResult:
    """G4: exact expected updates (enumerated minibatch sequences); Taylor coefficients by
    interpolation on quadratics and by forward-mode autodiff at α = 0 on a tanh MLP."""
    c = config
    with jax.enable_x64(True):
        nodes = {k: _chebyshev(max(2 * (k - 1), 1)) for k in c.ks}
        raw = jax.tree_util.tree_map(np.asarray, _expansion_program(c, key))
        s = float(raw["scale"])
        coef = []
        for k, v in zip(c.ks, raw["values"], strict=True):
            t = nodes[k]
            vander = np.vander(t, len(t), increasing=True)
            sol = np.linalg.solve(vander, v.reshape(len(t), -1)).reshape(v.shape)
            coef.append(np.stack([sol[0], sol[1] / s], axis=1))  # coefficients in alpha
        taylor = raw["taylor"]
        return ExpansionResult(
            ks=np.array(c.ks),
            scale=np.full(len(c.ks), s),
            coef=np.stack(coef),
            avg_grad=raw["avg_grad"],
            avg_grad_inner=raw["avg_inner"],
            mlp_ks=np.array(c.mlp_ks),
            mlp_value=np.stack([np.asarray(v) for v, _ in taylor]),
            mlp_slope=np.stack([np.asarray(d) for _, d in taylor]),
            mlp_avg_grad=raw["mlp_g"],
            mlp_avg_grad_inner=raw["mlp_gi"],
        )


# --------------------------------------------------------------------------- G8


@dataclass(frozen=True)
class StepSizeConfig:
    n_inner: tuple[int, ...] = (1, 2, 5)
    n_linear: int = 6
    d: int = 6
    m: int = 12
    sizes: tuple[int, ...] = (1, 20, 20, 1)
    alpha: float = 0.01  # Finn et al.'s fixed inner step, and Meta-SGD's initial one
    train_n_inner: int = 1
    k_shot: int = 10
    meta_batch: int = 25
    meta_steps: int = 1000
    learning_rate: float = 3e-3
    n_seeds: int = 2
    n_eval_tasks: int = 500
    eval_query: int = 50


STEP_QUICK = StepSizeConfig()
STEP_FULL = StepSizeConfig(
    n_inner=(1, 2, 5, 10),
    sizes=(1, 40, 40, 1),
    meta_steps=10_000,
    learning_rate=1e-3,
    n_seeds=4,
    n_eval_tasks=2000,
    n_linear=30,
)
STEP_PRESETS = {"quick": STEP_QUICK, "full": STEP_FULL}


@dataclass(frozen=True, kw_only=True)
class StepSizeResult:
    n_inner: np.ndarray
    # exact part, linear regression (float64): per N, tasks (support, query) as (H, b) with
    # L = theta^T H theta / 2 - b^T theta + const, the initial point, the step sizes and the
    # autodiff derivative of L_Q(theta_N) in the step size (scalar and per-parameter)
    h_s: np.ndarray  # (n_N, n_linear, d, d)
    b_s: np.ndarray  # (n_N, n_linear, d)
    h_q: np.ndarray
    b_q: np.ndarray
    theta0: np.ndarray  # (n_N, n_linear, d)
    alpha_scalar: np.ndarray  # (n_N, n_linear)
    alpha_vector: np.ndarray  # (n_N, n_linear, d)
    grad_scalar: np.ndarray  # (n_N, n_linear)
    grad_vector: np.ndarray  # (n_N, n_linear, d)
    # training part, sinusoids
    curves: np.ndarray  # (2, n_seeds, meta_steps): meta-loss, fixed and learned alpha
    mse_fixed: np.ndarray  # (n_eval_tasks,) post-adaptation MSE, averaged over seeds
    mse_learned: np.ndarray
    mse_zero: np.ndarray  # (n_eval_tasks,) MSE of predicting 0 on the same query points
    alpha_learned: np.ndarray  # all learned step sizes (flattened over seeds)
    alpha_fixed: float


def _step_size_core(config: StepSizeConfig, key: jax.Array) -> dict:
    """G8, pure JAX over the key (vmapped over calibration seeds): Meta-SGD and MAML with a
    fixed α trained on sinusoids, evaluated on held-out tasks."""
    return _step_size_program(config, key)


@partial(jax.jit, static_argnums=0)
def _step_size_program(config: StepSizeConfig, key: jax.Array) -> dict:
    """The body of :func:`_step_size_core` as one compiled program (learners are looked up
    at trace time, so a mutant, which clears JAX's caches, is traced in)."""
    c = config
    k_exact, k_init, k_train, k_eval = jax.random.split(key, 4)
    opt = optax.adam(c.learning_rate)
    step = make_meta_sgd_step(nets.mse_loss, opt, n_inner=c.train_n_inner)

    def train(init, seed, fixed):
        """Meta-SGD; with ``fixed`` the step sizes are reset to α after every update, which is
        MAML with the fixed α (both methods share one compiled program)."""

        def body(carry, k):
            meta, s = carry
            supp, query = sinusoid.sample_batch(k, c.meta_batch, c.k_shot, c.k_shot)
            meta, s, loss = step(meta, s, supp, query)
            alpha = jax.tree_util.tree_map(lambda a: jnp.where(fixed, c.alpha, a), meta["alpha"])
            return ({"params": meta["params"], "alpha": alpha}, s), loss

        keys = jax.random.split(jax.random.fold_in(k_train, seed), c.meta_steps)
        (meta, _), losses = jax.lax.scan(body, (init, opt.init(init)), keys)
        return meta, losses

    supp, query = sinusoid.sample_batch(k_eval, c.n_eval_tasks, c.k_shot, c.eval_query)

    def per_task_mse(meta):
        def one(s, q):
            return maml_meta_loss(
                nets.mse_loss, meta["params"], s, q, alpha=meta["alpha"], n_inner=c.train_n_inner
            )

        return jax.vmap(one)(supp, query)

    def one_run(seed, fixed):
        init = meta_sgd_init(nets.init(jax.random.fold_in(k_init, seed), c.sizes), c.alpha)
        meta, losses = train(init, seed, fixed)
        return losses, per_task_mse(meta), flatten(meta["alpha"])

    seeds = jnp.tile(jnp.arange(c.n_seeds), 2)
    fixed = jnp.repeat(jnp.array([True, False]), c.n_seeds)
    losses, mse, alphas = jax.vmap(one_run)(seeds, fixed)
    curves = losses.reshape(2, c.n_seeds, c.meta_steps)
    mse = mse.reshape(2, c.n_seeds, -1)
    alphas = alphas.reshape(2, c.n_seeds, -1)[1]
    return {
        "exact_key": jax.random.key_data(k_exact),
        "curves": curves,
        "mse_fixed": jnp.mean(mse[0], 0),
        "mse_learned": jnp.mean(mse[1], 0),
        "mse_zero": jnp.mean(query[1][..., 0] ** 2, axis=-1),
        "alpha_learned": alphas.ravel(),
    }


@partial(jax.jit, static_argnums=0)
def _alpha_gradient_program(c: StepSizeConfig, key: jax.Array):
    """G8's exact part (call under float64): linear-regression tasks per N and the autodiff
    derivative of L_Q(theta_N) in a scalar and a per-parameter step size."""
    out = []
    for n in c.n_inner:
        kt = jax.random.fold_in(key, n)
        xs, ys, _ = linear.sample_tasks(kt, 2 * c.n_linear, c.m, c.d)
        th0 = jax.random.normal(jax.random.fold_in(kt, 1), (c.n_linear, c.d))
        hs = jnp.einsum("tmi,tmj->tij", xs, xs) / c.m
        bs = jnp.einsum("tmi,tm->ti", xs, ys) / c.m
        lmax = jnp.linalg.eigvalsh(hs[0::2])[:, -1]
        a_s = 0.5 / lmax
        a_v = jnp.linspace(0.2, 0.8, c.d)[None, :] / lmax[:, None]

        def grad_alpha(t, s, q, a, n=n):
            return jax.grad(lambda a: maml_meta_loss(linear.loss, t, s, q, alpha=a, n_inner=n))(a)

        sup, qry = (xs[0::2], ys[0::2]), (xs[1::2], ys[1::2])
        g_s = jax.vmap(grad_alpha)(th0, sup, qry, a_s)
        g_v = jax.vmap(grad_alpha)(th0, sup, qry, a_v)
        out.append((hs[0::2], bs[0::2], hs[1::2], bs[1::2], th0, a_s, a_v, g_s, g_v))
    return out


def _step_size_finish(config: StepSizeConfig, out: dict) -> StepSizeResult:
    """G8's exact part (float64, on the seed's key), and the result."""
    c = config
    key = jax.random.wrap_key_data(jnp.asarray(out["exact_key"]))
    with jax.enable_x64(True):
        names = ("h_s", "b_s", "h_q", "b_q", "t0", "a_s", "a_v", "g_s", "g_v")
        raw = _alpha_gradient_program(c, key)
        cols = {k: [np.asarray(o[i], np.float64) for o in raw] for i, k in enumerate(names)}
    st = {k: np.stack(v) for k, v in cols.items()}
    return StepSizeResult(
        n_inner=np.array(c.n_inner),
        h_s=st["h_s"],
        b_s=st["b_s"],
        h_q=st["h_q"],
        b_q=st["b_q"],
        theta0=st["t0"],
        alpha_scalar=st["a_s"],
        alpha_vector=st["a_v"],
        grad_scalar=st["g_s"],
        grad_vector=st["g_v"],
        curves=np.asarray(out["curves"]),
        mse_fixed=np.asarray(out["mse_fixed"], np.float64),
        mse_learned=np.asarray(out["mse_learned"], np.float64),
        mse_zero=np.asarray(out["mse_zero"], np.float64),
        alpha_learned=np.asarray(out["alpha_learned"], np.float64),
        alpha_fixed=c.alpha,
    )


learned_step_sizes = vmappable(_step_size_core, _step_size_finish)
"""G8: ∂L_Q/∂α by autodiff (exact part) and Meta-SGD vs a fixed α on sinusoids."""
