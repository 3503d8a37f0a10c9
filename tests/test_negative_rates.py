"""Negative-rates closed forms: Wick's theorem against known Wishart moments, the calculators
against sympy, the slope at alpha_t = 0, bad input (ValueError naming the argument; NaN when
traced)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import sympy as sp

from metatheory import bounds
from metatheory.bounds.negative_rates import (
    adaptation_factor,
    adapted_test_loss,
    maml_gradient_noise,
    maml_test_loss,
)
from metatheory.symbolic import negative_rates as sym

n, p = sym.n, sym.p
X = sym.Gauss("X", n, p)


def test_wick_reproduces_wishart_moments():
    """E tr W^k for W = XᵀX ~ Wishart_p(n, I), k = 1..4 (known closed forms; the k = 4 one
    reduces to the chi-square moment n(n+2)(n+4)(n+6) at p = 1)."""
    w = [X.T, X]
    assert sp.expand(sym.wick_trace(w) - n * p) == 0
    assert sp.expand(sym.wick_trace(w * 2) - n * p * (n + p + 1)) == 0
    k3 = n * p * (n**2 + p**2 + 3 * n * p + 3 * n + 3 * p + 4)
    assert sp.expand(sym.wick_trace(w * 3) - k3) == 0
    k4 = sym.wick_trace(w * 4)
    assert sp.expand(k4.subs(p, 1) - n * (n + 2) * (n + 4) * (n + 6)) == 0
    assert sp.expand(k4 - k4.subs({n: p, p: n}, simultaneous=True)) == 0  # tr(XᵀX)^k = tr(XXᵀ)^k
    U, V = sym.Gauss("U", p, 1), sym.Gauss("V", p, 1)
    assert sp.expand(sym.wick_trace([U.T, X.T, X, U]) - n * p) == 0  # E uᵀXᵀXu
    assert sym.wick_trace([U.T, X.T, X, V]) == 0  # independent zero-mean factors


def test_wick_rejects_unchained_words():
    with pytest.raises(ValueError, match="do not chain"):
        sym.wick_trace([X, X])


def test_adaptation_factor_derivation():
    g = sym.derive_adaptation_factor()
    assert sp.simplify(g - (1 - 2 * sym.alpha + sym.alpha**2 * (n + p + 1) / n)) == 0


@pytest.fixture(scope="module")
def lambdified():
    loss, V, _ = sym.derive_meta_test_loss()
    args = (
        sym.alpha_t,
        sym.alpha_r,
        sym.n_t,
        sym.n_v,
        sym.n_r,
        sym.p,
        sym.m,
        sym.nu,
        sym.sigma,
    )
    return (
        sp.lambdify(args, loss, "numpy"),
        sp.lambdify((sym.alpha_t, sym.n_t, sym.n_v, sym.p, sym.nu, sym.sigma), V, "numpy"),
    )


def test_calculators_match_sympy(lambdified):
    f_loss, f_v = lambdified
    rng = np.random.default_rng(3)
    for _ in range(50):
        at, ar = rng.uniform(-2, 2, 2)
        nt, nv, nr, pp, m = rng.integers(1, 30, 5)
        nu, s = rng.uniform(0, 2, 2)
        assert maml_gradient_noise(at, nt, nv, pp, nu, s) == pytest.approx(
            f_v(at, nt, nv, pp, nu, s), rel=1e-12
        )
        assert maml_test_loss(at, ar, nt, nv, nr, pp, m, nu, s) == pytest.approx(
            f_loss(at, ar, nt, nv, nr, pp, m, nu, s), rel=1e-12
        )


def test_slope_at_zero_is_positive():
    """d(V/g²)/dα_t at 0 = 2pσ²/n_v (sympy), so a small negative rate lowers the loss."""
    h = 1e-5
    for nt, nv, pp, nu, s in [(4, 2, 8, 0.5, 1.0), (30, 2, 60, 0.5, 1.0), (8, 4, 4, 1.0, 0.3)]:
        a = np.array([h, -h])
        r = maml_gradient_noise(a, nt, nv, pp, nu, s) / adaptation_factor(a, nt, pp) ** 2
        slope = (r[0] - r[1]) / (2 * h)
        assert slope == pytest.approx(2 * pp * s * s / nv, rel=1e-6)


def test_no_validation_noise_gives_zero_optimum():
    grid = np.linspace(-1, 1, 20001)
    loss = maml_test_loss(grid, 0.3, 8, 1e12, 4, 8, 50, 1.0, 1.0)
    assert abs(grid[np.argmin(loss)]) <= 1e-4


def test_adaptation_factor_is_positive():
    a = np.linspace(-10, 10, 1001)
    assert np.all(adaptation_factor(a, 3, 7) > 0)
    assert adapted_test_loss(0.0, 5, 3, 0.5, 1.0, 2.0) == pytest.approx(0.5 * (2.25 + 1.0))


@pytest.mark.parametrize(
    ("fn", "args", "name"),
    [
        (adaptation_factor, (0.1, 0, 3), "n"),
        (adaptation_factor, (np.nan, 4, 3), "alpha"),
        (adapted_test_loss, (0.1, 4, 3, -1.0, 1.0), "nu"),
        (maml_gradient_noise, (0.1, 4, 2, 3, 1.0, -0.5), "sigma"),
        (maml_test_loss, (0.1, 0.2, 4, 0.5, 4, 3, 10, 1.0, 1.0), "n_v"),
    ],
)
def test_bad_input_names_the_argument(fn, args, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        fn(*args)


def test_traced_invalid_input_gives_nan_and_jit_agrees():
    f = jax.jit(lambda m: maml_test_loss(-0.2, 0.2, 4, 2, 4, 8, m, 0.5, 1.0))
    assert np.isnan(f(0.0))
    assert float(f(50.0)) == pytest.approx(
        maml_test_loss(-0.2, 0.2, 4, 2, 4, 8, 50, 0.5, 1.0), rel=1e-6
    )
    assert bounds.CALCULATORS["maml-test-loss"] is maml_test_loss


def test_meta_train_reaches_the_least_squares_minimiser():
    """Gradient descent on the meta-objective (the learner's meta-gradient) ends at the
    minimiser of the one-step MAML objective, written here as a least-squares problem in θ:
    the validation residual y^v − X^v[(I − αXᵀX/n_t)θ + αXᵀy/n_t] is affine in θ. Same draws
    as the experiment's (the key split of ``meta_train``)."""
    from metatheory.experiments.negative_rates import _common

    p, n_t, n_v, m, reps, nu, sigma = 3, 4, 2, 5, 2, 0.7, 0.5
    alphas = np.array([-0.3, 0.2])
    key = jax.random.PRNGKey(4)
    d2, grad_rel = _common.meta_train(
        key, alphas, nu, sigma, p=p, n_t=n_t, n_v=n_v, m=m, n_reps=reps, n_steps=300
    )
    k = jax.random.split(key, 5)
    u = np.asarray(nu / np.sqrt(p) * jax.random.normal(k[0], (reps, m, p)), float)
    X = np.asarray(jax.random.normal(k[1], (reps, m, n_t, p)), float)
    Xv = np.asarray(jax.random.normal(k[2], (reps, m, n_v, p)), float)
    y = np.einsum("rmnp,rmp->rmn", X, u) + sigma * np.asarray(
        jax.random.normal(k[3], (reps, m, n_t)), float
    )
    yv = np.einsum("rmnp,rmp->rmn", Xv, u) + sigma * np.asarray(
        jax.random.normal(k[4], (reps, m, n_v)), float
    )
    for r in range(reps):
        for j, a in enumerate(alphas):
            A = np.concatenate([Xv[r, i] @ (np.eye(p) - a * X[r, i].T @ X[r, i] / n_t)
                                for i in range(m)])  # fmt: skip
            b = np.concatenate([yv[r, i] - a * Xv[r, i] @ X[r, i].T @ y[r, i] / n_t
                                for i in range(m)])  # fmt: skip
            theta = np.linalg.lstsq(A, b, rcond=None)[0]
            assert float(d2[r, j]) == pytest.approx(theta @ theta, rel=1e-4)  # float32 training
    assert np.max(grad_rel) < 1e-4
