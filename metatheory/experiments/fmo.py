r"""Experiments for the convergence theory of MAML (Fallah, Mokhtari, Ozdaglar 2020; C1–C5).

All on the circular task family (:mod:`metatheory.tasks.circular`), whose constants
:math:`L`, :math:`\rho = L`, :math:`G = L\sqrt d` are exact. The task distribution is uniform
over a pool of ``n_tasks`` tasks drawn from the key, so the reference objective
:math:`F_N(w) = \frac1n\sum_i f_i(w^i_N)`, :math:`w^i_{j+1} = w^i_j - \alpha\nabla f_i(w^i_j)`,
and its gradient are exact (:func:`meta_objective`, written from the task's closed form and
independent of the learners, so that a learner mutant cannot move the reference).

The stochastic meta-gradients are computed by the public learners
(:func:`metatheory.learners.maml.inner_adapt`, :func:`~metatheory.learners.maml.
batched_maml_meta_gradient`), and every constant of a bound by the calculators of
:mod:`metatheory.bounds.fmo`, through module globals.

- :func:`smoothness` (C1): Hessian spectral norm of :math:`F` by HVP power iteration
  (:func:`metatheory.numerics.hessian_norm`), and difference quotients of :math:`\nabla F`
  over sampled pairs, against the bounds.
- :func:`multistep` (C2): the same for :math:`F_N`, ``N = 1..``.
- :func:`batch_variance` (C3): variance and bias of the ``B``-task meta-gradient with
  independent or shared support/query batches; the exact means by Gauss–Hermite quadrature.
- :func:`rate` (C4): stochastic MAML with :math:`\beta = c/\sqrt T`, seeds vmapped, steps in
  a loop whose length is a traced value (one compiled program for every horizon).
- :func:`fmo_rule` (C5): FMO's algorithm (stochastic inner step, independent Hessian batch,
  :math:`\beta_k = 1/(12\tilde L(w_k))`) at two task-batch sizes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.autodiff import dense_hessian
from metatheory.bounds.fmo import (
    fmo_maml_accuracy,
    fmo_smoothness,
    maml_rate_bound,
    maml_smoothness,
)
from metatheory.experiments import LONG_RUNNING, experiment, vmappable
from metatheory.learners.maml import batched_maml_meta_gradient, inner_adapt
from metatheory.numerics import hessian_norm
from metatheory.stats import MeanCI, bootstrap_ci, linear_fit
from metatheory.symbolic import fmo as sym
from metatheory.tasks import circular

__all__ = [
    "SmoothConfig",
    "SMOOTH_PRESETS",
    "SmoothResult",
    "smoothness",
    "MultiConfig",
    "MULTI_PRESETS",
    "MultiResult",
    "multistep",
    "VarConfig",
    "VAR_PRESETS",
    "VarResult",
    "batch_variance",
    "RateConfig",
    "RATE_PRESETS",
    "RateResult",
    "rate",
    "FmoConfig",
    "FMO_PRESETS",
    "FmoResult",
    "fmo_rule",
    "meta_objective",
    "rate_slope",
]

Family = circular.CircularFamily


# ---------------------------------------------------------------- the reference objective


def _adapt(w, theta, fam, alpha, n_inner):
    """Exact inner steps on the population loss (closed form: ``grad f_i = L sin(w - theta)``)."""
    for _ in range(n_inner):
        w = w - alpha * fam.L * jnp.sin(w - theta)
    return w


def meta_objective(w, thetas, fam: Family, alpha, n_inner: int = 1):
    r""":math:`F_N(w) = \frac1n\sum_i f_i(w^i_N)` over the pool ``thetas`` (``(n, d)``)."""

    def one(theta):
        return circular.population_loss(_adapt(w, theta, fam, alpha, n_inner), theta, fam)

    return jnp.mean(jax.vmap(one)(thetas))


def _grad_norms(w, thetas, fam, alpha):
    """``(||grad f_i(w)||, ||grad f_i(w~_i)||)`` per task."""
    g0 = fam.L * jnp.sin(w[None] - thetas)
    g1 = fam.L * jnp.sin(_adapt(w[None], thetas, fam, alpha, 1) - thetas)
    return jnp.linalg.norm(g0, axis=1), jnp.linalg.norm(g1, axis=1)


def _dense_norm(f, w):
    """Largest |eigenvalue| of the dense Hessian (small ``d``: the exact reference)."""
    return jnp.max(jnp.abs(jnp.linalg.eigvalsh(dense_hessian(f, w))))


def _points(key, n, fam, thetas):
    """``n`` uniform points of the torus plus the mean task's curvature maximum (every task
    near its own maximum, where ``F`` is least smooth)."""
    w = jax.random.uniform(key, (n, fam.d), minval=-np.pi, maxval=np.pi, dtype=thetas.dtype)
    worst = jnp.mean(thetas, axis=0) + np.pi
    return jnp.concatenate([worst[None], w])


def _wloss(w, x, y):
    r"""Per-sample circular loss with a per-sample weight in the last column of ``x``:
    :math:`\mathrm{mean}_j\,x_{j,d}(1-\cos(x_{j,:d}^\top w - y_j))` (the ``loss_fn`` of the
    learners). Noisy samples carry :math:`\lambda = Ld/\kappa`, so their expected loss is
    :math:`f_i`; the noise-free design (:func:`_design`) carries :math:`Ld`, so its loss has
    exactly the gradient and Hessian of :math:`f_i` (an exact inner step)."""
    return jnp.mean(x[:, -1] * (1.0 - jnp.cos(x[:, :-1] @ w - y)))


def _design(theta, fam):
    """The noise-free design of one task: every coordinate once, weight ``L d``."""
    x = jnp.concatenate([jnp.eye(fam.d, dtype=theta.dtype), jnp.full((fam.d, 1), fam.L * fam.d)], 1)
    return x.astype(theta.dtype), theta


def _samples(coord, eps, theta, fam):
    """Noisy samples (coordinates ``coord``, standard normal ``eps``) of task ``theta``."""
    x = jax.nn.one_hot(coord, fam.d, dtype=theta.dtype)
    y = theta[coord] + fam.noise * eps
    w = jnp.full(coord.shape + (1,), fam.lam, theta.dtype)
    return jnp.concatenate([x, w], -1), y


def _fast_key(key):
    """A key of JAX's ``rbg`` generator (XLA's RngBitGenerator) seeded from ``key``: the noise
    inside the long loops of C4 and C5 compiles several times faster than with threefry."""
    return jax.random.wrap_key_data(jax.random.bits(key, (4,), jnp.uint32), impl="rbg")


def _pool(key, n_tasks, n_far, far, fam, dtype):
    """``n_tasks`` task angles; the first ``n_far`` are shifted by ``far`` in every coordinate
    (a skewed task distribution: the mean adapted gradient at MAML's optimum is then far from
    zero, so an estimator that misses the Hessian term has a floor of a definite size)."""
    th = circular.sample_tasks(key, n_tasks, fam).astype(dtype)
    return th.at[:n_far].add(far)


# ---------------------------------------------------------------- C1


@dataclass(frozen=True)
class SmoothConfig:
    family: Family = Family(d=2, L=1.0, tau=0.3, noise=0.5)
    n_tasks: int = 16
    alpha_l: tuple[float, ...] = (0.25, 0.5, 1.0)  # alpha * L
    n_points: int = 64
    radii: tuple[float, ...] = (1e-3, 0.1, 0.5, 1.5)
    power_iters: int = 200


SMOOTH_PRESETS = {
    "quick": SmoothConfig(n_points=24, power_iters=2000),
    "full": SmoothConfig(n_tasks=64, n_points=1024, power_iters=2000),
}
"""Random points include gaps |λ2/λ1| ≈ 0.997, where 200 power steps converge only to ~0.3%
(seen in calibration); 2000 steps reach 1e-3 there."""


@dataclass(frozen=True, kw_only=True)
class SmoothResult:
    alpha: np.ndarray  # (A,)
    hess: np.ndarray  # (A, P) ||Hessian F|| by HVP power iteration
    hess_dense: np.ndarray  # (A, P) same from the dense Hessian (cross-check)
    bound_general: np.ndarray  # (A, P) maml_smoothness(L, rho, a, E||grad f_i(w~)||, 1)
    bound_fmo: np.ndarray  # (A, P) fmo_smoothness(L, rho, a, E||grad f_i(w)||)
    pair_quot: np.ndarray  # (A, P, R) ||grad F(w) - grad F(u)|| / ||w - u||
    pair_general: np.ndarray  # (A, P, R) the general pair bound
    pair_fmo: np.ndarray  # (A, P, R) FMO's pair bound
    test_value: float  # fmo_smoothness(1, 2, 0.1, 3)
    L: float
    rho: float
    G: float


@functools.partial(jax.jit, static_argnums=(0, 5))
def _smooth_eval(fam, thetas, alpha, pts, keys, power_iters, us):
    """Hessian norms (power iteration and dense), task-gradient norms and difference
    quotients at the points ``pts`` and their pair points ``us``; ``alpha`` is traced, so
    one compiled program serves every step size."""
    F = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=alpha)
    hess = jax.vmap(lambda p, k: hessian_norm(F, p, k, power_iters))(pts, keys)
    dense = jax.vmap(functools.partial(_dense_norm, F))(pts)
    norms = functools.partial(_grad_norms, thetas=thetas, fam=fam, alpha=alpha)
    n0, n1 = jax.vmap(norms)(pts)  # (P, n)
    gF = jax.grad(F)
    gw = jax.vmap(gF)(pts)
    gu = jax.vmap(jax.vmap(gF))(us)
    radii = jnp.linalg.norm(us - pts[:, None], axis=-1)
    quot = jnp.linalg.norm(gu - gw[:, None], axis=-1) / radii
    m0, m1 = jax.vmap(jax.vmap(norms))(us)
    g1_pair = jnp.minimum(m1, n1[:, None]).mean(-1)
    g0_pair = jnp.minimum(m0, n0[:, None]).mean(-1)
    return hess, dense, n0.mean(1), n1.mean(1), quot, g0_pair, g1_pair


@experiment
def smoothness(config: SmoothConfig, key: jax.Array) -> SmoothResult:
    """C1: local and pairwise Lipschitz constants of ``grad F`` (float64) against the bounds
    of the calculators ``maml_smoothness`` (N = 1, G' local) and ``fmo_smoothness``."""
    with jax.enable_x64(True):
        c, fam = config, config.family
        kt, kp, kd, kv = jax.random.split(key, 4)
        thetas = circular.sample_tasks(kt, c.n_tasks, fam).astype(jnp.float64)
        pts = _points(kp, c.n_points, fam, thetas)
        dirs = jax.random.normal(kd, (pts.shape[0], len(c.radii), fam.d), jnp.float64)
        dirs = dirs / jnp.linalg.norm(dirs, axis=-1, keepdims=True)
        us = pts[:, None, :] + jnp.asarray(c.radii)[None, :, None] * dirs  # (P, R, d)
        out = {k: [] for k in ("hess", "dense", "bg", "bf", "pq", "pg", "pf")}
        for a_l in c.alpha_l:
            alpha = a_l / fam.L
            keys = jax.random.split(jax.random.fold_in(kv, int(1000 * a_l)), pts.shape[0])
            hess, dense, n0, n1, quot, g0p, g1p = (
                np.asarray(a, np.float64)
                for a in _smooth_eval(fam, thetas, alpha, pts, keys, c.power_iters, us)
            )
            vals = (
                hess,
                dense,
                maml_smoothness(fam.L, fam.rho, alpha, n1, 1),
                fmo_smoothness(fam.L, fam.rho, alpha, n0),
                quot,
                maml_smoothness(fam.L, fam.rho, alpha, g1p, 1),
                fmo_smoothness(fam.L, fam.rho, alpha, g0p),
            )
            for k, v in zip(out, vals, strict=True):
                out[k].append(np.asarray(v, np.float64))
        s = {k: np.stack(v) for k, v in out.items()}
        return SmoothResult(
            alpha=np.array([a / fam.L for a in c.alpha_l]),
            hess=s["hess"],
            hess_dense=s["dense"],
            bound_general=s["bg"],
            bound_fmo=s["bf"],
            pair_quot=s["pq"],
            pair_general=s["pg"],
            pair_fmo=s["pf"],
            test_value=float(fmo_smoothness(1.0, 2.0, 0.1, 3.0)),
            L=fam.L,
            rho=fam.rho,
            G=fam.G,
        )


# ---------------------------------------------------------------- C2


@dataclass(frozen=True)
class MultiConfig:
    family: Family = Family(d=1, L=1.0, tau=0.1, noise=0.5)
    n_tasks: int = 8
    alpha_l: float = 1.0
    n_inner: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8)
    n_points: int = 64
    n_random: int = 64  # random (L, rho, alpha, G, N) for the calculator-vs-derivation check


