"""Grant et al.'s implicit-prior calculators against their sympy derivation (claim H1)."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from metatheory import grant_prior_covariance, grant_prior_precision
from metatheory.bounds import CALCULATORS
from metatheory.cli import main
from metatheory.symbolic import grant as sym

H_TEST = np.array([[3.7, -0.9], [-0.9, 1.3]])


def _lam():
    return sp.lambdify((sym.h, sym.alpha, sym.N), sym.derive_precision())


def test_claims_test_values():
    lam = grant_prior_precision(2.0, 0.01, 5)
    assert lam == pytest.approx(18.816159, abs=1e-6)
    gd = 1 - (1 - 0.02) ** 5  # theta_5 from theta_0 = 0 towards theta_hat = 1
    assert gd == pytest.approx(0.0960792, abs=1e-7)
    assert 2.0 / (2.0 + lam) == pytest.approx(gd, abs=1e-13)  # the MAP under N(0, 1/lambda)
    assert 1 / (0.01 * 5) == 20  # the limit 1/(alpha N)
    Q = grant_prior_covariance(H_TEST, 0.1, 3)
    phi = np.array([1.0, -1.0])
    t = np.zeros(2)
    for _ in range(3):
        t = t - 0.1 * H_TEST @ (t - phi)
    map_ = np.linalg.solve(H_TEST + np.linalg.inv(Q), H_TEST @ phi)
    np.testing.assert_allclose(t, [0.8866, -0.4762], atol=1e-4)
    np.testing.assert_allclose(map_, t, atol=1e-13)
    assert CALCULATORS["grant-precision"] is grant_prior_precision
    assert "grant_prior_covariance" not in {f.__name__ for f in CALCULATORS.values()}


def test_precision_against_sympy_lambdify():
    f = _lam()
    rng = np.random.default_rng(0)
    h = np.exp(rng.uniform(-3, 3, 200))
    alpha = rng.uniform(1e-3, 0.999, 200) / h
    n = rng.integers(1, 60, 200)
    np.testing.assert_allclose(grant_prior_precision(h, alpha, n), f(h, alpha, n), rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(1e-2, 1e2),
    st.floats(1e-6, 0.999),
    st.integers(1, 200),
    st.floats(-5, 5),
    st.floats(-5, 5),
)
@example(1.0, 0.999, 108, 1.0, -1.0)  # (1 - alpha h)^N = 1e-324: lambda underflows to 0.0
def test_gd_iterate_equals_map(h, u, n, theta_hat, theta0):
    """Property: N GD steps land on the MAP under N(theta0, 1/lambda).

    The MAP puts weight lambda / (h + lambda) on theta0 and GD puts (1 - alpha h)^N there;
    both underflow to 0 together (alpha h near 1, large N: lambda = 0.0 in float64), so the
    identity is checked on the weights, with an absolute floor at the underflow scale."""
    alpha = u / h
    lam = grant_prior_precision(h, alpha, n)
    assert lam >= 0 and np.isfinite(lam)
    r_n = np.exp(n * np.log1p(-alpha * h))
    assert lam / (h + lam) == pytest.approx(r_n, rel=1e-9, abs=1e-280)
    gd = theta_hat + (1 - alpha * h) ** n * (theta0 - theta_hat)
    assert (h * theta_hat + lam * theta0) / (h + lam) == pytest.approx(gd, rel=1e-9, abs=1e-12)


def test_series_against_sympy():
    c = sym.series_coefficients(3)
    assert sp.simplify(c[-1] - 1 / sym.N) == 0
    assert sp.simplify(c[0] + (sym.N + 1) * sym.h / (2 * sym.N)) == 0
    h, n = 2.0, 5
    vals = {k: float(v.subs({sym.h: h, sym.N: n})) for k, v in c.items()}
    for a in (1e-3, 1e-4):
        lam = grant_prior_precision(h, a, n)
        two = vals[-1] / a + vals[0]
        assert lam - two == pytest.approx(vals[1] * a, rel=5 * h * a)


def test_covariance_against_sympy_and_scalar():
    _, q = sym.derive_covariance(2)
    ell = sp.Symbol("ell", positive=True)
    fq = sp.lambdify((ell, sym.alpha, sym.N), q)
    rng = np.random.default_rng(1)
    for d in (1, 3, 6):
        O = np.linalg.qr(rng.normal(size=(d, d)))[0]
        ev = np.exp(rng.uniform(-2, 2, d))
        H = (O * ev) @ O.T
        a, n = 0.7 / ev.max(), 4
        expected = (O * fq(ev, a, n)) @ O.T
        np.testing.assert_allclose(
            grant_prior_covariance(H, a, n), expected, rtol=1e-10, atol=1e-12
        )
    assert grant_prior_covariance([[2.0]], 0.01, 5)[0, 0] == pytest.approx(
        1 / grant_prior_precision(2.0, 0.01, 5), rel=1e-12
    )


def test_broadcasting_and_stacks():
    out = grant_prior_precision(np.array([1.0, 2.0])[:, None], [0.01, 0.02, 0.1], 3)
    assert out.shape == (2, 3)
    stack = np.stack([H_TEST, 2 * np.eye(2)])
    Q = grant_prior_covariance(stack, 0.1, 3)
    np.testing.assert_allclose(Q[0], grant_prior_covariance(H_TEST, 0.1, 3))
    assert isinstance(grant_prior_precision(2.0, 0.01, 5), float | np.floating)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(h=2.0, alpha=0.5, n_steps=3), "alpha \\* h"),
        (dict(h=2.0, alpha=0.6, n_steps=3), "alpha \\* h"),
        (dict(h=-1.0, alpha=0.01, n_steps=3), "h"),
        (dict(h=0.0, alpha=0.01, n_steps=3), "h"),
        (dict(h=2.0, alpha=0.0, n_steps=3), "alpha"),
        (dict(h=2.0, alpha=-0.1, n_steps=3), "alpha"),
        (dict(h=2.0, alpha=0.01, n_steps=0), "n_steps"),
        (dict(h=2.0, alpha=0.01, n_steps=2.5), "n_steps"),
        (dict(h=float("nan"), alpha=0.01, n_steps=3), "h"),
        (dict(h=2.0, alpha=float("nan"), n_steps=3), "alpha"),
        (dict(h=float("inf"), alpha=0.01, n_steps=3), "h"),
        (dict(h=[1.0, 2.0], alpha=[0.1, 0.6], n_steps=3), "alpha \\* h"),
    ],
)
def test_precision_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        grant_prior_precision(**kwargs)


@pytest.mark.parametrize(
    "H, alpha, n, name",
    [
        ([[1.0, 2.0], [0.0, 1.0]], 0.1, 3, "symmetric"),
        ([[1.0, 0.0], [0.0, -1.0]], 0.1, 3, "eigenvalues"),
        ([[0.0, 0.0], [0.0, 1.0]], 0.1, 3, "eigenvalues"),
        (H_TEST, 0.3, 3, "alpha \\* eigenvalues"),
        (H_TEST, 0.1, 0, "n_steps"),
        ([1.0, 2.0], 0.1, 3, "square"),
        ([[float("nan")]], 0.1, 3, "H"),
    ],
)
def test_covariance_bad_input(H, alpha, n, name):
    with pytest.raises(ValueError, match=name):
        grant_prior_covariance(H, alpha, n)


def test_cli(capsys):
    assert main(["bound", "grant-precision", "--h", "2", "--alpha", "0.01", "--n-steps", "5"]) == 0
    assert "18.81615930" in capsys.readouterr().out
    assert main(["bound", "grant-precision", "--h", "2", "--alpha", "0.6", "--n-steps", "5"]) == 2
    assert "alpha * h" in capsys.readouterr().err
