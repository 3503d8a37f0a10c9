r"""H2 ``maml_empirical_bayes``: MAML's outer loop as empirical Bayes (Grant et al. 2018,
Sec. 3). Float64; every instance is drawn from the key.

On tasks :math:`L_i(\theta) = \tfrac12(\theta-\theta_i)^\top H(\theta-\theta_i)` sharing ``H``
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

from metatheory.bounds import grant_prior_covariance
from metatheory.experiments import experiment
from metatheory.experiments.grant._common import draw
from metatheory.learners.maml import batched_maml_meta_loss
from metatheory.tasks import linear

__all__ = [
    "MamlEmpiricalBayesConfig",
    "MAML_EMPIRICAL_BAYES_PRESETS",
    "MamlEmpiricalBayesResult",
    "empirical_bayes",
]


@dataclass(frozen=True)
class MamlEmpiricalBayesConfig:
    settings: tuple[tuple[float, int], ...] = ((0.3, 1), (0.9, 3), (0.5, 5))
    # (alpha * lambda_max(H), N) pairs; the first one is drawn in the figure
    n_tasks: int = 20
    d: int = 2  # two dimensions so that the figure shows the objective's level sets
    m: int = 8
    task_scale: float = 2.0
    n_opt_steps: int = 300  # optax trajectory, for the figure
    learning_rate: float = 0.05


MAML_EMPIRICAL_BAYES_PRESETS = {
    "quick": MamlEmpiricalBayesConfig(),
    "full": MamlEmpiricalBayesConfig(
        settings=((0.3, 1), (0.3, 5), (0.9, 3), (0.5, 5), (0.1, 10)),
        n_tasks=200,
        n_opt_steps=1000,
    ),
}


@dataclass(frozen=True, kw_only=True)
class MamlEmpiricalBayesResult:
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
def empirical_bayes(config: MamlEmpiricalBayesConfig, key: jax.Array) -> MamlEmpiricalBayesResult:
    """H2: the minimizer of MAML's objective vs the mean of the task optima, and its curvature
    vs ``MHM`` with ``M = (I + QH)^{-1}`` from Grant's prior covariance ``Q``."""
    c = config
    with jax.enable_x64(True):
        t, m, d = c.n_tasks, c.m, c.d
        sizes = (m * d, t * d, t * m, t * m * d, d)
        z_all, _ = draw(key, sum(sizes), 1)
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
        return MamlEmpiricalBayesResult(
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