MULTI_PRESETS = {
    "quick": MultiConfig(),
    "full": MultiConfig(n_tasks=64, n_points=1024, n_inner=(1, 2, 3, 4, 5, 6, 7, 8, 10)),
}
"""``d = 1`` and a narrow pool (``tau = 0.1``): at the curvature maximum of the mean task
every inner step multiplies the Jacobian by nearly ``1 + alpha L``, so the empirical constant
is within a few per cent of ``(1 + alpha L)^{2N} L`` and a bound that is too small (a wrong
exponent, an off-by-one in N) is exceeded."""


@dataclass(frozen=True, kw_only=True)
class MultiResult:
    n_inner: np.ndarray
    alpha: float
    empirical: np.ndarray  # max over points of ||Hessian F_N|| (dense, exact for small d)
    bound: np.ndarray  # maml_smoothness(L, rho, alpha, G, N)
    linearized: np.ndarray  # control: L_N to first order in alpha (sympy)
    growth: float  # exp(slope) of log empirical vs N
    calc_vs_derived: float  # max rel. difference, calculator vs sympy's rsolve, random args
    L: float


@experiment
def multistep(config: MultiConfig, key: jax.Array) -> MultiResult:
    """C2: the largest Hessian norm of ``F_N`` over sampled points (a lower bound on its
    Lipschitz constant) against ``L_N`` with ``G = L sqrt(d)``; and the calculator against
    the sympy derivation (``rsolve`` of the recursion) at random arguments."""
    import sympy as sp

    with jax.enable_x64(True):
        c, fam = config, config.family
        kt, kp, kr = jax.random.split(key, 3)
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
        args = (sym.L, sym.rho, sym.alpha, sym.G, sym.N)
        lin_f = sp.lambdify(args, sym.multi_step_linearized())
        linear = np.asarray(lin_f(fam.L, fam.rho, alpha, fam.G, ns), np.float64) * np.ones(ns.size)
        derived = sp.lambdify(args, sym.derive_multi_step()["L_N"])
        u = np.asarray(jax.random.uniform(kr, (5, c.n_random), jnp.float64))
        L_r, rho_r, G_r = 0.1 + 5 * u[0], 5 * u[1], 5 * u[2]
        a_r = (0.01 + 1.5 * u[3]) / L_r
        n_r = np.floor(1 + 8 * u[4])
        calc = np.asarray(maml_smoothness(L_r, rho_r, a_r, G_r, n_r), np.float64)
        ref = np.asarray(derived(L_r, rho_r, a_r, G_r, n_r), np.float64)
        emp = np.array(emp)
        slope = np.polyfit(ns, np.log(emp), 1)[0]
        return MultiResult(
            n_inner=ns,
            alpha=alpha,
            empirical=emp,
            bound=bound,
            linearized=linear,
            growth=float(np.exp(slope)),
            calc_vs_derived=float(np.max(np.abs(calc - ref) / np.abs(ref))),
            L=fam.L,
        )


