r"""The PAC-optimal hyper-posterior of Bayesian linear regression, derived (claim P6).

Source of the object: Rothfuss, Fortuin, Josifoski & Krause (2021, ICML), the PAC-optimal
hyper-posterior :math:`\mathcal Q^*(P) \propto \mathcal P(P)\exp(\kappa\sum_i\ln Z_\beta(S_i,
P))`, :math:`\kappa = \lambda/(n\beta+\lambda)`, in the form restated by Ding et al. (2021,
NeurIPS, Theorem 2). Everything below is derived here.

One input dimension, one task with sufficient statistics :math:`S_{xx} = \sum x_j^2`,
:math:`S_{xy} = \sum x_j y_j`, :math:`S_{yy} = \sum y_j^2`; prior :math:`N(\mu, \sigma_P^2)`;
Gibbs exponent :math:`-\beta\hat L = -t(S_{yy} - 2wS_{xy} + w^2S_{xx})/(2\sigma^2) -
(\beta/2)\ln 2\pi\sigma^2` with :math:`t = \beta/m`. Integrating over :math:`w` by
completing the square (:func:`derive_log_partition`) gives a quadratic in :math:`\mu` whose
curvature and slope are (:func:`derive_task_terms`)

.. math:: a = -\partial_\mu^2 \ln Z_\beta = \frac{tS_{xx}}{\sigma^2 + t\sigma_P^2S_{xx}}, \qquad
          b = \partial_\mu\ln Z_\beta\big|_{\mu=0} = \frac{tS_{xy}}{\sigma^2+t\sigma_P^2S_{xx}},

i.e. :math:`x^\top C^{-1}x` and :math:`x^\top C^{-1}y` with :math:`C = (\sigma^2/t)I +
\sigma_P^2xx^\top` (Sherman–Morrison). With the hyper-prior :math:`N(\mu_0, s^2)` the
hyper-posterior is Gaussian with precision :math:`1/s^2 + \kappa\sum_i a_i` and mean
:math:`(\mu_0/s^2 + \kappa\sum_ib_i)/(1/s^2+\kappa\sum_ia_i)` (:func:`derive_hyper_posterior`,
completing the square for two tasks); the d-dimensional form in
:mod:`metatheory.bounds.pacoh` replaces :math:`a_i, b_i` by :math:`X_i^\top C_i^{-1}X_i` and
:math:`X_i^\top C_i^{-1}y_i`.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "mu",
    "mu0",
    "s",
    "sigma_p",
    "sigma",
    "t",
    "kappa",
    "log_gaussian_integral",
    "derive_log_partition",
    "derive_task_terms",
    "derive_hyper_posterior",
]

mu, w = sp.symbols("mu w", real=True)
mu0 = sp.Symbol("mu0", real=True)
s, sigma_p, sigma, t, kappa = sp.symbols("s sigma_P sigma t kappa", positive=True)
m = sp.Symbol("m", positive=True, integer=True)
Sxx = sp.Symbol("S_xx", positive=True)
Sxy, Syy = sp.symbols("S_xy S_yy", real=True)


def log_gaussian_integral(exponent, var):
    r""":math:`\ln\int_{\mathbb R} e^{q(x)}dx = \tfrac12\ln(\pi/A) + B^2/(4A) + C` for
    :math:`q = -Ax^2 + Bx + C`, :math:`A > 0` (completing the square; the formula itself is
    checked by sympy's ``integrate`` at :math:`A = 1, B = C = 0` in the unit tests)."""
    poly = sp.Poly(sp.expand(exponent), var)
    a = -poly.coeff_monomial(var**2)
    b = poly.coeff_monomial(var)
    c = poly.coeff_monomial(1)
    return sp.log(sp.pi / a) / 2 + b**2 / (4 * a) + c


def derive_log_partition(Sxx=Sxx, Sxy=Sxy, Syy=Syy):
    r""":math:`\ln Z_\beta(S, \mu) = \ln\int N(w;\mu,\sigma_P^2)\,e^{-\beta\hat L(w,S)}\,dw`
    for one task (1-D), by completing the square in :math:`w`."""
    beta = t * m
    exponent = -((w - mu) ** 2) / (2 * sigma_p**2) - t * (Syy - 2 * w * Sxy + w**2 * Sxx) / (
        2 * sigma**2
    )
    log_prior_norm = -sp.log(2 * sp.pi * sigma_p**2) / 2
    log_lik_norm = -beta / 2 * sp.log(2 * sp.pi * sigma**2)
    return log_gaussian_integral(exponent, w) + log_prior_norm + log_lik_norm


def derive_task_terms():
    """``(a, b)``: the curvature and slope of ln Z in mu (module docstring), simplified, and
    whether they equal the Sherman–Morrison forms."""
    lz = derive_log_partition()
    a = sp.cancel(-sp.diff(lz, mu, 2))
    b = sp.cancel(sp.diff(lz, mu).subs(mu, 0))
    den = sigma**2 + t * sigma_p**2 * Sxx
    ok = sp.cancel(a - t * Sxx / den) == 0 and sp.cancel(b - t * Sxy / den) == 0
    assert sp.cancel(sp.diff(lz, mu, 3)) == 0, "ln Z must be quadratic in mu"
    return a, b, bool(ok)


def derive_hyper_posterior():
    """``(mean, var, symbols)`` of the hyper-posterior for two tasks in one dimension, by
    completing the square in mu of ln N(mu; mu0, s^2) + kappa (ln Z_1 + ln Z_2)."""
    s1 = sp.symbols("S_xx1 S_xy1 S_yy1", real=True)
    s2 = sp.symbols("S_xx2 S_xy2 S_yy2", real=True)
    sxx1 = sp.Symbol("S_xx1", positive=True)
    sxx2 = sp.Symbol("S_xx2", positive=True)
    lz1 = derive_log_partition(sxx1, s1[1], s1[2])
    lz2 = derive_log_partition(sxx2, s2[1], s2[2])
    logq = -((mu - mu0) ** 2) / (2 * s**2) + kappa * (lz1 + lz2)
    prec = sp.cancel(-sp.diff(logq, mu, 2))
    mean = sp.cancel(sp.solve(sp.diff(logq, mu), mu)[0])
    return mean, sp.cancel(1 / prec), (mu0, s, sigma_p, sigma, t, kappa, sxx1, s1[1], sxx2, s2[1])
