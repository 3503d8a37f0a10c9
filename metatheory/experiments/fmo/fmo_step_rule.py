r"""C5 ``fmo_step_rule``: FMO's algorithm (stochastic inner step, independent Hessian batch,
:math:`\beta_k = 1/(12\tilde L(w_k))`) at several task-batch sizes, against the accuracy of
Fallah, Mokhtari, Ozdaglar 2020, Theorem 4.5, with its constants computed on a torus grid.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.bounds.fmo import (
    fmo_maml_accuracy,
    fmo_smoothness,
)
from metatheory.experiments import LONG_RUNNING, vmappable
from metatheory.experiments.fmo._common import (
    Family,
    fast_key,
    gauss_hermite,
    meta_objective,
    pool,
    samples,
    torus_grid,
    wloss,
)
from metatheory.learners.maml import inner_adapt
from metatheory.stats import Interval, bootstrap_ci

__all__ = ["FmoStepRuleConfig", "FMO_STEP_RULE_PRESETS", "FmoStepRuleResult", "fmo_rule"]


@dataclass(frozen=True)
class FmoStepRuleConfig:
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
    level: float = 5e-4  # tail probability of the bootstrap-t CIs over seeds
    n_boot: int = 2000


FMO_STEP_RULE_PRESETS = {
    "quick": FmoStepRuleConfig(),
    "full": FmoStepRuleConfig(n_seeds=64, n_steps=4000, burn_in=1000, batch_sizes=(20, 40, 80)),
}


@dataclass(frozen=True, kw_only=True)
class FmoStepRuleResult:
    batch_sizes: np.ndarray
    grad_norm: np.ndarray  # (seeds, nB) mean of ||grad F(w_k)|| over k >= burn_in
    grad_sq: np.ndarray  # (seeds, nB) mean of ||grad F(w_k)||^2 over k >= burn_in
    norm_ci: list  # per B: Interval of E||grad F(w_eps)|| (bootstrap over seeds)
    accuracy: np.ndarray  # (nB,) fmo_maml_accuracy with the constants below
    ratio: Interval  # of mean grad_sq(B_1) / mean grad_sq(B_2) (t-interval of its log)
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
    grid = torus_grid(n_grid, fam.d)
    xg, wg = gauss_hermite(n_gh)
    xg, wg = jnp.asarray(xg, thetas.dtype), jnp.asarray(wg, thetas.dtype)
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
def _fmo_core(config: FmoStepRuleConfig, key):
    """C5, pure JAX: FMO's MAML (Algorithm 1 with Theorem 4.5's batches and step rule) at each
    task-batch size; the sup-constants of Theorem 4.5."""
    c, fam = config, config.family
    alpha = c.alpha_l / fam.L
    kt, kr, kb = jax.random.split(key, 3)
    thetas = pool(kt, c.n_tasks, c.n_far, c.far, fam, jnp.float32)
    w0 = thetas.mean(0) + jnp.asarray(c.w0, thetas.dtype)
    F = functools.partial(meta_objective, thetas=thetas, fam=fam, alpha=alpha)
    gF = jax.grad(F)
    loss = wloss

    n_data = c.d_in + c.d_out + c.d_hess

    def task_grad(w, theta, coord, eps):
        """FMO's per-task estimator (I - alpha H~(w, D_h)) grad~ f(w - alpha grad~ f(w, D_in), D_o):
        the adapted point from D_in, its Jacobian from D_h (the public ``inner_adapt`` both
        times), the outer gradient from D_o; ``coord``/``eps`` hold the three batches."""
        x, y = samples(coord, eps, theta, fam)
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
            return jnp.linalg.norm(jax.grad(loss)(w, *samples(cc, ee, thetas[i], fam)))

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
        jax.vmap(lambda k, b=b: run(fast_key(jax.random.fold_in(k, b)), b))(seeds)
        for b in c.batch_sizes
    ]
    sigma, sigma_t, sigma_h = _sup_constants(fam, thetas, alpha, c.n_grid, c.n_gh)
    grid = torus_grid(48, fam.d)
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


def _fmo_finish(config: FmoStepRuleConfig, a) -> FmoStepRuleResult:
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
    bounds = np.exp([log_ratio.estimate, log_ratio.low, log_ratio.high])
    ratio = Interval(*(float(v) for v in bounds), c.level, int(sq.shape[0]))
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
    return FmoStepRuleResult(
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