# ---------------------------------------------------------------- C3


@dataclass(frozen=True)
class VarConfig:
    family: Family = Family(d=2, L=1.0, tau=0.5, noise=0.5)
    n_tasks: int = 16
    alpha_l: float = 0.5
    k_shot: int = 2  # support = query size; the exact mean needs (d * n_gh)^k nodes
    batch_sizes: tuple[int, ...] = (1, 8, 64)
    n_rep: int = 2048
    n_gh: int = 24
    w: tuple[float, ...] = (0.6, -0.4)
    level: float = 1 - 2e-4  # bootstrap-t CI of the variance slope (claims.CLAIM_LEVEL)
    n_boot: int = 1000


VAR_PRESETS = {
    "quick": VarConfig(),
    "full": VarConfig(n_rep=32768, batch_sizes=(1, 2, 4, 8, 16, 32, 64)),
}


@dataclass(frozen=True, kw_only=True)
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
    slope: object  # stats.MeanCI: bootstrap over replicates of the log-log variance slope
    slope_shared: float  # point estimate (reported)
    z_indep: np.ndarray  # (nB, d) (mean_indep - exact_indep) / se
    z_shared: np.ndarray  # (nB, d) (mean_shared - exact_shared) / se
    z_shared_vs_indep: np.ndarray  # (nB, d) (mean_shared - exact_indep) / se
    n_rep: int


