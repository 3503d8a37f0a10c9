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
