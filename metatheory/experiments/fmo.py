r"""Experiments for the convergence theory of MAML (Fallah, Mokhtari, Ozdaglar 2020; C1–C5).

All on the circular task family (:mod:`metatheory.tasks.circular`), whose constants
:math:`L`, :math:`\rho = L`, :math:`G = L\sqrt d` are exact. The task distribution is uniform
over a pool of ``n_tasks`` tasks, so the MAML objective
:math:`F_N(w) = \frac1n\sum_i f_i(w^i_N)`, :math:`w^i_{j+1} = w^i_j - \alpha\nabla f_i(w^i_j)`,
and its gradient are computed exactly (``n_inner = 1`` is FMO's :math:`F`).

- :func:`smoothness` (C1): Hessian spectral norm of :math:`F` by HVP power iteration, and
  difference quotients of :math:`\nabla F` over sampled pairs, against the bounds.
- :func:`multistep` (C2): the same for :math:`F_N`, ``N = 1..``.
- :func:`batch_variance` (C3): variance and bias of the ``B``-task meta-gradient with
  independent or shared support/query batches; the exact mean by Gauss–Hermite quadrature.
- :func:`rate` (C4): stochastic MAML with :math:`\beta = c/\sqrt T`, seeds vmapped, steps in
  ``lax.scan``; first-order MAML's floor against :math:`\alpha`.
- :func:`fmo_rule` (C5): FMO's algorithm with :math:`\beta_k = 1/(12\tilde L(w_k))`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.autodiff import dense_hessian, hvp
from metatheory.bounds import fmo_smoothness, maml_smoothness
from metatheory.learners.maml import maml_meta_gradient
from metatheory.tasks import circular

__all__ = [
    "SmoothConfig",
    "SMOOTH_QUICK",
    "SMOOTH_FULL",
    "SmoothResult",
    "smoothness",
    "MultiConfig",
    "MULTI_QUICK",
    "MULTI_FULL",
    "MultiResult",
    "multistep",
    "VarConfig",
    "VAR_QUICK",
    "VAR_FULL",
    "VarResult",
    "batch_variance",
    "RateConfig",
    "RATE_QUICK",
    "RATE_FULL",
    "RateResult",
    "rate",
    "FmoConfig",
    "FMO_QUICK",
    "FMO_FULL",
    "FmoResult",
    "fmo_rule",
    "meta_objective",
]

Family = circular.CircularFamily


# ---------------------------------------------------------------- exact objective on a pool


def _adapt(w, theta, fam, alpha, n_inner):
    grad_f = jax.grad(circular.population_loss)
    for _ in range(n_inner):
        w = w - alpha * grad_f(w, theta, fam)
    return w


def meta_objective(w, thetas, fam: Family, alpha, n_inner: int = 1):
    r""":math:`F_N(w) = \frac1n\sum_i f_i(w^i_N)` over the pool ``thetas`` (``(n, d)``)."""

    def one(theta):
        return circular.population_loss(_adapt(w, theta, fam, alpha, n_inner), theta, fam)

    return jnp.mean(jax.vmap(one)(thetas))


def _grad_norms(w, thetas, fam, alpha):
    """``(||grad f_i(w)||, ||grad f_i(w~_i)||)`` per task."""
    gf = jax.grad(circular.population_loss)
    g0 = jax.vmap(lambda th: gf(w, th, fam))(thetas)
    g1 = jax.vmap(lambda th: gf(_adapt(w, th, fam, alpha, 1), th, fam))(thetas)
    return jnp.linalg.norm(g0, axis=1), jnp.linalg.norm(g1, axis=1)


def _power_norm(f, w, key, iters, restarts: int = 2):
    """Largest |eigenvalue| of the Hessian of ``f`` at ``w`` by power iteration on HVPs, the
    best of ``restarts`` random starts. Each estimate is a lower bound; one start can stall
    when it is nearly orthogonal to the top eigenvector and the gap is small (seen once in
    3075 points: start component ~5e-4 at |λ2/λ1| = 0.9967)."""

    def one(k):
        v = jax.random.normal(k, w.shape, w.dtype)
        v = v / jnp.linalg.norm(v)

        def body(v, _):
            hv = hvp(f, w, v)
            return hv / jnp.linalg.norm(hv), None

        v, _ = jax.lax.scan(body, v, None, length=iters)
        return jnp.linalg.norm(hvp(f, w, v))

    return jnp.max(jax.vmap(one)(jax.random.split(key, restarts)))


def _dense_norm(f, w):
    """Largest |eigenvalue| of the dense Hessian (small ``d``: the exact reference)."""
    return jnp.max(jnp.abs(jnp.linalg.eigvalsh(dense_hessian(f, w))))


def _points(key, n, fam, thetas):
    """``n`` uniform points of the torus plus the mean task's curvature maximum (every task
    near its own maximum, where ``F`` is least smooth)."""
    w = jax.random.uniform(key, (n, fam.d), minval=-np.pi, maxval=np.pi, dtype=thetas.dtype)
    worst = jnp.mean(thetas, axis=0) + np.pi
    return jnp.concatenate([worst[None], w])


# ---------------------------------------------------------------- C1


@dataclass(frozen=True)
class SmoothConfig:
    family: Family = Family(d=2, L=1.0, tau=0.3, noise=0.5)
    n_tasks: int = 16
    alpha_l: tuple[float, ...] = (0.25, 0.5, 1.0)  # alpha * L
    n_points: int = 64
    radii: tuple[float, ...] = (1e-3, 0.1, 0.5, 1.5)
    power_iters: int = 200


SMOOTH_QUICK = SmoothConfig(n_points=32)
SMOOTH_FULL = SmoothConfig(n_tasks=64, n_points=1024, power_iters=2000)
"""1024 points include gaps |λ2/λ1| = 0.9967, where 200 steps converge only to ~0.3%."""


@dataclass
class SmoothResult:
    alpha: np.ndarray  # (A,)
    hess: np.ndarray  # (A, P) ||Hessian F|| by HVP power iteration
    hess_dense: np.ndarray  # (A, P) same from the dense Hessian (cross-check)
    bound_general: np.ndarray  # (A, P) (1+aL)^2 L + a rho E||grad f_i(w~)||
    bound_fmo: np.ndarray  # (A, P) 4L + 2 rho a E||grad f_i(w)||
    pair_ratio: np.ndarray  # (A, P, R) quotient / pair bound (general form)
    pair_ratio_fmo: np.ndarray  # (A, P, R) quotient / FMO pair bound
    pair_quot: np.ndarray  # (A, P, R) ||grad F(w) - grad F(u)|| / ||w - u||
    L: float
    rho: float
    G: float


def smoothness(config: SmoothConfig, key: jax.Array) -> SmoothResult:
    """C1: local and pairwise Lipschitz constants of ``grad F`` (float64) against the bounds."""
    with jax.enable_x64(True):
        c, fam = config, config.family
        kt, kp, kd, kv = jax.random.split(key, 4)
        thetas = circular.sample_tasks(kt, c.n_tasks, fam).astype(jnp.float64)
        pts = _points(kp, c.n_points, fam, thetas)
        dirs = jax.random.normal(kd, (pts.shape[0], len(c.radii), fam.d), jnp.float64)
        dirs = dirs / jnp.linalg.norm(dirs, axis=-1, keepdims=True)
        radii = jnp.asarray(c.radii)
        out = {k: [] for k in ("hess", "dense", "bg", "bf", "pr", "prf", "pq")}
        for a_l in c.alpha_l:
            alpha = a_l / fam.L
            F = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=alpha)
            gF = jax.grad(F)
            keys = jax.random.split(jax.random.fold_in(kv, int(1000 * a_l)), pts.shape[0])
            power = functools.partial(_power_norm, F, iters=c.power_iters)
            hess = jax.jit(jax.vmap(power))(pts, keys)
            dense = jax.vmap(functools.partial(_dense_norm, F))(pts)
            norms = functools.partial(_grad_norms, thetas=thetas, fam=fam, alpha=alpha)
            n0, n1 = jax.vmap(norms)(pts)  # (P, n)
            q = 1 + alpha * fam.L
            bg = q**2 * fam.L + alpha * fam.rho * n1.mean(axis=1)
            bf = fmo_smoothness(fam.L, fam.rho, alpha, np.asarray(n0.mean(axis=1)))
            us = pts[:, None, :] + radii[None, :, None] * dirs  # (P, R, d)
            gw = jax.vmap(gF)(pts)
            gu = jax.vmap(jax.vmap(gF))(us)
            quot = jnp.linalg.norm(gu - gw[:, None], axis=-1) / radii[None, :]
            m0, m1 = jax.vmap(jax.vmap(norms))(us)
            pb = q**2 * fam.L + alpha * fam.rho * jnp.minimum(m1, n1[:, None]).mean(-1)
            pbf = 4 * fam.L + 2 * fam.rho * alpha * jnp.minimum(m0, n0[:, None]).mean(-1)
            for k, v in zip(
                out,
                (hess, dense, bg, bf, quot / pb, quot / pbf, quot),
                strict=True,
            ):
                out[k].append(np.asarray(v))
        s = {k: np.stack(v) for k, v in out.items()}
        return SmoothResult(
            np.array([a / fam.L for a in c.alpha_l]),
            s["hess"],
            s["dense"],
            s["bg"],
            s["bf"],
            s["pr"],
            s["prf"],
            s["pq"],
            fam.L,
            fam.rho,
            fam.G,
        )


# ---------------------------------------------------------------- C2


@dataclass(frozen=True)
class MultiConfig:
    family: Family = Family(d=2, L=1.0, tau=0.3, noise=0.5)
    n_tasks: int = 16
    alpha_l: float = 0.5
    n_inner: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8)
    n_points: int = 64


MULTI_QUICK = MultiConfig()
MULTI_FULL = MultiConfig(n_tasks=64, n_points=1024, n_inner=(1, 2, 3, 4, 5, 6, 7, 8, 10))


@dataclass
class MultiResult:
    n_inner: np.ndarray
    alpha: float
    empirical: np.ndarray  # max over points of ||Hessian F_N|| (dense, exact for small d)
    bound: np.ndarray  # L_N (C2)
    linearized: np.ndarray  # control: L_N to first order in alpha
    one_step: np.ndarray  # the fitted growth factor per step is compared with (1 + aL)^2
    growth: float  # fitted exp(slope) of log empirical vs N
    L: float


def multistep(config: MultiConfig, key: jax.Array) -> MultiResult:
    """C2: the largest Hessian norm of ``F_N`` over sampled points (a lower bound on its
    Lipschitz constant) against ``L_N`` with ``G = L sqrt(d)``."""
    from metatheory.symbolic import fmo as sym

    with jax.enable_x64(True):
        c, fam = config, config.family
        kt, kp = jax.random.split(key)
        thetas = circular.sample_tasks(kt, c.n_tasks, fam).astype(jnp.float64)
        pts = _points(kp, c.n_points, fam, thetas)
        alpha = c.alpha_l / fam.L
        emp = []
        for n in c.n_inner:
            F = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=alpha, n_inner=n)
            norms = jax.jit(jax.vmap(functools.partial(_dense_norm, F)))(pts)
            emp.append(float(jnp.max(norms)))
        ns = np.array(c.n_inner)
        bound = np.asarray(maml_smoothness(fam.L, fam.rho, alpha, fam.G, ns), np.float64)
        lin = sym.multi_step_linearized()
        lin_f = __import__("sympy").lambdify((sym.L, sym.rho, sym.alpha, sym.G, sym.N), lin)
        linear = np.asarray(lin_f(fam.L, fam.rho, alpha, fam.G, ns), np.float64) * np.ones(ns.size)
        emp = np.array(emp)
        slope = np.polyfit(ns, np.log(emp), 1)[0]
        return MultiResult(
            ns,
            alpha,
            emp,
            bound,
            linear,
            np.full(ns.size, (1 + alpha * fam.L) ** 2),
            float(np.exp(slope)),
            fam.L,
        )


# ---------------------------------------------------------------- C3


@dataclass(frozen=True)
class VarConfig:
    family: Family = Family(d=2, L=1.0, tau=0.5, noise=0.5)
    n_tasks: int = 16
    alpha_l: float = 0.5
    k_shot: int = 2  # support = query size; the exact mean needs (d * n_gh)^k nodes
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    n_rep: int = 4096
    n_gh: int = 24
    w: tuple[float, ...] = (0.6, -0.4)


VAR_QUICK = VarConfig()
VAR_FULL = VarConfig(n_rep=32768)


@dataclass
class VarResult:
    batch_sizes: np.ndarray
    var_indep: np.ndarray  # tr Cov of the B-task mean, independent support/query
    var_shared: np.ndarray
    mean_indep: np.ndarray  # (nB, d) Monte Carlo means
    mean_shared: np.ndarray
    se_indep: np.ndarray  # (nB, d) standard errors of those means
    se_shared: np.ndarray
    exact_indep: np.ndarray  # (d,) E g by quadrature (= grad of the K-shot objective)
    exact_shared: np.ndarray  # (d,) E g with the query batch equal to the support batch
    grad_F: np.ndarray  # (d,) grad of FMO's F (exact inner gradient)
    bias_shared: np.ndarray  # (nB,) ||MC mean (shared) - exact_indep||
    bias_indep: np.ndarray  # (nB,) ||MC mean (indep.) - exact_indep||
    n_rep: int


def _task_grads(fam, alpha, w, thetas, idx, key, k, shared):
    """Per-task MAML meta-gradients (learners.maml) for tasks ``thetas[idx]``."""
    loss = functools.partial(circular.loss, lam=fam.lam)

    def one(i, kk):
        ks, kq = jax.random.split(kk)
        s = circular.sample_data(ks, thetas[i], k, fam)
        q = s if shared else circular.sample_data(kq, thetas[i], k, fam)
        return maml_meta_gradient(loss, w, s, q, alpha=alpha, n_inner=1)

    return jax.vmap(one)(idx, jax.random.split(key, idx.shape[0]))


def _quadrature_means(fam, alpha, w, thetas, k, n_gh):
    """Exact ``E g`` over tasks and the ``k`` support samples (one-hot coordinate and Gaussian
    noise, Gauss–Hermite in the noise), with an independent or the same query batch."""
    xg, wg = np.polynomial.hermite_e.hermegauss(n_gh)
    wg = wg / wg.sum()
    d = fam.d
    # all (coordinate, node) combinations for k samples
    coords = np.array(np.meshgrid(*[np.arange(d)] * k, indexing="ij")).reshape(k, -1).T
    nodes = np.array(np.meshgrid(*[np.arange(n_gh)] * k, indexing="ij")).reshape(k, -1).T
    loss = functools.partial(circular.loss, lam=fam.lam)
    eye = jnp.eye(d)
    ci = jnp.asarray(np.repeat(coords, nodes.shape[0], axis=0))
    ni = jnp.asarray(np.tile(nodes, (coords.shape[0], 1)))
    weight = jnp.asarray(np.prod(wg[np.asarray(ni)], axis=1) / d**k)
    eps = jnp.asarray(xg)[ni]

    def per_task(theta):
        def one(c_, e_):
            x = eye[c_]
            y = theta[c_] + fam.noise * e_
            adapt = lambda v: v - alpha * jax.grad(loss)(v, x, y)  # noqa: E731
            g_ind = jax.grad(lambda v: circular.population_loss(adapt(v), theta, fam))(w)
            g_sh = jax.grad(lambda v: loss(adapt(v), x, y))(w)
            return g_ind, g_sh

        gi, gs = jax.vmap(one)(ci, eps)
        return weight @ gi, weight @ gs

    gi, gs = jax.vmap(per_task)(thetas)
    return np.asarray(gi.mean(0)), np.asarray(gs.mean(0))


def batch_variance(config: VarConfig, key: jax.Array) -> VarResult:
    """C3: ``n_rep`` replicates of the ``B``-task mean meta-gradient at a fixed ``w``."""
    with jax.enable_x64(True):
        c, fam = config, config.family
        alpha = c.alpha_l / fam.L
        kt, kr = jax.random.split(key)
        thetas = circular.sample_tasks(kt, c.n_tasks, fam).astype(jnp.float64)
        w = jnp.asarray(c.w, jnp.float64)
        res = {k: [] for k in ("vi", "vs", "mi", "ms", "si", "ss")}
        sizes = np.array(c.batch_sizes)
        n_draw = c.n_rep * int(sizes.sum())  # disjoint task draws for every (replicate, B)

        @jax.jit
        def draws(kk):
            ki, kd = jax.random.split(kk)
            idx = jax.random.randint(ki, (n_draw,), 0, c.n_tasks)
            gi = _task_grads(fam, alpha, w, thetas, idx, kd, c.k_shot, False)
            gs = _task_grads(fam, alpha, w, thetas, idx, kd, c.k_shot, True)
            return gi, gs

        all_i, all_s = (np.asarray(a) for a in draws(kr))
        start = 0
        for b in sizes:
            stop = start + c.n_rep * int(b)
            for tag, a in (("i", all_i), ("s", all_s)):
                g = a[start:stop].reshape(c.n_rep, int(b), fam.d).mean(axis=1)
                res["v" + tag].append(float(np.sum(g.var(axis=0, ddof=1))))
                res["m" + tag].append(g.mean(axis=0))
                res["s" + tag].append(g.std(axis=0, ddof=1) / np.sqrt(c.n_rep))
            start = stop
        exact_i, exact_s = _quadrature_means(fam, alpha, w, thetas, c.k_shot, c.n_gh)
        grad_F = np.asarray(jax.grad(meta_objective)(w, thetas, fam, alpha))
        mi, ms = np.array(res["mi"]), np.array(res["ms"])
        return VarResult(
            np.array(c.batch_sizes),
            np.array(res["vi"]),
            np.array(res["vs"]),
            mi,
            ms,
            np.array(res["si"]),
            np.array(res["ss"]),
            exact_i,
            exact_s,
            grad_F,
            np.linalg.norm(ms - exact_i, axis=1),
            np.linalg.norm(mi - exact_i, axis=1),
            c.n_rep,
        )


# ---------------------------------------------------------------- C4


@dataclass(frozen=True)
class RateConfig:
    family: Family = Family(d=2, L=1.0, tau=0.5, noise=0.5)
    n_tasks: int = 16
    alpha_l: float = 0.25
    n_tasks_batch: int = 2  # B
    k_query: int = 2
    horizons: tuple[int, ...] = (100, 300, 1000, 3000, 10000, 30000, 100000)
    n_seeds: int = 64
    w0: tuple[float, ...] = (1.6, -1.2)
    fo_alpha_l: tuple[float, ...] = (0.01, 0.02, 0.04, 0.08)
    fo_steps: int = 4000


RATE_QUICK = RateConfig()
RATE_FULL = RateConfig(n_seeds=256)


@dataclass
class RateResult:
    horizons: np.ndarray
    avg_sq: np.ndarray  # (nT, seeds) (1/T) sum_t ||grad F(w_t)||^2
    c: float  # beta = c / sqrt(T)
    delta: float  # F(w0) - min F
    sigma2: float  # E||g - grad F||^2 at w0 (measured)
    L_F: float  # global smoothness of F used in the bound
    term_gap: np.ndarray  # 2 Delta / (c sqrt T)
    term_noise: np.ndarray  # L_F c sigma2 / sqrt T
    fo_alpha: np.ndarray
    fo_floor: np.ndarray  # ||grad F(w_FO)||^2 at the first-order fixed point
    fo_task_var: np.ndarray  # E_i ||grad f_i(w~_i) - mean||^2 there (FMO's sigma^2)
    fo_fmo_bound: np.ndarray  # 20 alpha^2 L^2 sigma^2
    fo_maml: np.ndarray  # ||grad F||^2 at the end of the same run with MAML's gradient


def _stoch_meta_grad(w, key, thetas, fam, alpha, b, k):
    """Unbiased estimate of ``grad F``: ``b`` tasks uniform from the pool, exact inner step
    (FMO with a large inner batch), an independent query batch of ``k`` samples per task."""
    loss = functools.partial(circular.loss, lam=fam.lam)
    ki, kd = jax.random.split(key)
    idx = jax.random.randint(ki, (b,), 0, thetas.shape[0])

    def one(i, kk):
        x, y = circular.sample_data(kk, thetas[i], k, fam)
        return jax.grad(lambda v: loss(_adapt(v, thetas[i], fam, alpha, 1), x, y))(w)

    return jax.vmap(one)(idx, jax.random.split(kd, b)).mean(0)


@functools.partial(jax.jit, static_argnums=(3, 4, 6, 7))
def _run_avg(keys, w0, thetas, fam, n_steps, beta, b, k, alpha):
    gF = jax.grad(meta_objective)

    def seed(key):
        def step(carry, t):
            w, s = carry
            g_true = gF(w, thetas, fam, alpha)
            g = _stoch_meta_grad(w, jax.random.fold_in(key, t), thetas, fam, alpha, b, k)
            return (w - beta * g, s + jnp.sum(g_true**2)), None

        (w, s), _ = jax.lax.scan(step, (w0, jnp.zeros((), w0.dtype)), jnp.arange(n_steps))
        return s / n_steps

    return jax.vmap(seed)(keys)


def _first_order_floor(fam, thetas, alpha, steps):
    """Run full-batch FOMAML (exact inner step) to its fixed point; return ``||grad F||^2``
    there, the task-gradient variance there, and ``||grad F||^2`` of MAML run identically."""
    gf = jax.grad(circular.population_loss)

    def fo_dir(w):
        return jax.vmap(lambda th: gf(_adapt(w, th, fam, alpha, 1), th, fam))(thetas)

    gF = jax.grad(meta_objective)

    def run(direction):
        def body(w, _):
            return w - 0.5 / fam.L * direction(w), None

        w, _ = jax.lax.scan(body, jnp.zeros(fam.d, thetas.dtype), None, length=steps)
        return w

    w_fo = run(lambda w: fo_dir(w).mean(0))
    w_m = run(lambda w: gF(w, thetas, fam, alpha))
    g = fo_dir(w_fo)
    task_var = jnp.mean(jnp.sum((g - g.mean(0)) ** 2, axis=1))
    floor = jnp.sum(gF(w_fo, thetas, fam, alpha) ** 2)
    return float(floor), float(task_var), float(jnp.sum(gF(w_m, thetas, fam, alpha) ** 2))


def rate(config: RateConfig, key: jax.Array) -> RateResult:
    r"""C4: average squared gradient norm of stochastic MAML with :math:`\beta = c/\sqrt T`.

    ``c`` is the balancing constant :math:`\sqrt{2\Delta/(L_F\sigma^2)}` of
    :func:`metatheory.symbolic.fmo.derive_rate` (so both terms of the bound are equal),
    capped so that :math:`\beta\le 1/L_F` at the smallest horizon."""
    c, fam = config, config.family
    alpha = c.alpha_l / fam.L
    kt, ks, kv = jax.random.split(key, 3)
    with jax.enable_x64(True):
        th64 = circular.sample_tasks(kt, c.n_tasks, fam).astype(jnp.float64)
        w0 = jnp.asarray(c.w0, jnp.float64)
        gF = jax.grad(meta_objective)
        # Delta: F(w0) minus F at the end of a long deterministic run from w0
        w, _ = jax.lax.scan(
            lambda w, _: (w - 0.5 / fam.L * gF(w, th64, fam, alpha), None), w0, None, length=3000
        )
        delta = float(meta_objective(w0, th64, fam, alpha) - meta_objective(w, th64, fam, alpha))
        gs = jax.vmap(
            lambda kk: _stoch_meta_grad(w0, kk, th64, fam, alpha, c.n_tasks_batch, c.k_query)
        )(jax.random.split(kv, 20000))
        sigma2 = float(jnp.sum(jnp.var(gs, axis=0)))
        fo = [_first_order_floor(fam, th64, a / fam.L, c.fo_steps) for a in c.fo_alpha_l]
    L_F = float(maml_smoothness(fam.L, fam.rho, alpha, fam.G, 1))
    c_star = float(np.sqrt(2 * delta / (L_F * sigma2)))
    c_used = min(c_star, np.sqrt(min(c.horizons)) / L_F)
    thetas = th64.astype(jnp.float32)
    avg = []
    for T in c.horizons:
        keys = jax.random.split(jax.random.fold_in(ks, T), c.n_seeds)
        beta = jnp.float32(c_used / np.sqrt(T))
        v = _run_avg(
            keys,
            jnp.asarray(c.w0, jnp.float32),
            thetas,
            fam,
            T,
            beta,
            c.n_tasks_batch,
            c.k_query,
            jnp.float32(alpha),
        )
        avg.append(np.asarray(v, np.float64))
    hs = np.array(c.horizons, np.float64)
    fo = np.array(fo)
    fo_alpha = np.array(c.fo_alpha_l) / fam.L
    return RateResult(
        hs,
        np.stack(avg),
        c_used,
        delta,
        sigma2,
        L_F,
        2 * delta / (c_used * np.sqrt(hs)),
        L_F * c_used * sigma2 / np.sqrt(hs),
        fo_alpha,
        fo[:, 0],
        fo[:, 1],
        20 * fo_alpha**2 * fam.L**2 * fo[:, 1],
        fo[:, 2],
    )


# ---------------------------------------------------------------- C5


@dataclass(frozen=True)
class FmoConfig:
    family: Family = Family(d=2, L=1.0, tau=0.5, noise=1.0)  # noisy: the variance term matters
    n_tasks: int = 16
    alpha_l: float = 1 / 6  # FMO's MAML theorem takes alpha in (0, 1/(6L)]
    n_tasks_batch: int = 1  # B (meta-gradient tasks); small, so the noise term is visible
    n_tasks_step: int = 20  # B' (tasks estimating L(w_k) for the step size)
    d_out: int = 1  # |D_o|
    d_hess: int = 1  # |D_h|
    d_beta: int = 4  # |D_beta|
    horizons: tuple[int, ...] = (1000, 10000)
    n_seeds: int = 64
    w0: tuple[float, ...] = (1.6, -1.2)


FMO_QUICK = FmoConfig()
FMO_FULL = FmoConfig(n_seeds=128, horizons=(1000, 3000, 10000, 30000))


@dataclass
class FmoResult:
    horizons: np.ndarray
    avg_sq: np.ndarray  # (nT, seeds)
    beta_mean: np.ndarray  # (nT,) mean step size used
    beta_min_seen: np.ndarray
    beta_max_seen: np.ndarray
    bound: np.ndarray  # (nT,) 2 Delta / (beta_min T) + L_F beta_max^2 sigma^2 / beta_min
    deterministic: np.ndarray  # control: the bound without its variance term
    beta_min: float
    beta_max: float
    delta: float
    sigma2_bound: float
    L_F: float
    conditions: dict  # name -> (value, required, satisfied)
    step_test: float  # 1 / (12 * fmo_smoothness(1, 2, 0.1, 3))


def _fmo_step(w, key, thetas, fam, alpha, c):
    """One FMO MAML step: independent batches ``D_o`` (outer gradient), ``D_h`` (Hessian),
    exact inner step; the step size from ``B'`` further tasks with batches ``D_beta``."""
    loss = functools.partial(circular.loss, lam=fam.lam)
    kb, ks, kl = jax.random.split(key, 3)
    idx = jax.random.randint(kb, (c.n_tasks_batch,), 0, thetas.shape[0])

    def one(i, kk):
        ko, kh = jax.random.split(kk)
        xo, yo = circular.sample_data(ko, thetas[i], c.d_out, fam)
        xh, yh = circular.sample_data(kh, thetas[i], c.d_hess, fam)
        w_ad = _adapt(w, thetas[i], fam, alpha, 1)
        go = jax.grad(loss)(w_ad, xo, yo)
        hg = hvp(lambda v: loss(v, xh, yh), w, go)
        return go - alpha * hg

    g = jax.vmap(one)(idx, jax.random.split(ks, c.n_tasks_batch)).mean(0)
    kidx, kdat = jax.random.split(kl)
    idx2 = jax.random.randint(kidx, (c.n_tasks_step,), 0, thetas.shape[0])

    def norm(i, kk):
        x, y = circular.sample_data(kk, thetas[i], c.d_beta, fam)
        return jnp.linalg.norm(jax.grad(loss)(w, x, y))

    gnorm = jax.vmap(norm)(idx2, jax.random.split(kdat, c.n_tasks_step)).mean()
    beta = 1.0 / (12.0 * (4 * fam.L + 2 * fam.rho * alpha * gnorm))
    return g, beta