def _quadrature_means(fam, alpha, w, thetas, k, n_gh):
    """Exact ``E g`` over tasks and the ``k`` support samples (one-hot coordinate and Gaussian
    noise, Gauss–Hermite in the noise), with an independent or the same query batch."""
    xg, wg = np.polynomial.hermite_e.hermegauss(n_gh)
    wg = wg / wg.sum()
    d = fam.d
    coords = np.array(np.meshgrid(*[np.arange(d)] * k, indexing="ij")).reshape(k, -1).T
    nodes = np.array(np.meshgrid(*[np.arange(n_gh)] * k, indexing="ij")).reshape(k, -1).T
    loss = functools.partial(circular.loss, lam=fam.lam)
    eye = jnp.eye(d, dtype=thetas.dtype)
    ci = jnp.asarray(np.repeat(coords, nodes.shape[0], axis=0))
    ni = np.tile(nodes, (coords.shape[0], 1))
    weight = jnp.asarray(np.prod(wg[ni], axis=1) / d**k, thetas.dtype)
    eps = jnp.asarray(xg, thetas.dtype)[jnp.asarray(ni)]

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
    return gi.mean(0), gs.mean(0)


@functools.partial(jax.jit, static_argnums=0)
def _batch_variance_core(config: VarConfig, key):
    """C3, pure JAX: ``n_rep`` replicates of the ``B``-task mean meta-gradient
    (``batched_maml_meta_gradient``) at a fixed ``w``, independent and shared query batches."""
    c, fam = config, config.family
    alpha = c.alpha_l / fam.L
    kt, kr, kb = jax.random.split(key, 3)
    thetas = circular.sample_tasks(kt, c.n_tasks, fam)
    w = jnp.asarray(c.w, thetas.dtype)
    loss = functools.partial(circular.loss, lam=fam.lam)

    def data(theta, coord, eps):
        return jax.nn.one_hot(coord, fam.d, dtype=theta.dtype), theta[coord] + fam.noise * eps

    def replicate(idx, coord, eps):
        """One B-task mean (``batched_maml_meta_gradient``) with an independent query batch
        and with the support batch as query (shared); ``coord``/``eps`` hold both batches."""
        t = thetas[idx]
        s = jax.vmap(data)(t, coord[:, 0], eps[:, 0])
        q = jax.vmap(data)(t, coord[:, 1], eps[:, 1])
        both = jax.tree_util.tree_map(lambda u, v: jnp.stack([u, v]), q, s)
        mean = functools.partial(batched_maml_meta_gradient, loss, w, s, alpha=alpha, n_inner=1)
        return jax.vmap(mean)(both)  # (2, d): independent query, shared (query = support)

    gi, gs = [], []
    for b in c.batch_sizes:
        k1, k2, k3 = jax.random.split(jax.random.fold_in(kr, b), 3)
        n, k = c.n_rep, c.k_shot
        g = jax.vmap(replicate)(
            jax.random.randint(k1, (n, b), 0, c.n_tasks),
            jax.random.randint(k2, (n, b, 2, k), 0, fam.d),
            jax.random.normal(k3, (n, b, 2, k), thetas.dtype),
        )
        gi.append(g[:, 0])
        gs.append(g[:, 1])
    exact_i, exact_s = _quadrature_means(fam, alpha, w, thetas, c.k_shot, c.n_gh)
    grad_F = jax.grad(meta_objective)(w, thetas, fam, alpha)
    return {
        "gi": jnp.stack(gi, 1),  # (n_rep, nB, d)
        "gs": jnp.stack(gs, 1),
        "exact_i": exact_i,
        "exact_s": exact_s,
        "grad_F": grad_F,
        "boot": jax.random.key_data(kb),
    }


def _var_slope(sizes):
    lb = np.log(np.asarray(sizes, np.float64))

    def stat(s):
        v = np.sum(np.var(s, axis=0, ddof=1), axis=-1)
        return linear_fit(lb, np.log(v)).slope

    return stat


def _batch_variance_finish(config: VarConfig, a) -> VarResult:
    c = config
    gi, gs = (np.asarray(a[k], np.float64) for k in ("gi", "gs"))
    key = jax.random.wrap_key_data(jnp.asarray(a["boot"]))
    stat = _var_slope(c.batch_sizes)
    slope = bootstrap_ci(key, gi, stat, n_resamples=c.n_boot, level=c.level, method="t")
    slope_sh = stat(gs)
    n = gi.shape[0]
    mi, ms = gi.mean(0), gs.mean(0)
    si, ss = gi.std(0, ddof=1) / np.sqrt(n), gs.std(0, ddof=1) / np.sqrt(n)
    ei, es = np.asarray(a["exact_i"], np.float64), np.asarray(a["exact_s"], np.float64)
    return VarResult(
        batch_sizes=np.array(c.batch_sizes),
        var_indep=np.sum(gi.var(0, ddof=1), -1),
        var_shared=np.sum(gs.var(0, ddof=1), -1),
        mean_indep=mi,
        mean_shared=ms,
        se_indep=si,
        se_shared=ss,
        exact_indep=ei,
        exact_shared=es,
        grad_F=np.asarray(a["grad_F"], np.float64),
        slope=slope,
        slope_shared=slope_sh,
        z_indep=(mi - ei) / si,
        z_shared=(ms - es) / ss,
        z_shared_vs_indep=(ms - ei) / ss,
        n_rep=n,
    )


batch_variance = vmappable(
    _batch_variance_core, _batch_variance_finish, compiler_options=LONG_RUNNING
)


# ---------------------------------------------------------------- C4


@dataclass(frozen=True)
class RateConfig:
    family: Family = Family(d=2, L=1.0, tau=0.3, noise=0.3)
    n_tasks: int = 8
    n_far: int = 2
    far: float = 2.0
    alpha_l: float = 0.5
    n_tasks_batch: int = 4  # B
    k_query: int = 4
    horizons: tuple[int, ...] = (500, 1000, 2000, 4000, 8000)
    chunk: int = 50  # noise drawn in blocks of this many steps (horizons are multiples)
    n_seeds: int = 32
    w0: tuple[float, ...] = (1.6, -1.2)  # offset from the pool's mean angle
    n_sigma: int = 1000  # estimator draws per path point for sigma^2
    sigma_points: tuple[int, ...] = (0, 3, 10, 30, 100, 300)  # GD steps along the path
    fo_alpha_l: tuple[float, ...] = (0.01, 0.02, 0.04, 0.08)
    fo_steps: int = 3000
    level: float = 1 - 5e-4  # bootstrap-t CIs over seeds (claims.CLAIM_LEVEL)
    n_boot: int = 1000


