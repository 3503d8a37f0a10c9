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

**Bound check.** A fixed one-dimensional environment (:class:`BoundEnvironment`) with the loss
:math:`\ell_c(w; x, y) = 1 - e^{-(y-xw)^2/(2c^2)} \in [0, 1)`, for which the Amit–Meir and
Pentina–Lampert bounds hold: the empirical, task and transfer risks of a Gaussian
hyper-posterior with the Gibbs base learner are Gaussian integrals or one- and two-dimensional
quadratures (:func:`bound_task_terms`, :func:`transfer_risk`), derived here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import numpy as np

from metatheory.bounds.pac_bayes import gaussian_kl

__all__ = [
    "Instance",
    "draw_instances",
    "log_partition",
    "grid_moments",
    "gibbs_terms",
    "BoundEnvironment",
    "loss_mean",
    "population_loss",
    "draw_bound_tasks",
    "bound_task_terms",
    "transfer_risk",
    "transfer_risk_mc",
]

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


# ---------------------------------------------------------------------------------------------
# The bound check: draws of the observed tasks in a fixed one-dimensional environment, a loss
# bounded in [0, 1], and the Amit–Meir and Pentina–Lampert bounds at the PACOH hyper-posterior.


@dataclass(frozen=True)
class BoundEnvironment:
    r"""The environment of the bound check (d = 1): task weights :math:`w \sim N(\bar w,
    \tau^2)` with :math:`\bar w \sim N(0, 1)` drawn once per seed, inputs :math:`x \sim N(0,1)`,
    outputs :math:`y = xw + \sigma\varepsilon`; priors :math:`N(\mu, \sigma_P^2)`, hyper-prior
    :math:`N(\mu_0, s^2)`, PACOH's temperatures :math:`\beta = \sqrt m`, :math:`\lambda = \sqrt
    n`; the bounded loss :math:`\ell_c(w; x, y) = 1 - e^{-(y - xw)^2/(2c^2)}`."""

    n_tasks: int = 100
    m: int = 100
    tau: float = 0.5
    noise: float = 0.5
    sigma_p: float = 1.0
    s: float = 1.0
    mu0: float = 0.0
    loss_scale: float = 0.5


def loss_mean(a, v, c):
    r""":math:`E\,\ell_c` for a residual :math:`r \sim N(a, v)`:
    :math:`1 - \frac{c}{\sqrt{c^2+v}}\,e^{-a^2/(2(c^2+v))}` (a Gaussian integral)."""
    cv = c**2 + v
    return 1.0 - c / np.sqrt(cv) * np.exp(-(a**2) / (2.0 * cv))


def population_loss(mean_u, var_u, env: BoundEnvironment, n_quad: int):
    r""":math:`E_{u\sim N(\bar u, v_u)}[1 - c/\sqrt{c^2 + \sigma^2 + u^2}]`, the risk of a
    weight :math:`w = w_t - u` on task :math:`t` (over :math:`x\sim N(0,1)` and the noise,
    :math:`y - xw \sim N(0, u^2 + \sigma^2)`), by ``n_quad``-point Gauss–Hermite quadrature; the
    integrand is analytic in the strip :math:`|\mathrm{Im}\,u| < \sqrt{c^2+\sigma^2}`, so the
    error decays like :math:`e^{-O(\sqrt{n_{quad}})}`."""
    z, w = _hermite(n_quad)
    u = np.asarray(mean_u)[..., None] + np.sqrt(np.asarray(var_u))[..., None] * z
    c2 = env.loss_scale**2 + env.noise**2
    return 1.0 - (env.loss_scale / np.sqrt(c2 + u**2)) @ w


@functools.cache
def _hermite(n_quad: int):
    """Gauss–Hermite nodes and weights of N(0, 1) (weights summing to 1)."""
    z, w = np.polynomial.hermite_e.hermegauss(n_quad)
    return z, w / w.sum()


def _gibbs_1d(sxx, sxy, env: BoundEnvironment, beta: float):
    """Gibbs posterior Q(S, mu) = N(D mu + e, Sig) of one-dimensional linear regression."""
    t = beta / env.m
    sig = 1.0 / (1.0 / env.sigma_p**2 + t * sxx / env.noise**2)
    return sig, sig / env.sigma_p**2, sig * t * sxy / env.noise**2


def draw_bound_tasks(key: jax.Array, env: BoundEnvironment, wbar: float, count: int):
    """``(w, X, y)`` of shapes (count, n), (count, n, m), (count, n, m): ``count`` draws of
    ``n_tasks`` observed tasks of ``m`` samples (:class:`BoundEnvironment`)."""
    k_w, k_x, k_e = jax.random.split(key, 3)
    shape = (count, env.n_tasks, env.m)
    w = wbar + env.tau * _np(jax.random.normal(k_w, shape[:2]))
    X = _np(jax.random.normal(k_x, shape))
    y = X * w[..., None] + env.noise * _np(jax.random.normal(k_e, shape))
    return w, X, y


