"""The FOMAML bias bound against its sympy derivation, and the derivation itself (claim G3)."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from metatheory import fomaml_bias_bound
from metatheory.bounds import CALCULATORS
from metatheory.cli import main
from metatheory.symbolic import fomaml as sym


def test_claims_test_values():
    q = sym.derive_quadratic()
    vals = {sym.a: 2, sym.b: 1, sym.c: 1, sym.d: 0, sym.theta0: 0, sym.alpha: sp.Rational(1, 10)}
    one = {k: float(v.subs(vals).subs(sym.N, 1)) for k, v in q.items()}
    assert (one["g_fo"], one["g_maml"], one["bias"]) == pytest.approx((0.2, 0.16, -0.04))
    assert fomaml_bias_bound(0.1, 2, one["G"], 1) == pytest.approx(0.04, abs=1e-15)
    five = {k: float(v.subs(vals).subs(sym.N, 5)) for k, v in q.items()}
    assert five["theta_N"] == pytest.approx(0.67232, abs=1e-12)
    assert five["g_maml"] == pytest.approx(0.2203058, abs=1e-7)
    assert five["bias"] == pytest.approx(-0.4520142, abs=1e-7)
    assert fomaml_bias_bound(0.1, 2, five["G"], 5, psd=True) == pytest.approx(
        -five["bias"], rel=1e-13
    )
    assert CALCULATORS["fomaml-bias"] is fomaml_bias_bound


def test_derivations():
    bias, pred = sym.derive_one_step_bias()
    assert sp.simplify(bias - pred) == 0
    gen = sym.derive_general_bound()
    for n in range(1, 5):
        _, bound = sym.expand_bias_operator(n)
        assert sp.expand(bound * sym.G - gen.subs(sym.N, n)) == 0
    _, slope = sym.derive_psd_bound()
    assert slope.subs({sym.N: 3, sym.alpha: sp.Rational(1, 10), sym.mu: 2}) > 0
    q = sym.derive_quadratic()
    assert (
        sp.simplify(sp.Abs(q["bias"]) - q["bound"]).subs(
            {sym.a: 3, sym.alpha: sp.Rational(1, 7), sym.N: 4, sym.b: 1, sym.d: -2, sym.theta0: 5}
        )
        == 0
    )
    auto, closed = sym.derive_step_size_gradient()
    assert sp.simplify(auto - closed) == 0


def test_against_sympy_lambdify():
    f_gen = sp.lambdify((sym.alpha, sym.L, sym.G, sym.N), sym.derive_general_bound())
    f_psd = sp.lambdify((sym.alpha, sym.L, sym.G, sym.N), sym.derive_psd_bound()[0])
    rng = np.random.default_rng(0)
    L, G = rng.uniform(0, 50, 200), rng.uniform(0, 10, 200)
    alpha = rng.uniform(1e-4, 1, 200) / np.maximum(L, 1e-3)
    n = rng.integers(1, 20, 200)
    np.testing.assert_allclose(fomaml_bias_bound(alpha, L, G, n), f_gen(alpha, L, G, n), rtol=1e-10)
    alpha = np.minimum(alpha, 1 / np.maximum(L, 1e-3))
    np.testing.assert_allclose(
        fomaml_bias_bound(alpha, L, G, n, psd=True), f_psd(alpha, L, G, n), rtol=1e-10, atol=1e-14
    )


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.integers(1, 5), st.floats(0.01, 1.0), st.integers(0, 2**31 - 1))
def test_bound_holds_on_random_hessians(n, d, u, seed):
    """Property: ||(prod (I - a H_j) - I) g|| <= bound for ||H_j|| <= L, ||g|| = G; the PSD
    bound holds for a constant PSD H with a L <= 1, and PSD <= general."""
    rng = np.random.default_rng(seed)
    L, G = 3.0, 2.0
    alpha = u / L
    hs = []
    for _ in range(n):
        m = rng.normal(size=(d, d))
        m = m + m.T
        hs.append(L * m / np.abs(np.linalg.eigvalsh(m)).max())
    g = rng.normal(size=d)
    g *= G / np.linalg.norm(g)
    op = np.eye(d)
    for h in hs:
        op = op @ (np.eye(d) - alpha * h)
    bias = np.linalg.norm((op - np.eye(d)) @ g)
    assert bias <= fomaml_bias_bound(alpha, L, G, n) * (1 + 1e-12)
    m = rng.normal(size=(d, d))
    H = m @ m.T
    H *= L / np.linalg.eigvalsh(H).max()
    psd = np.linalg.norm((np.linalg.matrix_power(np.eye(d) - alpha * H, n) - np.eye(d)) @ g)
    assert psd <= fomaml_bias_bound(alpha, L, G, n, psd=True) * (1 + 1e-12)
    psd_bound, general = fomaml_bias_bound(alpha, L, G, n, True), fomaml_bias_bound(alpha, L, G, n)
    assert psd_bound <= general * (1 + 1e-12)  # equal at N = 1, up to rounding
    one = fomaml_bias_bound(alpha, L, G, 1)
    assert one == pytest.approx(alpha * L * G) == fomaml_bias_bound(alpha, L, G, 1, psd=True)


def test_broadcasting_and_edges():
    out = fomaml_bias_bound(np.array([0.1, 0.2]), np.array([[1.0], [2.0]]), 1.0, [1, 5])
    assert out.shape == (2, 2)
    assert fomaml_bias_bound(0.5, 2.0, 3.0, 4, psd=True) == 3.0  # alpha L = 1: (1 - 0) G
    assert fomaml_bias_bound(0.1, 0.0, 3.0, 4) == 0.0
    assert fomaml_bias_bound(0.1, 2.0, 0.0, 4) == 0.0
    assert fomaml_bias_bound(1e-12, 1.0, 1.0, 3) == pytest.approx(3e-12, rel=1e-9)
    assert fomaml_bias_bound(1.0, 1e3, 1.0, 1000) == np.inf  # overflows to inf, never NaN
    assert fomaml_bias_bound(1.0, 1e3, 0.0, 1000) == 0.0
    assert fomaml_bias_bound(0.1, 1.0, 1.0, 2, psd=1) == fomaml_bias_bound(0.1, 1.0, 1.0, 2, True)


@pytest.mark.parametrize(
    "args, kw, name",
    [
        ((0.0, 1.0, 1.0, 1), {}, "alpha"),
        ((-0.1, 1.0, 1.0, 1), {}, "alpha"),
        ((0.1, -1.0, 1.0, 1), {}, "L"),
        ((0.1, 1.0, -1.0, 1), {}, "G"),
        ((0.1, 1.0, 1.0, 0), {}, "n_steps"),
        ((0.1, 1.0, 1.0, 1.5), {}, "n_steps"),
        ((float("nan"), 1.0, 1.0, 1), {}, "alpha"),
        ((0.1, float("nan"), 1.0, 1), {}, "L"),
        ((0.1, float("inf"), 1.0, 1), {}, "L"),
        ((0.6, 2.0, 1.0, 3), {"psd": True}, "alpha \\* L"),
        ((0.1, 1.0, 1.0, 1), {"psd": "yes"}, "psd"),
    ],
)
def test_bad_input(args, kw, name):
    with pytest.raises(ValueError, match=name):
        fomaml_bias_bound(*args, **kw)


def test_cli(capsys):
    argv = [
        "bound",
        "fomaml-bias",
        "--alpha",
        "0.1",
        "--L",
        "2",
        "--G",
        "0.67232",
        "--n-steps",
        "5",
    ]
    assert main([*argv, "--psd"]) == 0
    assert "0.4520141824" in capsys.readouterr().out
    assert (
        main(
            [
                "bound",
                "fomaml-bias",
                "--alpha",
                "0.6",
                "--L",
                "2",
                "--G",
                "1",
                "--n-steps",
                "3",
                "--psd",
            ]
        )
        == 2
    )


def test_nichol_expected_updates_against_sympy():
    """The calculator's coefficients are the sympy derivation's (k = 1..5)."""
    from metatheory.bounds.fomaml import nichol_expected_updates

    gen = sym.derive_general(4)
    g, gi = np.array([0.7, -1.3]), np.array([2.1, 0.4])
    for k in range(1, 6):
        out = nichol_expected_updates(g, gi, 0.03, k)
        for name, got in zip(("maml", "fomaml", "reptile"), out, strict=True):
            expr = gen[name].subs({sym.k: k, sym.alpha: sp.Rational(3, 100)})
            f = sp.lambdify((sym.AvgGrad, sym.AvgGradInner), expr)
            if k > 1 or name == "reptile":
                np.testing.assert_allclose(got, f(g, gi), rtol=1e-14)
    with pytest.raises(ValueError, match="k"):
        nichol_expected_updates(g, gi, 0.1, 0)


def test_meta_sgd_alpha_gradient_against_autodiff():
    import jax
    import jax.numpy as jnp

    from metatheory.bounds.fomaml import meta_sgd_alpha_gradient

    rng = np.random.default_rng(3)
    d = 4
    m = rng.normal(size=(d, d))
    h_s, h_q = m @ m.T / d, np.eye(d)
    b_s, b_q, t0 = rng.normal(size=d), rng.normal(size=d), rng.normal(size=d)

    def meta(a, n):
        th = jnp.asarray(t0)
        for _ in range(n):
            th = th - a * (h_s @ th - b_s)
        return 0.5 * th @ (h_q @ th) - b_q @ th

    with jax.enable_x64(True):
        for n in (1, 3):
            for a in (0.1, np.linspace(0.05, 0.2, d)):
                auto = np.asarray(jax.grad(meta)(jnp.asarray(a, jnp.float64), n))
                got = meta_sgd_alpha_gradient(t0, h_s, b_s, h_q, b_q, a, n)
                np.testing.assert_allclose(got, auto, rtol=1e-11)