RATE_PRESETS = {
    "quick": RateConfig(),
    "full": RateConfig(n_seeds=128, horizons=(500, 1000, 2000, 4000, 8000, 16000, 32000)),
}


@dataclass(frozen=True, kw_only=True)
class RateResult:
    horizons: np.ndarray
    avg_sq: np.ndarray  # (seeds, nT) (1/T) sum_t ||grad F(w_t)||^2
    slope: object  # MeanCI: bootstrap over seeds, log-mean fit with the O(beta) term
    slope_plain: object  # SlopeFit: plain log-log fit of the seed means (reported only)
    c: float  # beta = c / sqrt(T)
    delta: float  # F(w0) - min F
    sigma2: object  # MeanCI of max over path points of E||g - grad F||^2
    L_F: float  # maml_smoothness(L, rho, alpha, G, 1)
    bound: np.ndarray  # maml_rate_bound(delta, L_F, sigma2.high, c, T)
    bound_ratio: object  # MeanCI: max over T of mean(avg_sq) / bound (bootstrap over seeds)
    fo_alpha: np.ndarray
    fo_floor: np.ndarray  # ||grad F(w_FO)||^2 at the first-order fixed point
    fo_task_var: np.ndarray  # E_i ||grad f_i(w~_i) - mean||^2 there (FMO's sigma^2)
    fo_exponent: float  # slope of log floor vs log alpha with the O(alpha) term
    fo_exponent_plain: float  # the same without it
    fo_residual: float  # max |residual| of the fit with the O(alpha) term (log scale)
    maml_floor: float  # ||grad F||^2 after full-batch MAML (the learner) from w0


def rate_slope(horizons, level=0.99):
    r"""The statistic of C4's fit: regress :math:`\log\bar A(T)` on
    :math:`[1, \log T, T^{-1/2}]` and return the coefficient of :math:`\log T`. The
    :math:`T^{-1/2}` column is the next-order term of the descent-lemma expansion: with
    :math:`\beta = c/\sqrt T`, every :math:`O(\beta)` correction is relative
    :math:`O(T^{-1/2})`."""
    h = np.asarray(horizons, np.float64)
    X = np.stack([np.ones_like(h), np.log(h), h**-0.5], 1)
    Xp = np.linalg.pinv(X)

    def stat(a):
        return float((Xp @ np.log(np.mean(a, axis=0)))[1])

    return stat


@functools.partial(jax.jit, static_argnums=0)
def _rate_core(config: RateConfig, key):
    """C4, pure JAX: ``n_seeds`` runs of stochastic MAML (the public batched learner) per
    horizon with :math:`\\beta = c/\\sqrt T`; the constants of the bound; the first-order floor."""
    c, fam = config, config.family
    alpha = c.alpha_l / fam.L
    kt, kr, kv, kb = jax.random.split(key, 4)
    thetas = _pool(kt, c.n_tasks, c.n_far, c.far, fam, jnp.float32)
    w0 = thetas.mean(0) + jnp.asarray(c.w0, thetas.dtype)
    F = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=alpha)
    gF = jax.grad(F)
    B, K = c.n_tasks_batch, c.k_query

    def estimate(w, idx, coord, eps):
        t = thetas[idx]
        S = jax.vmap(lambda th: _design(th, fam))(t)
        Q = jax.vmap(lambda cc, ee, th: _samples(cc, ee, th, fam))(coord, eps, t)
        return batched_maml_meta_gradient(_wloss, w, S, Q, alpha=alpha, n_inner=1)

    def draws(k, n):
        ki, kc, ke = jax.random.split(k, 3)
        return (
            jax.random.randint(ki, (n, B), 0, c.n_tasks),
            jax.random.randint(kc, (n, B, K), 0, fam.d),
            jax.random.normal(ke, (n, B, K), thetas.dtype),
        )

    # Delta = F(w0) - min F: the torus grid, then gradient descent from the best point
    g = jnp.linspace(-np.pi, np.pi, 48, endpoint=False)
    grid = jnp.stack(jnp.meshgrid(*[g] * fam.d, indexing="ij"), -1).reshape(-1, fam.d)
    wmin = grid[jnp.argmin(jax.vmap(F)(grid))]
    L_F = maml_smoothness(fam.L, fam.rho, alpha, fam.G, 1)
    wmin = jax.lax.fori_loop(0, 500, lambda _, w: w - gF(w) / L_F, wmin)
    delta = F(w0) - F(wmin)
    # sigma^2 along the deterministic path from w0 (points after sigma_points GD steps)
    path = jax.lax.scan(
        lambda w, _: (w - gF(w) / L_F, w), w0, None, length=max(c.sigma_points) + 1
    )[1]
    pts = path[jnp.asarray(c.sigma_points)]
    dk = jax.vmap(_fast_key)(jax.random.split(kv, len(c.sigma_points)))
    gs = jax.vmap(
        lambda w, k: jax.vmap(lambda i, cc, e: estimate(w, i, cc, e))(*draws(k, c.n_sigma))
    )(pts, dk)
    s2 = jnp.sum(jnp.var(gs, axis=1), -1)
    cstar = jnp.sqrt(2 * delta / (L_F * jnp.max(s2)))
    const = jnp.minimum(cstar, np.sqrt(min(c.horizons)) / L_F)

    def run(k, T):
        beta = const / jnp.sqrt(T.astype(thetas.dtype))

        def chunk(j, carry):
            w, s = carry
            idx, coord, eps = draws(jax.random.fold_in(k, j), c.chunk)

            def body(cr, r):
                w, s = cr
                return (w - beta * estimate(w, *r), s + jnp.sum(gF(w) ** 2)), None

            return jax.lax.scan(body, (w, s), (idx, coord, eps))[0]

        w, s = jax.lax.fori_loop(0, T // c.chunk, chunk, (w0, jnp.zeros((), thetas.dtype)))
        return s / T

    hs = jnp.asarray(c.horizons, jnp.int32)
    seeds = jax.random.split(kr, c.n_seeds)
    avg = jax.lax.map(
        lambda T: jax.vmap(lambda k: run(_fast_key(jax.random.fold_in(k, T)), T))(seeds), hs
    )

    # first-order floor: full-batch FOMAML (the learner, exact query = the design) to its
    # fixed point; MAML run identically must reach a stationary point of the reference F
    def full_batch(a, first_order):
        S = jax.vmap(lambda th: _design(th, fam))(thetas)

        def step(w, _):
            d = batched_maml_meta_gradient(
                _wloss, w, S, S, alpha=a, n_inner=1, first_order=first_order
            )
            return w - 0.5 / fam.L * d, None

        return jax.lax.scan(step, w0, None, length=c.fo_steps)[0]

    fo_alpha = jnp.asarray(c.fo_alpha_l, thetas.dtype) / fam.L

    def fo_floor(a):
        w = full_batch(a, True)
        Fa = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=a)
        gi = fam.L * jnp.sin(_adapt(w[None], thetas, fam, a, 1) - thetas)
        return jnp.sum(jax.grad(Fa)(w) ** 2), jnp.mean(jnp.sum((gi - gi.mean(0)) ** 2, 1))

    fo, fo_var = jax.lax.map(fo_floor, fo_alpha)
    w_m = full_batch(alpha, False)
    return {
        "avg": avg.T,  # (seeds, nT)
        "c": const,
        "delta": delta,
        "sigma_draws": gs,  # (P, n_sigma, d)
        "L_F": L_F,
        "fo": fo,
        "fo_var": fo_var,
        "maml_floor": jnp.sum(gF(w_m) ** 2),
        "boot": jax.random.key_data(kb),
    }


