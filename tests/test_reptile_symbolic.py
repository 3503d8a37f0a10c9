"""Reptile's expected update (claim G4): the sympy expansion and its test value."""

import jax
import jax.numpy as jnp
import pytest
import sympy as sp

from metatheory.learners.reptile import reptile_direction
from metatheory.symbolic import fomaml as sym


def test_expected_updates_general_form():
    gen = sym.derive_general(4)
    A, B, a, k = sym.AvgGrad, sym.AvgGradInner, sym.alpha, sym.k
    assert sp.expand(gen["maml"] - (A - 2 * (k - 1) * a * B)) == 0
    assert sp.expand(gen["fomaml"] - (A - (k - 1) * a * B)) == 0
    assert sp.expand(gen["reptile"] - (k * A - k * (k - 1) / 2 * a * B)) == 0
    assert sym.expected_updates(1) == {"reptile": A}  # one step: SGD on the expected loss


def test_test_value_and_learner():
    """1-D, h = 2, theta - c = 1, alpha = 0.01, k = 5: exact 9.607920, leading order 9.6."""
    expr, h, u = sym.exact_quadratic_reptile()
    sub = {h: 2, u: 1, sym.alpha: sp.Rational(1, 100), sym.k: 5}
    assert float(expr.subs(sub)) == pytest.approx(9.607920, abs=1e-6)
    lead = sym.derive_general(3)["reptile"].subs(
        {sym.AvgGrad: 2, sym.AvgGradInner: 4, sym.alpha: sp.Rational(1, 100), sym.k: 5}
    )
    assert float(lead) == pytest.approx(9.6, abs=1e-12)
    with jax.enable_x64(True):
        loss = lambda t, x, y: 0.5 * x * (t - y) ** 2  # h/2 (theta - c)^2 with x = h, y = c
        g = reptile_direction(loss, jnp.float64(1.0), (2.0, 0.0), alpha=0.01, n_inner=5)
        assert float(g) == pytest.approx(float(expr.subs(sub)), rel=1e-12)


def test_unexpected_terms_are_refused():
    with pytest.raises(ValueError, match="k must be"):
        sym.expand_updates(0)
