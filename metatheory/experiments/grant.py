r"""Experiments for the hierarchical-Bayes reading of MAML: Grant et al.'s implicit prior (H1) and
MAML's outer loop as empirical Bayes (H2). All in float64; every instance (curvatures, step
sizes, step counts, task data) is drawn from the key.

H1: ``N`` GD steps on a quadratic equal the MAP under :math:`\mathcal N(\theta_0, Q)` with
:math:`Q` from :func:`metatheory.bounds.grant_prior_covariance` (1-D:
:func:`~metatheory.bounds.grant_prior_precision`); errors are relative to the problem's scale
:math:`\|\hat\theta\| + \|\theta_0\|`, the scale of float64 rounding (dividing by a tiny
displacement :math:`\|\hat\theta - \theta_0\|` would only amplify rounding). The small-step
series of :math:`\lambda` is evaluated on a grid of :math:`\alpha h` for a drawn ``(h, N)``;
the check compares it with the sympy series term by term.

H2: on tasks :math:`L_i(\theta) = \tfrac12(\theta-\theta_i)^\top H(\theta-\theta_i)` sharing ``H``
(linear regression on one shared design), the MAML objective
:math:`\tfrac1n\sum_i L_i(\theta_{N,i}(\theta))` is the quadratic
:math:`\tfrac1n\sum_i\tfrac12(\theta-\theta_i)^\top MHM(\theta-\theta_i)`,
:math:`M = \partial\theta_N/\partial\theta = (I-\alpha H)^N = (I+QH)^{-1}` with Grant's prior
covariance ``Q``: it is minimized at the mean of the task optima, the maximum-likelihood
hyperprior mean, and its curvature is ``MHM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metatheory.bounds import grant_prior_covariance, grant_prior_precision
from metatheory.experiments import experiment
from metatheory.learners.maml import batched_maml_meta_loss, inner_adapt
from metatheory.tasks import linear

__all__ = [
    "GrantPriorConfig",
    "PRIOR_QUICK",
    "PRIOR_FULL",
    "PRIOR_PRESETS",
    "GrantPriorResult",
    "implicit_prior",
    "GrantEBConfig",
    "EB_QUICK",
    "EB_FULL",
    "EB_PRESETS",
    "GrantEBResult",
    "empirical_bayes",
]


@dataclass(frozen=True)
class GrantPriorConfig:
    n_scalar: int = 200  # random 1-D problems
    n_matrix: int = 50  # random d-dimensional quadratics
    d: int = 5
    n_regression: int = 20  # linear-regression tasks (m > d so that H is positive definite)
    regression_steps: tuple[int, ...] = (1, 4, 10)
    m: int = 30
    max_steps: int = 40  # 1-D problems
    max_matrix_steps: int = 10
    max_alpha_ell: float = 0.5
    # d-dim: alpha * ell_max <= 0.5 and N <= 10 keep cond(Q) <~ (1 - 0.5)^-10 ~ 1e3; beyond that a
    # dense float64 Q loses its small eigen-directions and the check would measure rounding
    series_n: tuple[int, int] = (2, 10)  # N drawn uniformly from this range (N = 1: no series)
    series_h: tuple[float, float] = (0.5, 5.0)  # h drawn log-uniformly
    # alpha h from 1e-3 to 0.05: the series regime (|c_3| alpha + |c_4| alpha^2 << |c_2|), and the
    # truncation error c_1 alpha ~ 1e-4 h stays far above the rounding of lambda ~ 1/(alpha N)
    series_ah: tuple[float, ...] = tuple(np.geomspace(1e-3, 5e-2, 8).tolist())


PRIOR_QUICK = GrantPriorConfig()
PRIOR_FULL = GrantPriorConfig(
    n_scalar=5000,
    n_matrix=1000,
    n_regression=500,
    d=10,
    m=60,
    series_ah=tuple(np.geomspace(1e-3, 5e-2, 24).tolist()),
)
PRIOR_PRESETS = {"quick": PRIOR_QUICK, "full": PRIOR_FULL}


@dataclass(frozen=True, kw_only=True)
class GrantPriorResult:
    scalar_err: np.ndarray  # |GD - MAP| / (|theta_hat| + |theta0|), per 1-D problem
    matrix_err: np.ndarray  # same, d-dimensional quadratics
    regression_err: np.ndarray  # same, linear regression (GD by the package's inner_adapt)
    scalar_control: np.ndarray  # same with the leading-order lambda = 1/(alpha N)
    matrix_control: np.ndarray  # same with Q = alpha N I
    series_alphas: np.ndarray
    series_lambda: np.ndarray  # lambda(alpha) by grant_prior_precision at (series_h, series_n)
    series_h: float
    series_n: int


def _map_scalar(theta_hat, theta0, h, lam):
    return (h * theta_hat + lam * theta0) / (h + lam)


def _map_matrix(H, phi, theta0, Q):
    P = np.linalg.inv(Q)
    return np.linalg.solve(H + P, H @ phi + P @ theta0)


@partial(jax.jit, static_argnums=(1, 2))
def _draw(key, n_normal: int, n_uniform: int):
    """All the randomness of an experiment in one compiled draw (each distinct jax.random
    shape costs an XLA compile): ``n_normal`` standard normals and ``n_uniform`` U(0, 1)."""
    kz, ku = jax.random.split(key)
    return (
        jax.random.normal(kz, (n_normal,), jnp.float64),
        jax.random.uniform(ku, (n_uniform,), jnp.float64),
    )


@experiment
def implicit_prior(config: GrantPriorConfig, key: jax.Array) -> GrantPriorResult:
    """H1: GD iterate vs MAP under Grant's prior on 1-D, d-dim and regression problems, and
    the precision on a small-step grid for the series check."""
    c = config
    with jax.enable_x64(True):
        n, nm, d, nr = c.n_scalar, c.n_matrix, c.d, c.n_regression
        sizes_z = (2 * n, nm * (d + 2) * d, nr * c.m * d, nr * d, nr * c.m, nr * d)
        sizes_u = (3 * n, nm * (d + 2), 2)
        z_all, u_all = _draw(key, sum(sizes_z), sum(sizes_u))
        z_parts = np.split(np.asarray(z_all), np.cumsum(sizes_z)[:-1])
        u_parts = np.split(np.asarray(u_all), np.cumsum(sizes_u)[:-1])
        # 1-D: h log-uniform in [0.1, 10], alpha h uniform in (0.01, 0.99), N in 1..max_steps
        u = u_parts[0].reshape(3, n)
        z = z_parts[0].reshape(2, n)
        h = np.exp(np.log(0.1) + u[0] * np.log(100.0))
        alpha = (0.01 + 0.98 * u[1]) / h
        steps = 1 + np.floor(u[2] * c.max_steps).astype(int)
        theta_hat, theta0 = z
        th = theta0.copy()
        for j in range(c.max_steps):
            th = np.where(j < steps, th - alpha * h * (th - theta_hat), th)
        lam = grant_prior_precision(h, alpha, steps)
        scale = np.abs(theta_hat) + np.abs(theta0)
        scalar_err = np.abs(th - _map_scalar(theta_hat, theta0, h, lam)) / scale
        lam_wrong = 1.0 / (alpha * steps)
        scalar_ctl = np.abs(th - _map_scalar(theta_hat, theta0, h, lam_wrong)) / scale

        matrix_err, matrix_ctl = [], []
        z = z_parts[1].reshape(nm, d + 2, d)
        u = u_parts[1].reshape(nm, d + 2)
        O = np.linalg.qr(z[:, :d])[0]
        ell = np.exp(np.log(0.1) + u[:, :d] * np.log(100.0))  # log-uniform in [0.1, 10]
        Hs = (O * ell[:, None, :]) @ np.swapaxes(O, 1, 2)
        us = 0.01 + (c.max_alpha_ell - 0.01) * u[:, d]
        nsts = 1 + np.floor(u[:, d + 1] * c.max_matrix_steps).astype(int)
        phis, t0s = z[:, d], z[:, d + 1]
        for H, frac, nst, phi, t0 in zip(Hs, us, nsts, phis, t0s, strict=True):
            a = frac / np.linalg.eigvalsh(H)[-1]
            t = t0.copy()
            for _ in range(nst):
                t = t - a * H @ (t - phi)
            s = np.linalg.norm(phi) + np.linalg.norm(t0)
            Q = grant_prior_covariance(H, a, int(nst))
            matrix_err.append(np.linalg.norm(t - _map_matrix(H, phi, t0, Q)) / s)
            Q_wrong = a * nst * np.eye(d)
            matrix_ctl.append(np.linalg.norm(t - _map_matrix(H, phi, t0, Q_wrong)) / s)

        # linear regression tasks (x ~ N(0, I), theta_i ~ N(0, I), noise 0.1), GD by the
        # package's inner_adapt, vmapped over tasks, every N in one compiled program
        xs = z_parts[2].reshape(nr, c.m, d)
        ys = np.einsum("tmd,td->tm", xs, z_parts[3].reshape(nr, d)) + 0.1 * z_parts[4].reshape(
            nr, c.m
        )
        t0s = z_parts[5].reshape(nr, d)
        lmax = np.array([np.linalg.eigvalsh(linear.hessian(x))[-1] for x in xs])
        alphas_r = c.max_alpha_ell / lmax

        @jax.jit
        def adapt_all(t0s, xs, ys, als):
            return [
                jax.vmap(
                    lambda t, x, y, a, nst=nst: inner_adapt(
                        linear.loss, t, (x, y), alpha=a, n_inner=nst
                    )
                )(t0s, xs, ys, als)
                for nst in c.regression_steps
            ]

        adapted = adapt_all(t0s, xs, ys, alphas_r)
        reg_err = []
        for nst, ts in zip(c.regression_steps, adapted, strict=True):
            for x, y, t0, t, a in zip(xs, ys, t0s, np.asarray(ts), alphas_r, strict=True):
                H, phi = linear.hessian(x), linear.optimum(x, y)
                Q = grant_prior_covariance(H, a, nst)
                scale = np.linalg.norm(phi) + np.linalg.norm(t0)
                err = np.linalg.norm(t - _map_matrix(H, phi, t0, Q)) / scale
                reg_err.append(err)

        uq = u_parts[2]
        lo, hi = c.series_n
        s_n = int(lo + np.floor(uq[0] * (hi - lo + 1)))
        s_h = float(np.exp(np.log(c.series_h[0]) + uq[1] * np.log(c.series_h[1] / c.series_h[0])))
        alphas = np.asarray(c.series_ah) / s_h
        return GrantPriorResult(
            scalar_err=scalar_err,
            matrix_err=np.array(matrix_err),
            regression_err=np.array(reg_err),
            scalar_control=scalar_ctl,
            matrix_control=np.array(matrix_ctl),
            series_alphas=alphas,
            series_lambda=np.asarray(grant_prior_precision(s_h, alphas, s_n), np.float64),
            series_h=s_h,
            series_n=s_n,
        )


@dataclass(frozen=True)
class GrantEBConfig:
    settings: tuple[tuple[float, int], ...] = ((0.3, 1), (0.9, 3), (0.5, 5))
    # (alpha * lambda_max(H), N) pairs; the first one is drawn in the figure
    n_tasks: int = 20
    d: int = 2  # two dimensions so that the figure shows the objective's level sets
    m: int = 8
    task_scale: float = 2.0
    n_opt_steps: int = 300  # optax trajectory, for the figure
    learning_rate: float = 0.05


EB_QUICK = GrantEBConfig()
EB_FULL = GrantEBConfig(
    settings=((0.3, 1), (0.3, 5), (0.9, 3), (0.5, 5), (0.1, 10)), n_tasks=200, n_opt_steps=1000
)
EB_PRESETS = {"quick": EB_QUICK, "full": EB_FULL}


@dataclass(frozen=True, kw_only=True)
class GrantEBResult:
    settings: np.ndarray  # (n_settings, 2): alpha * lambda_max, N
    err: np.ndarray  # ||argmin MAML - mean of optima|| / ||mean||, shared H
    curvature_err: np.ndarray  # ||autodiff Hessian of the objective - MHM|| / ||MHM||
    control: np.ndarray  # like err, tasks with their own designs (H_i differ), first setting
    optima: np.ndarray  # (n_tasks, d) task optima of the shared-H family
    mean: np.ndarray
    minimizer: np.ndarray  # of the first setting
    trajectory: np.ndarray  # (n_opt_steps + 1, d) Adam on the MAML objective, first setting
    grid_x: np.ndarray
    grid_y: np.ndarray
    grid_loss: np.ndarray  # MAML objective on the grid, first setting


@experiment
def empirical_bayes(config: GrantEBConfig, key: jax.Array) -> GrantEBResult:
    """H2: the minimizer of MAML's objective vs the mean of the task optima, and its curvature
    vs ``MHM`` with ``M = (I + QH)^{-1}`` from Grant's prior covariance ``Q``."""
    c = config
    with jax.enable_x64(True):
        t, m, d = c.n_tasks, c.m, c.d
        sizes = (m * d, t * d, t * m, t * m * d, d)
        z_all, _ = _draw(key, sum(sizes), 1)
        zx, zt, ze, zc, z0 = np.split(np.asarray(z_all), np.cumsum(sizes)[:-1])
        x = zx.reshape(m, d)
        thetas = c.task_scale * zt.reshape(t, d) + 1.0
        ys = thetas @ x.T + 0.1 * ze.reshape(t, m)
        xs = np.broadcast_to(x, (t, m, d))
        optima = np.stack([linear.optimum(x, y) for y in ys])
        mean = optima.mean(axis=0)
        # control: the same targets but each task with its own design (Hessians differ)
        xc = zc.reshape(t, m, d)
        yc = np.einsum("tmd,td->tm", xc, thetas)
        optima_c = np.stack([linear.optimum(a, b) for a, b in zip(xc, yc, strict=True)])
        H = linear.hessian(x)
        lam_max = np.linalg.eigvalsh(H)[-1]
        lam_max_c = max(np.linalg.eigvalsh(linear.hessian(a))[-1] for a in xc)
        theta0 = z0
        alphas = [frac / lam_max for frac, _ in c.settings]

        def meta(th, xs, ys, a, n):
            return batched_maml_meta_loss(linear.loss, th, (xs, ys), (xs, ys), alpha=a, n_inner=n)

        def grad_hess(f, th):
            """Gradient and Hessian of ``f`` at ``th`` in one forward-over-reverse pass."""
            g, cols = jax.vmap(lambda v: jax.jvp(jax.grad(f), (th,), (v,)))(jnp.eye(th.size))
            return g[0], cols

        @jax.jit
        def derivatives(theta0, xs, ys, xc, yc, alphas, alpha_c):
            """Gradient and Hessian of the objective at theta0 for every setting, and for the
            control tasks at the first setting, in one compiled program."""
            out = [
                grad_hess(partial(meta, xs=xs, ys=ys, a=a, n=n), theta0)
                for (_, n), a in zip(c.settings, alphas, strict=True)
            ]
            fc = partial(meta, xs=xc, ys=yc, a=alpha_c, n=c.settings[0][1])
            return out, grad_hess(fc, theta0)

        derivs, (gc, hc) = derivatives(
            theta0, xs, ys, xc, yc, jnp.asarray(alphas), c.settings[0][0] / lam_max_c
        )
        err, curv, minimizers = [], [], []
        for i, (_, n) in enumerate(c.settings):
            g, hess = (np.asarray(z) for z in derivs[i])
            t_star = theta0 - np.linalg.solve(hess, g)  # exact minimizer of a quadratic
            minimizers.append(t_star)
            err.append(np.linalg.norm(t_star - mean) / np.linalg.norm(mean))
            Q = grant_prior_covariance(H, alphas[i], n)
            M = np.linalg.inv(np.eye(d) + Q @ H)
            pred = M @ H @ M
            curv.append(np.linalg.norm(hess - pred) / np.linalg.norm(pred))
        tc = theta0 - np.linalg.solve(np.asarray(hc), np.asarray(gc))
        m_c = optima_c.mean(axis=0)
        ctl = [np.linalg.norm(tc - m_c) / np.linalg.norm(m_c)]

        t_star = minimizers[0]
        opt = optax.adam(c.learning_rate)
        n0 = c.settings[0][1]

        @jax.jit
        def figure(theta0, xs, ys, a, grid):
            """Adam on the first setting's objective, and the objective on a grid."""
            f = partial(meta, xs=xs, ys=ys, a=a, n=n0)

            def step(carry, _):
                th, s = carry
                u, s = opt.update(jax.grad(f)(th), s, th)
                th = optax.apply_updates(th, u)
                return (th, s), th

            _, traj = jax.lax.scan(step, (theta0, opt.init(theta0)), None, length=c.n_opt_steps)
            return traj, jax.vmap(f)(grid)

        # the grid spans the optima and the minimizer (the trajectory stays between them)
        pts = np.concatenate([optima, theta0[None], t_star[None]])
        lo, hi = pts.min(axis=0) - 0.5, pts.max(axis=0) + 0.5
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 60), np.linspace(lo[1], hi[1], 60))
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        traj, gl = figure(theta0, xs, ys, alphas[0], grid)
        traj = np.concatenate([theta0[None], np.asarray(traj)])
        gl = np.asarray(gl).reshape(gx.shape)
        return GrantEBResult(
            settings=np.array(c.settings, dtype=np.float64),
            err=np.array(err),
            curvature_err=np.array(curv),
            control=np.array(ctl),
            optima=optima,
            mean=mean,
            minimizer=t_star,
            trajectory=traj,
            grid_x=gx,
            grid_y=gy,
            grid_loss=gl,
        )