def _rate_finish(config: RateConfig, a) -> RateResult:
    c = config
    avg = np.asarray(a["avg"], np.float64)
    key = jax.random.wrap_key_data(jnp.asarray(a["boot"]))
    k1, k2, k3 = jax.random.split(key, 3)
    hs = np.array(c.horizons, np.float64)
    slope = bootstrap_ci(k1, avg, rate_slope(hs), n_resamples=c.n_boot, level=c.level, method="t")
    draws = np.asarray(a["sigma_draws"], np.float64)
    worst = int(np.argmax(np.sum(draws.var(axis=1, ddof=1), -1)))
    tr_var = lambda s: float(np.sum(s.var(axis=0, ddof=1)))  # noqa: E731
    sig = bootstrap_ci(k2, draws[worst], tr_var, n_resamples=500, level=c.level, method="t")
    const, delta, L_F = float(a["c"]), float(a["delta"]), float(a["L_F"])
    bound = np.asarray(maml_rate_bound(delta, L_F, sig.high, const, hs), np.float64)
    ratio = bootstrap_ci(
        k3,
        avg,
        lambda s: float(np.max(s.mean(0) / bound)),
        n_resamples=c.n_boot,
        level=c.level,
        method="t",
    )
    fo_alpha = np.array(c.fo_alpha_l) / c.family.L
    fo = np.asarray(a["fo"], np.float64)
    la, lf = np.log(fo_alpha), np.log(fo)
    X = np.stack([np.ones_like(la), la, fo_alpha], 1)
    coef, *_ = np.linalg.lstsq(X, lf, rcond=None)
    return RateResult(
        horizons=hs,
        avg_sq=avg,
        slope=slope,
        slope_plain=linear_fit(np.log(hs), np.log(avg.mean(0)), level=c.level),
        c=const,
        delta=delta,
        sigma2=sig,
        L_F=L_F,
        bound=bound,
        bound_ratio=ratio,
        fo_alpha=fo_alpha,
        fo_floor=fo,
        fo_task_var=np.asarray(a["fo_var"], np.float64),
        fo_exponent=float(coef[1]),
        fo_exponent_plain=float(np.polyfit(la, lf, 1)[0]),
        fo_residual=float(np.max(np.abs(X @ coef - lf))),
        maml_floor=float(a["maml_floor"]),
    )


rate = vmappable(_rate_core, _rate_finish, compiler_options=LONG_RUNNING)


# ---------------------------------------------------------------- C5


@dataclass(frozen=True)
class FmoConfig:
    family: Family = Family(d=2, L=1.0, tau=0.3, noise=0.5)
    n_tasks: int = 8
    n_far: int = 2
    far: float = 2.0
    alpha_l: float = 1 / 6  # Theorem 4.5 takes alpha in (0, 1/(6L)]
    batch_sizes: tuple[int, ...] = (20, 80)  # B >= 20 (Theorem 4.5)
    d_in: int = 16  # |D_in|: stochastic inner step
    d_out: int = 4  # |D_o|
    d_hess: int = 4  # |D_h| >= ceil(2 alpha^2 sigma_H^2)
    n_tasks_step: int = 20  # B' (tasks estimating L(w_k) for the step size)
    d_beta: int = 4  # |D_beta|
    n_steps: int = 2400  # 2000 after burn-in: the floor ratio's log s.e. ~0.07 (32 seeds)
    burn_in: int = 400
    chunk: int = 50
    n_seeds: int = 32
    w0: tuple[float, ...] = (1.6, -1.2)
    n_grid: int = 64  # torus grid for the sup-constants sigma, sigma~, sigma_H
    n_gh: int = 16
    level: float = 1 - 5e-4  # bootstrap-t CIs over seeds (claims.CLAIM_LEVEL)
    n_boot: int = 2000


