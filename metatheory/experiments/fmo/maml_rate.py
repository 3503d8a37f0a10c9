r"""C4 ``maml_rate``: stochastic MAML with :math:`\beta = c/\sqrt T` (Fallah, Mokhtari, Ozdaglar
2020, Theorems 4.5 and 4.7), seeds vmapped, steps in a loop whose length is a traced value (one
compiled program for every horizon); first-order MAML's floor against α.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.bounds.fmo import (
    maml_rate_bound,
    maml_smoothness,
)
from metatheory.experiments import LONG_RUNNING, vmappable
from metatheory.experiments.fmo._common import (
    Family,
    adapt,
    design,
    fast_key,
    meta_objective,
    pool,
    samples,
    torus_grid,
    wloss,
)
from metatheory.learners.maml import batched_maml_meta_gradient
from metatheory.stats import Interval, bootstrap_ci, linear_fit

__all__ = ["MamlRateConfig", "MAML_RATE_PRESETS", "MamlRateResult", "rate", "rate_slope"]


@dataclass(frozen=True)
class MamlRateConfig:
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
    level: float = 5e-4  # tail probability of the bootstrap-t CIs over seeds
    n_boot: int = 1000


MAML_RATE_PRESETS = {
    "quick": MamlRateConfig(),
    "full": MamlRateConfig(n_seeds=128, horizons=(500, 1000, 2000, 4000, 8000, 16000, 32000)),
}


@dataclass(frozen=True, kw_only=True)
class MamlRateResult:
    horizons: np.ndarray
    avg_sq: np.ndarray  # (seeds, nT) (1/T) sum_t ||grad F(w_t)||^2
    slope: Interval  # bootstrap over seeds, log-mean fit with the O(beta) term
    slope_plain: Interval  # plain log-log fit of the seed means (reported only)
    c: float  # beta = c / sqrt(T)
    delta: float  # F(w0) - min F
    sigma2: Interval  # of max over path points of E||g - grad F||^2
    L: float  # the family's gradient Lipschitz constant
    L_F: float  # maml_smoothness(L, rho, alpha, G, 1)
    bound: np.ndarray  # maml_rate_bound(delta, L_F, sigma2.high, c, T)
    bound_ratio: Interval  # max over T of mean(avg_sq) / bound (bootstrap over seeds)
    fo_alpha: np.ndarray
    fo_floor: np.ndarray  # ||grad F(w_FO)||^2 at the first-order fixed point
    fo_task_var: np.ndarray  # E_i ||grad f_i(w~_i) - mean||^2 there (FMO's sigma^2)
    fo_exponent: float  # slope of log floor vs log alpha with the O(alpha) term
    fo_exponent_plain: float  # the same without it
    fo_residual: float  # max |residual| of the fit with the O(alpha) term (log scale)
    maml_floor: float  # ||grad F||^2 after full-batch MAML (the learner) from w0


def rate_slope(horizons):
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
def _rate_core(config: MamlRateConfig, key):
    """C4, pure JAX: ``n_seeds`` runs of stochastic MAML (the public batched learner) per
    horizon with :math:`\\beta = c/\\sqrt T`; the constants of the bound; the first-order floor."""
    c, fam = config, config.family
    alpha = c.alpha_l / fam.L
    kt, kr, kv, kb = jax.random.split(key, 4)
    thetas = pool(kt, c.n_tasks, c.n_far, c.far, fam, jnp.float32)
    w0 = thetas.mean(0) + jnp.asarray(c.w0, thetas.dtype)
    F = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=alpha)
    gF = jax.grad(F)
    B, K = c.n_tasks_batch, c.k_query

    def estimate(w, idx, coord, eps):
        t = thetas[idx]
        S = jax.vmap(lambda th: design(th, fam))(t)
        Q = jax.vmap(lambda cc, ee, th: samples(cc, ee, th, fam))(coord, eps, t)
        return batched_maml_meta_gradient(wloss, w, S, Q, alpha=alpha, n_inner=1)

    def draws(k, n):
        ki, kc, ke = jax.random.split(k, 3)
        return (
            jax.random.randint(ki, (n, B), 0, c.n_tasks),
            jax.random.randint(kc, (n, B, K), 0, fam.d),
            jax.random.normal(ke, (n, B, K), thetas.dtype),
        )

    # Delta = F(w0) - min F: the torus grid, then gradient descent from the best point
    grid = torus_grid(48, fam.d)
    wmin = grid[jnp.argmin(jax.vmap(F)(grid))]
    L_F = maml_smoothness(fam.L, fam.rho, alpha, fam.G, 1)
    wmin = jax.lax.fori_loop(0, 500, lambda _, w: w - gF(w) / L_F, wmin)
    delta = F(w0) - F(wmin)
    # sigma^2 along the deterministic path from w0 (points after sigma_points GD steps)
    path = jax.lax.scan(
        lambda w, _: (w - gF(w) / L_F, w), w0, None, length=max(c.sigma_points) + 1
    )[1]
    pts = path[jnp.asarray(c.sigma_points)]
    dk = jax.vmap(fast_key)(jax.random.split(kv, len(c.sigma_points)))
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
        lambda T: jax.vmap(lambda k: run(fast_key(jax.random.fold_in(k, T)), T))(seeds), hs
    )

    # first-order floor: full-batch FOMAML (the learner, exact query = the design) to its
    # fixed point; MAML run identically must reach a stationary point of the reference F
    def full_batch(a, first_order):
        S = jax.vmap(lambda th: design(th, fam))(thetas)

        def step(w, _):
            d = batched_maml_meta_gradient(
                wloss, w, S, S, alpha=a, n_inner=1, first_order=first_order
            )
            return w - 0.5 / fam.L * d, None

        return jax.lax.scan(step, w0, None, length=c.fo_steps)[0]

    fo_alpha = jnp.asarray(c.fo_alpha_l, thetas.dtype) / fam.L

    def fo_floor(a):
        w = full_batch(a, True)
        Fa = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=a)
        gi = fam.L * jnp.sin(adapt(w[None], thetas, fam, a, 1) - thetas)
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


def _rate_finish(config: MamlRateConfig, a) -> MamlRateResult:
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
    return MamlRateResult(
        horizons=hs,
        avg_sq=avg,
        slope=slope,
        slope_plain=linear_fit(np.log(hs), np.log(avg.mean(0)), level=c.level),
        c=const,
        delta=delta,
        sigma2=sig,
        L=float(c.family.L),
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
