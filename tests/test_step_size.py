"""C6 calculators and derivation: the inner step c/(NL), the limit L_∞ of the N-step
smoothness constant, checked against mpmath, finite differences and the sympy derivation."""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import sympy as sp

from metatheory import bounds
from metatheory.symbolic import step_size as sym


def _limit_mp(c, L, rho, G):
    c, L, rho, G = (mpmath.mpf(x) for x in (c, L, rho, G))
    return mpmath.e ** (2 * c) * L + rho * G / L * mpmath.e**c * (mpmath.e**c - 1)


@pytest.mark.parametrize(
    "args", [(0.5, 1.0, 0.0, 1.0), (0.5, 1.0, 1.0, 1.0), (0.01, 3.0, 2.0, 0.5), (2.5, 0.2, 5, 4)]
)
def test_limit_matches_mpmath(args):
    got = bounds.maml_smoothness_limit(*args)
    assert abs(got - float(_limit_mp(*args))) <= 1e-14 * float(_limit_mp(*args))


def test_limit_example_is_e():
    assert bounds.maml_smoothness_limit(0.5, 1, 0, 1) == pytest.approx(np.e, rel=1e-15)
    assert bounds.inverse_n_step_size(0.5, 2.0, 4) == 0.0625


def test_smoothness_increases_to_the_limit_at_the_derived_rate():
    """L_N(c/(NL)) increases with N, stays below L_∞, and N(L_∞ − L_N) → a1 (derived)."""
    c, L, rho, G = 0.7, 1.3, 0.9, 2.0
    ns = np.array([1, 2, 4, 8, 16, 64, 256, 1024, 4096])
    ln = bounds.maml_smoothness(L, rho, bounds.inverse_n_step_size(c, L, ns), G, ns)
    lim = bounds.maml_smoothness_limit(c, L, rho, G)
    assert np.all(np.diff(ln) > 0) and np.all(ln < lim)
    a1 = float(sym.derive_limit()["a1"].subs({sym.c: c, sym.L: L, sym.rho: rho, sym.G: G}))
    gaps = ns[-3:] * (lim - ln[-3:])
    # the next order is O(1/N): the relative distance to a1 shrinks ~4x per 4x in N
    dist = np.abs(gaps - a1) / a1
    assert dist[-1] < 1e-3 and dist[-1] < dist[0] / 10


def test_derivation():
    d = sym.derive_limit()
    assert d["difference"] == 0
    g = sym.derive_fixed_step_growth()
    assert sp.simplify(g["ratio"] - (1 + sym.c) ** 2) == 0
    m = sym.derive_monotone()
    assert m["head_identity"] and m["mid_identity"] and m["h_at_zero"] == 0
    assert (
        sp.simplify(
            m["h_prime"] - sp.Symbol("x", positive=True) / (1 + sp.Symbol("x", positive=True)) ** 2
        )
        == 0
    )


def test_limit_derivative_by_jax_matches_finite_differences():
    f = lambda c: bounds.maml_smoothness_limit(c, 1.5, 0.7, 2.0)  # noqa: E731
    with jax.enable_x64(True):
        g = jax.grad(f)(jnp.float64(0.4))
        h = 1e-6
        fd = (f(0.4 + h) - f(0.4 - h)) / (2 * h)
    assert abs(float(g) - fd) < 1e-7 * abs(fd)


@pytest.mark.parametrize(
    ("fn", "kw", "name"),
    [
        (bounds.maml_smoothness_limit, dict(c=0.0, L=1, rho=1, G=1), "c"),
        (bounds.maml_smoothness_limit, dict(c=1, L=-1, rho=1, G=1), "L"),
        (bounds.maml_smoothness_limit, dict(c=1, L=1, rho=-1, G=1), "rho"),
        (bounds.maml_smoothness_limit, dict(c=1, L=1, rho=1, G=np.nan), "G"),
        (bounds.inverse_n_step_size, dict(c=1, L=1, n_steps=0), "n_steps"),
        (bounds.inverse_n_step_size, dict(c=1, L=1, n_steps=2.5), "n_steps"),
        (bounds.inverse_n_step_size, dict(c=-1, L=1, n_steps=2), "c"),
    ],
)
def test_invalid_arguments_raise(fn, kw, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        fn(**kw)


def test_traced_invalid_input_gives_nan():
    with jax.enable_x64(True):
        out = jax.jit(lambda c: bounds.maml_smoothness_limit(c, 1.0, 1.0, 1.0))(jnp.float64(-1))
        assert np.isnan(out)
        out = jax.jit(lambda n: bounds.inverse_n_step_size(0.5, 1.0, n))(jnp.float64(0.5))
        assert np.isnan(out)
        ok = jax.vmap(lambda c: bounds.maml_smoothness_limit(c, 1.0, 1.0, 1.0))(
            jnp.array([0.5, 1.0])
        )
        assert np.all(np.isfinite(ok))