FMO_PRESETS = {
    "quick": FmoConfig(),
    "full": FmoConfig(n_seeds=64, n_steps=4000, burn_in=1000, batch_sizes=(20, 40, 80)),
}


@dataclass(frozen=True, kw_only=True)
class FmoResult:
    batch_sizes: np.ndarray
    grad_norm: np.ndarray  # (seeds, nB) mean of ||grad F(w_k)|| over k >= burn_in
    grad_sq: np.ndarray  # (seeds, nB) mean of ||grad F(w_k)||^2 over k >= burn_in
    norm_ci: list  # per B: MeanCI of E||grad F(w_eps)|| (bootstrap over seeds)
    accuracy: np.ndarray  # (nB,) fmo_maml_accuracy with the constants below
    ratio: object  # MeanCI of mean grad_sq(B_1) / mean grad_sq(B_2) (t-interval of its log)
    beta_mean: np.ndarray  # (nB,) mean step size
    sigma: float  # sup_w (E_i ||grad f_i - grad f||^2)^(1/2)  (FMO Assumption 4.4)
    sigma_tilde: float  # sup_{w,i} per-sample gradient spread (Assumption 4.5)
    sigma_h: float  # sup_{w,i} per-sample Hessian spread (Assumption 4.5)
    conditions: dict  # name -> (value, required, satisfied): Theorem 4.5's conditions
    alpha: float
    delta: float


def _sup_constants(fam, thetas, alpha, n_grid, n_gh):
    r"""FMO's :math:`\sigma`, :math:`\tilde\sigma`, :math:`\sigma_H` of the pool, exact at the
    points of a torus grid (Gauss–Hermite in the noise, exact sums over coordinates)."""
    g = jnp.linspace(-np.pi, np.pi, n_grid, endpoint=False)
    grid = jnp.stack(jnp.meshgrid(*[g] * fam.d, indexing="ij"), -1).reshape(-1, fam.d)
    xg, wg = np.polynomial.hermite_e.hermegauss(n_gh)
    xg, wg = jnp.asarray(xg, thetas.dtype), jnp.asarray(wg / wg.sum(), thetas.dtype)
    lam, d = fam.lam, fam.d

    def task_spread(w):
        gi = fam.L * jnp.sin(w[None] - thetas)
        return jnp.mean(jnp.sum((gi - gi.mean(0)) ** 2, 1))

    def per_sample(w, theta):
        z = w - theta  # (d,)
        s = jnp.sin(z[:, None] - fam.noise * xg[None])  # (d, n_gh)
        co = jnp.cos(z[:, None] - fam.noise * xg[None])
        # a sample observes coordinate k w.p. 1/d: gradient lam*sin(.) e_k
        mean_g = (lam / d) * (s @ wg)  # (d,)
        e_g2 = (lam**2 / d) * jnp.sum((s**2) @ wg)
        var_g = e_g2 - jnp.sum(mean_g**2)
        # Hessian lam*cos(.) e_k e_k^T minus its mean: spectral norm^2 = max diagonal^2
        mean_h = (lam / d) * (co @ wg)
        dev = lam * co - mean_h[:, None]  # (d, n_gh): the sampled coordinate's entry
        others = jnp.abs(mean_h)  # unsampled coordinates' entries: -mean_h
        sq = jax.vmap(
            lambda k: jnp.maximum(
                dev[k] ** 2, jnp.max(jnp.where(jnp.arange(d) == k, 0.0, others)) ** 2
            )
        )(jnp.arange(d))
        var_h = jnp.mean(sq @ wg)
        return var_g, var_h

    sig2 = jnp.max(jax.vmap(task_spread)(grid))
    vg, vh = jax.vmap(lambda w: jax.vmap(lambda th: per_sample(w, th))(thetas))(grid)
    return jnp.sqrt(sig2), jnp.sqrt(jnp.max(vg)), jnp.sqrt(jnp.max(vh))


