"""PACOH calculators: the closed-form hyper-posterior against sympy and its limits, the bound's
data-dependent part, bad input (ValueError naming the argument; NaN when traced), jit and grad."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from metatheory import bounds
from metatheory.bounds.pacoh import pacoh_bound, pacoh_exponent, pacoh_hyper_posterior
from metatheory.experiments.pacoh import _common
from metatheory.symbolic import pacoh as sym

RNG = np.random.default_rng(7)
X1 = RNG.normal(size=(2, 5, 1))
Y1 = RNG.normal(size=(2, 5))
X2 = RNG.normal(size=(3, 4, 2))
Y2 = RNG.normal(size=(3, 4))
KW = dict(mu0=0.3, s=1.5, sigma_p=0.8, noise=0.6, beta=4.0, lam=2.0)


def test_exponent_value():
    assert pacoh_exponent(4, 10.0, 2.0) == pytest.approx(2.0 / 42.0, rel=1e-15)


def test_log_gaussian_integral_against_quadrature():
    x = sp.Symbol("x", real=True)
    expr = sym.log_gaussian_integral(-2 * x**2 + x + sp.Rational(1, 2), x)
    ref = np.log(quad(lambda t: np.exp(-2 * t * t + t + 0.5), -np.inf, np.inf)[0])
    assert float(expr) == pytest.approx(ref, rel=1e-12)
    assert sp.simplify(sp.integrate(sp.exp(-(x**2)), (x, -sp.oo, sp.oo))) == sp.sqrt(sp.pi)


def test_two_task_closed_form_matches_sympy():
    mean, var, syms = sym.derive_hyper_posterior()
    mu0, s, sigma_p, sigma, t, kappa, sxx1, sxy1, sxx2, sxy2 = syms
    f = sp.lambdify(syms, (mean, var))
    m = X1.shape[1]
    tt = KW["beta"] / m
    k = pacoh_exponent(2, KW["beta"], KW["lam"])
    sxx, sxy = (X1[..., 0] ** 2).sum(1), (X1[..., 0] * Y1).sum(1)
    want = f(KW["mu0"], KW["s"], KW["sigma_p"], KW["noise"], tt, k, sxx[0], sxy[0], sxx[1], sxy[1])
    got_mean, got_cov = pacoh_hyper_posterior(X1, Y1, **KW)
    assert got_mean[0] == pytest.approx(want[0], rel=1e-12)
    assert got_cov[0, 0] == pytest.approx(want[1], rel=1e-12)


def test_tiny_lambda_returns_the_hyper_prior():
    mean, cov = pacoh_hyper_posterior(X2, Y2, **{**KW, "lam": 1e-12})
    np.testing.assert_allclose(mean, [KW["mu0"]] * 2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cov, KW["s"] ** 2 * np.eye(2), rtol=0, atol=1e-10)


def test_more_tasks_shrink_the_covariance():
    """Each task adds a positive semidefinite term to the precision."""
    _, c_few = pacoh_hyper_posterior(X2[:2], Y2[:2], **KW)
    _, c_all = pacoh_hyper_posterior(X2, Y2, **KW)
    assert np.all(np.linalg.eigvalsh(c_few - c_all) >= -1e-14)


def test_grad_of_mean_in_mu0_is_cov_over_s2():
    """d nu / d mu0 = Gamma / s^2 (the mean is linear in mu0 with that slope)."""
    with jax.enable_x64(True):
        mean_of = lambda m0: pacoh_hyper_posterior(  # noqa: E731
            jnp.asarray(X2), jnp.asarray(Y2), **{**KW, "mu0": m0}
        )[0]
        jac = jax.jacobian(mean_of)(jnp.array([0.1, -0.2]))
        _, cov = pacoh_hyper_posterior(X2, Y2, **KW)
        np.testing.assert_allclose(np.asarray(jac), cov / KW["s"] ** 2, rtol=1e-12)


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"s": 0.0}, "s"),
        ({"sigma_p": -1.0}, "sigma_p"),
        ({"noise": float("nan")}, "noise"),
        ({"beta": 0.0}, "beta"),
        ({"lam": -2.0}, "lam"),
        ({"mu0": [0.0, 1.0, 2.0]}, "mu0"),
    ],
)
def test_bad_input_names_the_argument(change, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        pacoh_hyper_posterior(X2, Y2, **{**KW, **change})


def test_bad_arrays():
    with pytest.raises(ValueError, match="^X must have 3 dimensions"):
        pacoh_hyper_posterior(X2[0], Y2, **KW)
    with pytest.raises(ValueError, match="^y must have shape"):
        pacoh_hyper_posterior(X2, Y2[:, :2], **KW)
    bad = X2.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="^X must be"):
        pacoh_hyper_posterior(bad, Y2, **KW)


def test_traced_invalid_input_gives_nan():
    f = jax.jit(lambda s: pacoh_hyper_posterior(X2, Y2, **{**KW, "s": s}))
    mean, cov = f(-1.0)
    assert np.all(np.isnan(mean)) and np.all(np.isnan(cov))
    mean, cov = f(1.5)
    np.testing.assert_allclose(mean, pacoh_hyper_posterior(X2, Y2, **KW)[0], rtol=1e-5)
    b = jax.jit(pacoh_bound)(0.5, 4, -1.0, 2.0, 1.0, 1.0)
    assert np.isnan(b)


def test_bound_value_and_validation():
    assert pacoh_bound(0.5, 4, 10.0, 2.0, 3.0, 1.0) == pytest.approx(
        0.5 + (1 / 2 + 1 / 40) * 3.0 + 1.0 / 10, rel=1e-15
    )
    with pytest.raises(ValueError, match="^kl_hyper must"):
        pacoh_bound(0.5, 4, 10.0, 2.0, -3.0, 1.0)
    with pytest.raises(ValueError, match="^n_tasks must"):
        pacoh_bound(0.5, 0, 10.0, 2.0, 3.0, 1.0)
    assert bounds.CALCULATORS["pacoh-bound"] is pacoh_bound


# The bound check's exact risks (experiments/pacoh/_common.py), each against an independent
# computation: adaptive quadrature of the defining integral, or the d-general closed forms.

ENV = _common.BoundEnvironment(n_tasks=3, m=5, tau=0.7, noise=0.4, sigma_p=0.9, s=1.3, mu0=0.2)


def test_loss_mean_is_the_gaussian_integral():
    c, a, v = 0.5, 0.3, 0.2
    pdf = lambda r: np.exp(-((r - a) ** 2) / (2 * v)) / np.sqrt(2 * np.pi * v)  # noqa: E731
    ref = quad(lambda r: (1 - np.exp(-(r**2) / (2 * c**2))) * pdf(r), -np.inf, np.inf)[0]
    assert _common.loss_mean(a, v, c) == pytest.approx(ref, rel=1e-10)


def test_population_loss_against_the_loss_integrated_over_x_and_u():
    """Risk of w = w_t - u, u ~ N(0.4, 0.3): the loss integrated over the test input (adaptive
    quadrature), the noise (the Gaussian integral :func:`loss_mean`, checked above) and u."""
    c, sig = ENV.loss_scale, ENV.noise
    mu_u, v_u = 0.4, 0.3
    n01 = lambda z: np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)  # noqa: E731

    def given_u(u):  # E over x of E over the noise: residual x u + sig eps given x
        f = lambda x: _common.loss_mean(x * u, sig**2, c) * n01(x)  # noqa: E731
        return quad(f, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)[0]

    g = lambda z: given_u(mu_u + np.sqrt(v_u) * z) * n01(z)  # noqa: E731
    ref = quad(g, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)[0]
    assert float(_common.population_loss(mu_u, v_u, ENV, 200)) == pytest.approx(ref, rel=1e-11)
    # Gauss–Hermite converges like exp(-O(sqrt(n))): 60 points err ~1e-8 at v_u = 0.3
    assert abs(float(_common.population_loss(mu_u, v_u, ENV, 60)) - ref) < 1e-7


def test_transfer_risk_against_quadrature_over_the_sample():
    """The exact transfer risk against adaptive quadrature over S_xx ~ chi2_m (scipy's density)
    and u; and its Monte Carlo estimate within 4 standard errors."""
    from scipy.stats import chi2

    nu, gamma, wbar, beta = 0.3, 0.05, -0.4, np.sqrt(ENV.m)
    t = beta / ENV.m

    def given_sxx(sxx):
        sig = 1 / (1 / ENV.sigma_p**2 + t * sxx / ENV.noise**2)
        D = sig / ENV.sigma_p**2
        var = D**2 * (ENV.tau**2 + gamma) + sig**2 * t**2 * sxx / ENV.noise**2 + sig
        return float(_common.population_loss(D * (wbar - nu), var, ENV, 240))

    f = lambda q: given_sxx(q) * chi2.pdf(q, ENV.m)  # noqa: E731
    ref = quad(f, 0, np.inf, epsabs=1e-14, epsrel=1e-13)[0]
    got = _common.transfer_risk(nu, gamma, wbar, ENV, beta, 200)
    assert got == pytest.approx(ref, rel=1e-9)
    mc, se = _common.transfer_risk_mc(jax.random.PRNGKey(3), nu, gamma, wbar, ENV, beta, 200_000)
    assert abs(mc - got) <= 4 * se


def test_bound_task_terms_agree_with_the_d_general_closed_forms():
    """Per-task KLs average to the task KL of the d-general ``gibbs_terms``; the empirical
    bounded risk against Monte Carlo over the posterior weights; the task risk lies in [0, 1]."""
    key = jax.random.PRNGKey(0)
    w, X, y = (a[0] for a in _common.draw_bound_tasks(key, ENV, 0.5, 1))
    nu, gamma, beta = 0.4, 0.07, np.sqrt(ENV.m)
    emp, risk, kl = _common.bound_task_terms(w, X, y, nu, gamma, ENV, beta, 60)
    inst = _common.Instance(X[..., None], y, np.array([ENV.mu0]), ENV.s, ENV.sigma_p,
                            ENV.noise, beta, 1.0)  # fmt: skip
    _, _, klt = _common.gibbs_terms(inst, np.array([nu]), np.array([[gamma]]))
    assert kl.mean() == pytest.approx(klt, rel=1e-12)
    rng = np.random.default_rng(1)
    t = beta / ENV.m
    sig = 1 / (1 / ENV.sigma_p**2 + t * (X * X).sum(1) / ENV.noise**2)
    mu = nu + np.sqrt(gamma) * rng.normal(size=(400_000, 1))
    ws = sig * (mu / ENV.sigma_p**2 + t * (X * y).sum(1) / ENV.noise**2)
    ws = ws + np.sqrt(sig) * rng.normal(size=ws.shape)
    loss = 1 - np.exp(-((y[None] - X[None] * ws[..., None]) ** 2) / (2 * ENV.loss_scale**2))
    per = loss.mean(axis=2)
    se = per.std(axis=0) / np.sqrt(per.shape[0])
    assert np.all(np.abs(per.mean(axis=0) - emp) <= 4.5 * se)
    assert np.all((risk > 0) & (risk < 1)) and np.all(emp < 1)