@functools.partial(jax.jit, static_argnums=(3, 4, 6))
def _run_fmo(keys, w0, thetas, fam, n_steps, alpha, c):
    gF = jax.grad(meta_objective)

    def seed(key):
        def step(carry, t):
            w, s, bs, bmin, bmax = carry
            g_true = gF(w, thetas, fam, alpha)
            g, beta = _fmo_step(w, jax.random.fold_in(key, t), thetas, fam, alpha, c)
            new = (
                w - beta * g,
                s + jnp.sum(g_true**2),
                bs + beta,
                jnp.minimum(bmin, beta),
                jnp.maximum(bmax, beta),
            )
            return new, None

        z = jnp.zeros((), w0.dtype)
        init = (w0, z, z, z + jnp.inf, z)
        (w, s, bs, bmin, bmax), _ = jax.lax.scan(step, init, jnp.arange(n_steps))
        return s / n_steps, bs / n_steps, bmin, bmax

    return jax.vmap(seed)(keys)


def fmo_rule(config: FmoConfig, key: jax.Array) -> FmoResult:
    r"""C5: FMO's MAML with :math:`\beta_k = 1/(12\tilde L(w_k))` against the evaluated bound
    of :func:`metatheory.symbolic.fmo.derive_fmo_bound`.

    Every constant of the bound is known for the circular family: per-sample gradients and
    Hessians are bounded by :math:`\lambda`, so :math:`\tilde L(w_k)\le 4L+2\rho\alpha\lambda`
    and :math:`\sigma^2\le((1+\alpha\lambda)\lambda)^2/B`; :math:`F\ge Ld(1/\kappa-1)`."""
    c, fam = config, config.family
    alpha = c.alpha_l / fam.L
    kt, ks = jax.random.split(key)
    with jax.enable_x64(True):
        th64 = circular.sample_tasks(kt, c.n_tasks, fam).astype(jnp.float64)
        f0 = float(meta_objective(jnp.asarray(c.w0, jnp.float64), th64, fam, alpha))
    f_low = fam.L * fam.d * (1 / fam.kappa - 1)
    delta = f0 - f_low
    lam = fam.lam
    L_F = float(maml_smoothness(fam.L, fam.rho, alpha, fam.G, 1))
    beta_max = 1 / (12 * 4 * fam.L)
    beta_min = 1 / (12 * (4 * fam.L + 2 * fam.rho * alpha * lam))
    sigma2 = ((1 + alpha * lam) * lam) ** 2 / c.n_tasks_batch
    thetas = th64.astype(jnp.float32)
    avg, bmean, bmin, bmax = [], [], [], []
    for T in c.horizons:
        keys = jax.random.split(jax.random.fold_in(ks, T), c.n_seeds)
        s, bs, lo, hi = _run_fmo(
            keys, jnp.asarray(c.w0, jnp.float32), thetas, fam, T, jnp.float32(alpha), c
        )
        avg.append(np.asarray(s, np.float64))
        bmean.append(float(np.mean(bs)))
        bmin.append(float(np.min(lo)))
        bmax.append(float(np.max(hi)))
    hs = np.array(c.horizons, np.float64)
    bound = 2 * delta / (beta_min * hs) + L_F * beta_max**2 * sigma2 / beta_min
    det = 2 * delta / (beta_min * hs)
    sigma_h2 = lam**2  # per-sample Hessian variance <= sup ||per-sample Hessian||^2
    dh_min = int(np.ceil(2 * alpha**2 * sigma_h2))
    conditions = {
        "alpha": (alpha, 1 / (6 * fam.L), alpha <= 1 / (6 * fam.L) + 1e-12),
        "Dh": (c.d_hess, dh_min, c.d_hess >= dh_min),
        "Bprime": (c.n_tasks_step, 20, c.n_tasks_step >= 20),
        "betamax": (beta_max * L_F, 1.0, beta_max * L_F <= 1.0),
    }
    return FmoResult(
        hs,
        np.stack(avg),
        np.array(bmean),
        np.array(bmin),
        np.array(bmax),
        bound,
        det,
        beta_min,
        beta_max,
        delta,
        sigma2,
        L_F,
        conditions,
        float(1 / (12 * fmo_smoothness(1.0, 2.0, 0.1, 3.0))),
    )