@functools.partial(jax.jit, static_argnums=0)
def _fmo_core(config: FmoConfig, key):
    """C5, pure JAX: FMO's MAML (Algorithm 1 with Theorem 4.5's batches and step rule) at each
    task-batch size; the sup-constants of Theorem 4.5."""
    c, fam = config, config.family
    alpha = c.alpha_l / fam.L
    kt, kr, kb = jax.random.split(key, 3)
    thetas = _pool(kt, c.n_tasks, c.n_far, c.far, fam, jnp.float32)
    w0 = thetas.mean(0) + jnp.asarray(c.w0, thetas.dtype)
    F = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=alpha)
    gF = jax.grad(F)
    loss = _wloss

    n_data = c.d_in + c.d_out + c.d_hess

    def task_grad(w, theta, coord, eps):
        """FMO's per-task estimator (I - alpha H~(w, D_h)) grad~ f(w - alpha grad~ f(w, D_in), D_o):
        the adapted point from D_in, its Jacobian from D_h (the public ``inner_adapt`` both
        times), the outer gradient from D_o; ``coord``/``eps`` hold the three batches."""
        x, y = _samples(coord, eps, theta, fam)
        cut = np.cumsum([c.d_in, c.d_out])
        d_in, d_o, d_h = ((x[a:b], y[a:b]) for a, b in zip([0, *cut], [*cut, n_data], strict=True))

        def surrogate(v):
            w_in = inner_adapt(loss, v, d_in, alpha=alpha, n_inner=1)
            w_h = inner_adapt(loss, v, d_h, alpha=alpha, n_inner=1)
            w_ad = jax.lax.stop_gradient(w_in) + w_h - jax.lax.stop_gradient(w_h)
            return loss(w_ad, *d_o)

        return jax.grad(surrogate)(w)

    def step_size(w, idx, coord, eps):
        """beta_k = 1/(12 L~(w_k)), L~ = fmo_smoothness at the mean of ||grad~ f_j(w, D_beta)||
        over B' tasks."""

        def norm(i, cc, ee):
            return jnp.linalg.norm(jax.grad(loss)(w, *_samples(cc, ee, thetas[i], fam)))

        gn = jnp.mean(jax.vmap(norm)(idx, coord, eps))
        return 1.0 / (12.0 * fmo_smoothness(fam.L, fam.rho, alpha, gn))

    def draws(k, n, b):
        k = jax.random.split(k, 6)
        bp = c.n_tasks_step
        return (
            jax.random.randint(k[0], (n, b), 0, c.n_tasks),
            jax.random.randint(k[1], (n, b, n_data), 0, fam.d),
            jax.random.normal(k[2], (n, b, n_data), thetas.dtype),
            jax.random.randint(k[3], (n, bp), 0, c.n_tasks),
            jax.random.randint(k[4], (n, bp, c.d_beta), 0, fam.d),
            jax.random.normal(k[5], (n, bp, c.d_beta), thetas.dtype),
        )

    def run(k, b):
        def chunk(carry, j):
            def body(carry, r):
                w, sn, sq, sb, t = carry
                idx, coord, eps, idx2, coord2, eps2 = r
                g = jnp.mean(
                    jax.vmap(lambda i, cc, ee: task_grad(w, thetas[i], cc, ee))(idx, coord, eps), 0
                )
                beta = step_size(w, idx2, coord2, eps2)
                gn2 = jnp.sum(gF(w) ** 2)
                on = (t >= c.burn_in).astype(w.dtype)
                return (
                    w - beta * g,
                    sn + on * jnp.sqrt(gn2),
                    sq + on * gn2,
                    sb + beta,
                    t + 1,
                ), None

            return jax.lax.scan(body, carry, draws(jax.random.fold_in(k, j), c.chunk, b))[0], None

        z = jnp.zeros((), thetas.dtype)
        init = (w0, z, z, z, jnp.zeros((), jnp.int32))
        (w, sn, sq, sb, _), _ = jax.lax.scan(chunk, init, jnp.arange(c.n_steps // c.chunk))
        m = c.n_steps - c.burn_in
        return sn / m, sq / m, sb / c.n_steps

    seeds = jax.random.split(kr, c.n_seeds)
    out = [
        jax.vmap(lambda k, b=b: run(_fast_key(jax.random.fold_in(k, b)), b))(seeds)
        for b in c.batch_sizes
    ]
    sigma, sigma_t, sigma_h = _sup_constants(fam, thetas, alpha, c.n_grid, c.n_gh)
    g = jnp.linspace(-np.pi, np.pi, 48, endpoint=False)
    grid = jnp.stack(jnp.meshgrid(*[g] * fam.d, indexing="ij"), -1).reshape(-1, fam.d)
    return {
        "norm": jnp.stack([o[0] for o in out], 1),
        "sq": jnp.stack([o[1] for o in out], 1),
        "beta": jnp.stack([o[2] for o in out], 1),
        "sigma": sigma,
        "sigma_t": sigma_t,
        "sigma_h": sigma_h,
        "delta": F(w0) - jnp.min(jax.vmap(F)(grid)),
        "boot": jax.random.key_data(kb),
    }


def _fmo_finish(config: FmoConfig, a) -> FmoResult:
    c, fam = config, config.family
    alpha = c.alpha_l / fam.L
    norm, sq = np.asarray(a["norm"], np.float64), np.asarray(a["sq"], np.float64)
    key = jax.random.wrap_key_data(jnp.asarray(a["boot"]))
    k1, k2 = jax.random.split(key)
    cis = [
        bootstrap_ci(
            jax.random.fold_in(k1, j), norm[:, j], n_resamples=c.n_boot, level=c.level, method="t"
        )
        for j in range(len(c.batch_sizes))
    ]
    # the ratio of two means is right-skewed: its interval is taken on the log scale
    log_ratio = bootstrap_ci(
        k2,
        sq,
        lambda s: float(np.log(s[:, 0].mean() / s[:, -1].mean())),
        n_resamples=c.n_boot,
        level=c.level,
        method="t",
    )
    bounds = np.exp([log_ratio.mean, log_ratio.low, log_ratio.high])
    ratio = MeanCI(*(float(v) for v in bounds), c.level, int(sq.shape[0]))
    sigma, st, sh = (float(a[k]) for k in ("sigma", "sigma_t", "sigma_h"))
    bs = np.array(c.batch_sizes, np.float64)
    acc = np.asarray(
        fmo_maml_accuracy(fam.L, fam.rho, alpha, sigma, st, bs, c.d_out, c.d_in), np.float64
    )
    dh_min = int(np.ceil(2 * alpha**2 * sh**2))
    bp_min = int(np.ceil(0.5 * (fam.rho * alpha * sigma / fam.L) ** 2))
    db_min = int(np.ceil((2 * fam.rho * alpha * st / fam.L) ** 2))
    conditions = {
        "alpha": (alpha, 1 / (6 * fam.L), bool(alpha <= 1 / (6 * fam.L) + 1e-12)),
        "B": (int(min(c.batch_sizes)), 20, min(c.batch_sizes) >= 20),
        "Dh": (c.d_hess, dh_min, c.d_hess >= dh_min),
        "Bprime": (c.n_tasks_step, bp_min, c.n_tasks_step >= bp_min),
        "Dbeta": (c.d_beta, db_min, c.d_beta >= db_min),
    }
    return FmoResult(
        batch_sizes=np.array(c.batch_sizes),
        grad_norm=norm,
        grad_sq=sq,
        norm_ci=cis,
        accuracy=acc,
        ratio=ratio,
        beta_mean=np.asarray(a["beta"], np.float64).mean(0),
        sigma=sigma,
        sigma_tilde=st,
        sigma_h=sh,
        conditions=conditions,
        alpha=alpha,
        delta=float(a["delta"]),
    )


fmo_rule = vmappable(_fmo_core, _fmo_finish, compiler_options=LONG_RUNNING)
