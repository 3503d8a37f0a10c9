r"""H1 ``grant_implicit_prior``: ``N`` GD steps on a quadratic equal the MAP under
:math:`\mathcal N(\theta_0, Q)` (Grant et al. 2018, Sec. 3.1, after Santos 1996), with
:math:`Q` from :func:`metatheory.bounds.grant_prior_covariance` (1-D:
:func:`~metatheory.bounds.grant_prior_precision`). Float64; every instance (curvatures, step
sizes, step counts, task data) is drawn from the key.

Errors are relative to the problem's scale :math:`\|\hat\theta\| + \|\theta_0\|`, the scale
of float64 rounding (dividing by a tiny displacement :math:`\|\hat\theta - \theta_0\|` would
only amplify rounding). The small-step series of :math:`\lambda` is evaluated on a grid of
:math:`\alpha h` for a drawn ``(h, N)``; the check compares it with the sympy series term by term.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from metatheory.bounds import grant_prior_covariance, grant_prior_precision
from metatheory.experiments import experiment
from metatheory.experiments.grant._common import draw
from metatheory.learners.maml import inner_adapt
from metatheory.tasks import linear

__all__ = [
    "GrantImplicitPriorConfig",
    "GRANT_IMPLICIT_PRIOR_PRESETS",
    "GrantImplicitPriorResult",
    "implicit_prior",
]


@dataclass(frozen=True)
class GrantImplicitPriorConfig:
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


GRANT_IMPLICIT_PRIOR_PRESETS = {
    "quick": GrantImplicitPriorConfig(),
    "full": GrantImplicitPriorConfig(
        n_scalar=5000,
        n_matrix=1000,
        n_regression=500,
        d=10,
        m=60,
        series_ah=tuple(np.geomspace(1e-3, 5e-2, 24).tolist()),
    ),
}


@dataclass(frozen=True, kw_only=True)
class GrantImplicitPriorResult:
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


@experiment
def implicit_prior(config: GrantImplicitPriorConfig, key: jax.Array) -> GrantImplicitPriorResult:
    """H1: GD iterate vs MAP under Grant's prior on 1-D, d-dim and regression problems, and
    the precision on a small-step grid for the series check."""
    c = config
    with jax.enable_x64(True):
        n, nm, d, nr = c.n_scalar, c.n_matrix, c.d, c.n_regression
        sizes_z = (2 * n, nm * (d + 2) * d, nr * c.m * d, nr * d, nr * c.m, nr * d)
        sizes_u = (3 * n, nm * (d + 2), 2)
        z_all, u_all = draw(key, sum(sizes_z), sum(sizes_u))
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
        return GrantImplicitPriorResult(
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