def bound_task_terms(w, X, y, nu, gamma, env: BoundEnvironment, beta: float, n_quad: int):
    r"""Per observed task, at the hyper-posterior :math:`N(\nu, \Gamma)` over the prior mean
    and the Gibbs base learner: the empirical risk :math:`E_\mu E_{w\sim Q_i}\hat L_i(w)` and the
    risk :math:`E_\mu E_{w\sim Q_i} L_{D_i}(w)` of the bounded loss (exact:
    :math:`w \sim N(D_i\nu + e_i, \Sigma_i + D_i^2\Gamma)`), and :math:`E_\mu KL(Q_i\|P_\mu)`
    (:func:`metatheory.bounds.pac_bayes.gaussian_kl` at the mean plus the spread
    :math:`(1-D_i)^2\Gamma/(2\sigma_P^2)` of the mean difference)."""
    sig, D, e = _gibbs_1d((X * X).sum(1), (X * y).sum(1), env, beta)
    mw, vw = D * nu + e, sig + D**2 * gamma
    emp = loss_mean(y - X * mw[:, None], X**2 * vw[:, None], env.loss_scale).mean(axis=1)
    risk = population_loss(w - mw, vw, env, n_quad)
    # one coordinate per task: gaussian_kl sums over its last axis
    kl = np.asarray(
        gaussian_kl(((D - 1.0) * nu + e)[:, None], np.sqrt(sig)[:, None], 0.0, env.sigma_p), float
    )
    kl = kl + (1.0 - D) ** 2 * gamma / (2.0 * env.sigma_p**2)
    return emp, risk, kl


def transfer_risk(nu, gamma, wbar, env: BoundEnvironment, beta: float, n_quad: int):
    r"""The transfer risk :math:`er(\mathcal Q) = E_{t, S_t} E_{\mu\sim\mathcal Q}
    E_{w\sim Q_t(S_t,\mu)} L_{D_t}(w)` of :math:`\mathcal Q = N(\nu, \Gamma)` (derived here).
    A new task's sample enters through :math:`S_{xx} = \sum x_j^2 \sim \chi^2_m` and
    :math:`S_{xy} = w_tS_{xx} + \sigma\sqrt{S_{xx}}z`; given :math:`S_{xx}`,
    :math:`u = w_t - w` is Gaussian with mean :math:`D(\bar w - \nu)` and variance
    :math:`D^2(\tau^2 + \Gamma) + \Sigma^2 t^2 S_{xx}/\sigma^2 + \Sigma`. Gauss–Hermite in
    :math:`u` (:func:`population_loss`) and generalised Gauss–Laguerre in :math:`S_{xx}/2 \sim
    \mathrm{Gamma}(m/2)`, ``n_quad`` points each."""
    from scipy.special import roots_genlaguerre

    x, wl = roots_genlaguerre(n_quad, env.m / 2.0 - 1.0)
    sxx = 2.0 * x
    sig, D, _ = _gibbs_1d(sxx, 0.0, env, beta)
    t = beta / env.m
    mean_u = D * (wbar - nu)
    var_u = D**2 * (env.tau**2 + gamma) + sig**2 * t**2 * sxx / env.noise**2 + sig
    return float(population_loss(mean_u, var_u, env, n_quad) @ (wl / wl.sum()))


def transfer_risk_mc(key, nu, gamma, wbar, env: BoundEnvironment, beta: float, n_mc: int):
    """Monte Carlo estimate of :func:`transfer_risk` and its standard error: ``n_mc`` new tasks,
    each with its sample, a prior mean, a weight from the Gibbs posterior and a test point."""
    k = jax.random.split(key, 6)
    m = env.m
    w_t = wbar + env.tau * _np(jax.random.normal(k[0], (n_mc,)))
    X = _np(jax.random.normal(k[1], (n_mc, m)))
    y = X * w_t[:, None] + env.noise * _np(jax.random.normal(k[2], (n_mc, m)))
    sig, D, e = _gibbs_1d((X * X).sum(1), (X * y).sum(1), env, beta)
    mu = nu + np.sqrt(gamma) * _np(jax.random.normal(k[3], (n_mc,)))
    w = D * mu + e + np.sqrt(sig) * _np(jax.random.normal(k[4], (n_mc,)))
    xe = _np(jax.random.normal(k[5], (2, n_mc)))
    r = xe[0] * (w_t - w) + env.noise * xe[1]
    loss = 1.0 - np.exp(-(r**2) / (2.0 * env.loss_scale**2))
    return float(loss.mean()), float(loss.std(ddof=1) / np.sqrt(n_mc))
