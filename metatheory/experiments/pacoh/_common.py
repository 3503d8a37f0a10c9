r"""The task environment of claim P6 and the reference computations its check compares with.

**Environment.** An instance draws the dimension :math:`d \in \{1, 2\}`, :math:`n` tasks of
:math:`m` samples, the scales :math:`\sigma_P, s, \sigma` and the temperatures
:math:`\beta, \lambda`; the environment mean :math:`\bar w \sim N(0, I)` and task weights
:math:`w_i \sim N(\bar w, \tau^2 I)`; inputs :math:`x \sim N(0, I_d)`, outputs
:math:`y = x^\top w_i + \sigma\varepsilon`.

**Reference.** The hyper-posterior is normalised numerically: its log-density
:math:`\ln N(\mu; \mu_0, s^2I) + \kappa\sum_i\ln Z_\beta(S_i, \mu)` is evaluated on a uniform
grid of :math:`\pm 14` standard deviations around its mode (found by one Newton step with
central differences, exact for a quadratic up to rounding) and its moments are Riemann sums,
which for a smooth integrand decaying like a Gaussian converge faster than any power of the
spacing. :math:`\ln Z_\beta` is computed in weight space, as the exact Gaussian integral
:math:`\ln\int e^{f(w)}dw = \tfrac d2\ln 2\pi - \tfrac12\ln\det P + \tfrac12 h^\top P^{-1}h +
f_0` of the quadratic exponent :math:`f = -\tfrac12 w^\top Pw + h^\top w + f_0`, not through
the function-space covariance :math:`C_i` of the closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

__all__ = ["Instance", "draw_instances", "log_partition", "grid_moments", "gibbs_terms"]

N_MAX, M_MAX, D_MAX = 6, 12, 2


@dataclass(frozen=True)
class Instance:
    X: np.ndarray  # (n, m, d)
    y: np.ndarray  # (n, m)
    mu0: np.ndarray  # (d,)
    s: float
    sigma_p: float
    noise: float
    beta: float
    lam: float

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def m(self) -> int:
        return self.X.shape[1]

    @property
    def d(self) -> int:
        return self.X.shape[2]


def _np(x):
    return np.asarray(x, dtype=np.float64)


def draw_instances(key: jax.Array, count: int) -> list[Instance]:
    """``count`` random instances (module docstring); one batch of draws, then sliced."""
    k_u, k_z = jax.random.split(key)
    u = _np(jax.random.uniform(k_u, (count, 10)))
    sizes = (D_MAX, N_MAX * D_MAX, N_MAX * M_MAX * D_MAX, N_MAX * M_MAX, D_MAX)
    z = _np(jax.random.normal(k_z, (count, sum(sizes))))
    wbar, wdev, X, eps, mu0 = np.split(z, np.cumsum(sizes)[:-1], axis=1)
    wdev = wdev.reshape(count, N_MAX, D_MAX)
    X = X.reshape(count, N_MAX, M_MAX, D_MAX)
    eps = eps.reshape(count, N_MAX, M_MAX)
    out = []
    for k in range(count):
        d = 1 + int(u[k, 7] * D_MAX)
        n = 2 + int(u[k, 8] * (N_MAX - 1))
        m = 2 + int(u[k, 9] * (M_MAX - 1))
        sigma_p, s, noise, tau = (
            0.3 + 1.7 * u[k, 0],
            0.3 + 2.7 * u[k, 1],
            0.2 + 1.3 * u[k, 2],
            (0.2 + 1.3 * u[k, 3]),
        )
        mode = int(3 * u[k, 4])  # Bayes (beta = m, lambda = n), PACOH's sqrt choice, random
        if mode == 0:
            beta, lam = float(m), float(n)
        elif mode == 1:
            beta, lam = float(np.sqrt(m)), float(np.sqrt(n))
        else:
            beta, lam = m * (0.2 + 1.8 * u[k, 5]), n * (0.2 + 1.8 * u[k, 6])
        w = wbar[k, :d] + tau * wdev[k, :n, :d]
        Xk = X[k, :n, :m, :d]
        y = np.einsum("imd,id->im", Xk, w) + noise * eps[k, :n, :m]
        out.append(Instance(Xk, y, mu0[k, :d], s, sigma_p, noise, beta, lam))
    return out


def log_partition(inst: Instance, mu: np.ndarray) -> np.ndarray:
    r""":math:`\ln Z_\beta(S_i, \mu)` for every task and every row of ``mu`` (shape (G, d)):
    shape (n, G), by the exact Gaussian integral in weight space (module docstring)."""
    t = inst.beta / inst.m
    sp2, s2 = inst.sigma_p**2, inst.noise**2
    d = inst.d
    out = []
    for X, y in zip(inst.X, inst.y, strict=True):
        P = np.eye(d) / sp2 + (t / s2) * X.T @ X
        Pinv = np.linalg.inv(P)
        h = mu / sp2 + (t / s2) * (X.T @ y)  # (G, d)
        f0 = -np.sum(mu**2, axis=1) / (2 * sp2) - t * (y @ y) / (2 * s2)
        quad = 0.5 * np.einsum("gd,de,ge->g", h, Pinv, h)
        _, logdet = np.linalg.slogdet(P)
        lz = d / 2 * np.log(2 * np.pi) - logdet / 2 + quad + f0
        lz += -d / 2 * np.log(2 * np.pi * sp2) - inst.beta / 2 * np.log(2 * np.pi * s2)
        out.append(lz)
    return np.array(out)


def log_density(inst: Instance, mu: np.ndarray, kappa: float) -> np.ndarray:
    r""":math:`\ln N(\mu;\mu_0,s^2I) + \kappa\sum_i\ln Z_\beta(S_i,\mu)` at the rows of ``mu``."""
    d, s2 = inst.d, inst.s**2
    prior = -np.sum((mu - inst.mu0) ** 2, axis=1) / (2 * s2) - d / 2 * np.log(2 * np.pi * s2)
    return prior + kappa * log_partition(inst, mu).sum(axis=0)


GRID_HALF_WIDTH = 14.0
"""Grid half-width in standard deviations: the Gaussian tail beyond it is e^{-98}."""
GRID_POINTS = {1: 401, 2: 161}
"""Points per axis: spacing 0.07 and 0.175 standard deviations; a Riemann sum of a Gaussian
with spacing h errs by about e^{-2π²/h²} (the Poisson summation formula), below 1e-280."""


def grid_moments(inst: Instance, kappa: float):
    """``(mean, cov, log_norm)`` of the unnormalised density ``exp(log_density)`` by a Riemann
    sum on a grid (module docstring); ``log_norm`` is the log of its integral."""
    d = inst.d
    # one Newton step from mu0 with central differences (step 1: exact for a quadratic)
    x0 = inst.mu0.astype(np.float64)
    e = np.eye(d)
    shifts = [
        sj * e[j] + sk * e[k]
        for j in range(d)
        for k in range(d)
        for sj in (1, -1)
        for sk in (1, -1)
    ]
    pts = np.concatenate([x0 + e, x0 - e, x0 + np.array(shifts)])
    f = log_density(inst, pts, kappa)
    g = (f[:d] - f[d : 2 * d]) / 2
    quads = f[2 * d :].reshape(d, d, 4)  # (+,+), (+,-), (-,+), (-,-)
    H = (quads[..., 0] - quads[..., 1] - quads[..., 2] + quads[..., 3]) / 4
    mode = x0 - np.linalg.solve(H, g)
    sd = np.sqrt(np.diag(np.linalg.inv(-H)))
    axes = [
        mode[j] + sd[j] * np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS[d])
        for j in range(d)
    ]
    grid = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)
    cell = np.prod([a[1] - a[0] for a in axes])
    lp = log_density(inst, grid, kappa)
    top = lp.max()
    wts = np.exp(lp - top)
    z = wts.sum()
    mean = wts @ grid / z
    dev = grid - mean
    cov = (wts[:, None] * dev).T @ dev / z
    return mean, cov, float(top + np.log(z * cell))


def gibbs_terms(inst: Instance, mean: np.ndarray, cov: np.ndarray):
    r"""``(emp_risk, kl_hyper, kl_task)`` of the hyper-posterior :math:`N(\nu,\Gamma)` =
    ``(mean, cov)`` with the Gibbs base learner, in closed form: the task-averaged
    :math:`E_{\mu}E_{w\sim Q_i(\mu)}\hat L_i(w)`, :math:`KL(N(\nu,\Gamma)\|N(\mu_0,s^2I))` and
    the task average of :math:`E_\mu KL(Q_i(\mu)\|N(\mu,\sigma_P^2I))`, where
    :math:`Q_i(\mu) = N(D\mu + e_i, \Sigma_i)`, :math:`\Sigma_i = (I/\sigma_P^2 +
    (t/\sigma^2)X_i^\top X_i)^{-1}`, :math:`D = \Sigma_i/\sigma_P^2`,
    :math:`e_i = \Sigma_i(t/\sigma^2)X_i^\top y_i`."""
    d, m, t = inst.d, inst.m, inst.beta / inst.m
    sp2, s2, n2 = inst.sigma_p**2, inst.s**2, inst.noise**2
    eye = np.eye(d)
    emp, klt = [], []
    for X, y in zip(inst.X, inst.y, strict=True):
        Sig = np.linalg.inv(eye / sp2 + (t / n2) * X.T @ X)
        D = Sig / sp2
        e = Sig @ ((t / n2) * X.T @ y)
        r = y - X @ (D @ mean + e)
        sq = r @ r + np.trace(X @ D @ cov @ D.T @ X.T) + np.trace(X.T @ X @ Sig)
        emp.append(sq / (2 * n2 * m) + 0.5 * np.log(2 * np.pi * n2))
        B = D - eye
        diff = B @ mean + e
        msq = diff @ diff + np.trace(B @ cov @ B.T)
        _, logdet = np.linalg.slogdet(Sig)
        klt.append(0.5 * (np.trace(Sig) / sp2 + msq / sp2 - d + d * np.log(sp2) - logdet))
    dm = mean - inst.mu0
    _, logdet_g = np.linalg.slogdet(cov)
    klh = 0.5 * (np.trace(cov) / s2 + dm @ dm / s2 - d + d * np.log(s2) - logdet_g)
    return float(np.mean(emp)), float(klh), float(np.mean(klt))
