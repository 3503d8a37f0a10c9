"""The sympy derivation of the product formula (G1, G2)."""

import sympy as sp

from metatheory.symbolic import maml as sm


def test_product_formula_derived_for_every_truncation():
    for n in (1, 2, 3):
        for k in range(n + 1):
            autodiff, product = sm.derive_meta_gradient(n, k)
            assert sp.simplify(autodiff - product) == 0


def test_wrong_formula_is_not_derived():
    """Control: dropping the Hessian factors is not what the chain rule gives."""
    autodiff, product = sm.derive_meta_gradient(2)
    first_order = sm.derive_meta_gradient(2, 0)[1]
    assert sp.simplify(autodiff - first_order) != 0


def test_quadratic_closed_form_matches_iteration():
    theta_n, meta_grad = sm.derive_quadratic()
    h, b, c, d = sp.symbols("h b c d", positive=True)
    N = sp.Symbol("N", integer=True, nonnegative=True)
    vals = {h: 2, b: 1, c: 1, d: 0, sm.alpha: sp.Rational(1, 10), sm.theta0: 0}
    # CLAIMS G3 test value: N = 5 gives theta_5 = 0.67232 and g_MAML = 0.2203058
    assert float(theta_n.subs(vals).subs(N, 5)) == 0.67232
    assert abs(float(meta_grad.subs(vals).subs(N, 5)) - 0.2203058) < 1e-7


def test_latex_is_the_product():
    tex = sm.latex_product_formula()
    assert r"\prod_{j=0}^{N - 1}" in tex and r"\nabla L_Q(\theta_N)" in tex
