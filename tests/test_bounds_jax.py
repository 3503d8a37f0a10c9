"""Every calculator of :mod:`metatheory.bounds` under ``jax.jit``, ``jax.grad`` and ``jax.vmap``:
gradients equal central finite differences in every real argument over the valid domain;
traced invalid input gives NaN; bool and complex input is rejected; overflow gives ``inf``
without warnings; one return-type rule."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from metatheory import bounds
from metatheory.bounds import (
    amit_meir_bound,
    fmo_smoothness,
    fomaml_bias_bound,
    gaussian_kl,
    grant_prior_covariance,
    grant_prior_precision,
    kl_inverse_bound,
    maml_smoothness,
    mcallester_bound,
    pentina_lampert_bound,
)

REL_STEP = 1e-6
"""Relative finite-difference step: truncation error ~ (1e-6)^2 relative, roundoff ~ 1e-16/1e-6
= 1e-10 relative, both far inside the tolerance below."""
FD_RTOL = 1e-6
"""Tolerance of gradient vs central difference, relative to the larger of |fd| and the
roundoff scale |f|/h * 1e-9."""

pos = dict(allow_nan=False, allow_infinity=False)


def fd_errors(fn, args, argnums):
    """``(i, autodiff, central difference, error / tolerance)`` of ``d fn / d args[i]`` for each
    ``i`` in ``argnums`` (one reverse pass in float64 gives every derivative)."""
    argnums = tuple(argnums)
    with jax.enable_x64(True):
        x64 = [jnp.asarray(a, jnp.float64) for a in args]
        grads = [float(g) for g in jax.grad(fn, argnums=argnums)(*x64)]
    f0 = abs(float(fn(*args)))
    out = []
    for i, g in zip(argnums, grads, strict=True):
        x = float(args[i])
        h = REL_STEP * max(abs(x), 1e-6)  # relative; a floor for 0 and subnormal x
        lo, hi = list(args), list(args)
        lo[i], hi[i] = x - h, x + h
        fd = (float(fn(*hi)) - float(fn(*lo))) / (2 * h)
        scale = max(abs(fd), 1e-9 * max(f0, 1.0) / h)
        out.append((i, g, fd, abs(g - fd) / (FD_RTOL * scale)))
    return out


def assert_grads(fn, args, argnums):
    for i, g, fd, ratio in fd_errors(fn, args, argnums):
        assert ratio <= 1.0, f"argument {i}: grad {g!r} vs finite difference {fd!r}"


# --------------------------------------------------------------------------- gradients vs FD

u01 = st.floats(0.01, 0.99, **pos)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.1, 10), st.floats(0.01, 10), u01, st.floats(0.01, 10))
def test_fmo_smoothness_grad(L, rho, u, g):
    assert_grads(fmo_smoothness, (L, rho, u / L, g), range(4))


@settings(max_examples=25, deadline=None)
@given(st.floats(0.1, 10), st.floats(0.01, 10), u01, st.floats(0.01, 10), st.integers(0, 20))
def test_maml_smoothness_grad(L, rho, u, G, n):
    assert_grads(lambda *a: maml_smoothness(*a, n), (L, rho, u / L, G), range(4))


@settings(max_examples=25, deadline=None)
@given(u01, st.floats(0.01, 50), st.floats(10, 1e4), st.floats(0.01, 0.5))
def test_mcallester_grad(emp, kl, m, d):
    assert_grads(mcallester_bound, (emp, kl, m, d), range(4))


@settings(max_examples=25, deadline=None)
@given(st.floats(0.01, 0.95), st.floats(0.01, 50), st.floats(10, 1e4), st.floats(0.01, 0.5))
def test_kl_inverse_grad_is_implicit_derivative(emp, kl, m, d):
    assume(float(kl_inverse_bound(emp, kl, m, d)) < 1 - 1e-6)  # p = 1 is flat (vacuous)
    assert_grads(kl_inverse_bound, (emp, kl, m, d), range(4))


def test_kl_inverse_grad_at_the_edges():
    with jax.enable_x64(True):
        # emp_risk = 0: closed form 1 - exp(-c); the derivative in emp_risk is +inf there
        g = jax.grad(kl_inverse_bound, argnums=(0, 1))(0.0, 5.0, 100.0, 0.1)
        c = (5.0 + np.log(2 * 10 / 0.1)) / 100
        assert float(g[0]) == np.inf
        assert float(g[1]) == pytest.approx(np.exp(-c) / 100, rel=1e-10)
        # infinite KL: vacuous bound 1 with zero gradient, not NaN
        g = jax.grad(kl_inverse_bound, argnums=(0, 2, 3))(0.2, jnp.inf, 100.0, 0.1)
        assert all(float(x) == 0.0 for x in g)
        # the old fixed-bisection derivative (0.785 in emp_risk, 0 elsewhere) is gone
        g = jax.grad(kl_inverse_bound, argnums=(0, 1, 2, 3))(0.3, 5.0, 100.0, 0.05)
        assert all(float(x) != 0.0 for x in g)


META_FIELDS = ("total", "empirical", "task_term", "meta_term")


@settings(max_examples=20, deadline=None)
@given(
    u01,
    st.floats(2.5, 1e4),
    st.floats(2.5, 1e4),
    st.floats(0.01, 50),
    st.floats(0.01, 50),
    st.floats(0.01, 0.5),
    st.sampled_from([amit_meir_bound, pentina_lampert_bound]),
)
def test_meta_bounds_grad(emp, n, m, kh, kt, d, fn):
    for k in (0, 2, 3):  # total, task_term, meta_term
        assert_grads(lambda *a, k=k: fn(*a)[k], (emp, n, m, kh, kt, d), range(6))


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.floats(-5, 5), min_size=3, max_size=3),
    st.lists(st.floats(0.1, 10), min_size=3, max_size=3),
    st.lists(st.floats(-5, 5), min_size=3, max_size=3),
    st.lists(st.floats(0.1, 10), min_size=3, max_size=3),
)
@example([5e-324, 0.0, -1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0])  # subnormal
def test_gaussian_kl_grad(mq, sq, mp, sp):
    flat = [*mq, *sq, *mp, *sp]

    def f(*x):
        a = [
            jnp.stack(x[3 * j : 3 * j + 3])
            if isinstance(x[0], jax.Array)
            else np.array(x[3 * j : 3 * j + 3])
            for j in range(4)
        ]
        return gaussian_kl(*a)

    assert_grads(f, flat, range(12))


@settings(max_examples=25, deadline=None)
@given(st.floats(1e-2, 1e2), st.floats(1e-3, 0.99), st.integers(1, 200))
def test_grant_precision_grad(h, u, n):
    assert_grads(lambda h, a: grant_prior_precision(h, a, n), (h, u / h), range(2))


@settings(max_examples=25, deadline=None)
@given(u01, st.floats(0.01, 10), st.floats(0.01, 10), st.integers(1, 30), st.booleans())
def test_fomaml_bias_grad(u, L, G, n, psd):
    assert_grads(lambda *a: fomaml_bias_bound(*a, n, psd=psd), (u / L, L, G), range(3))


def _spd(seed, d, ell):
    O = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))[0]
    return (O * np.asarray(ell)) @ O.T


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.lists(st.floats(0.1, 10), min_size=3, max_size=3),
    st.floats(0.05, 0.95),
    st.integers(1, 50),
)
def test_grant_covariance_grad(seed, ell, u, n):
    """Directional derivatives in a symmetric direction of H and in alpha, against FD."""
    H = _spd(seed, 3, ell)
    alpha = u / max(ell)
    D = np.random.default_rng(seed + 1).normal(size=(3, 3))
    D = D + D.T
    W = np.random.default_rng(seed + 2).normal(size=(3, 3))  # a random linear functional
    f = lambda t, a: jnp.sum(W * grant_prior_covariance(H + t * D, a, n))
    fn = lambda t, a: float(np.sum(W * grant_prior_covariance(H + t * D, a, n)))
    h = REL_STEP * np.abs(H).max() / np.abs(D).max()
    fd_t = (fn(h, alpha) - fn(-h, alpha)) / (2 * h)
    ha = REL_STEP * alpha
    fd_a = (fn(0.0, alpha + ha) - fn(0.0, alpha - ha)) / (2 * ha)
    with jax.enable_x64(True):
        g_t, g_a = jax.grad(f, argnums=(0, 1))(0.0, alpha)
    scale = abs(fn(0.0, alpha)) * 1e-9
    assert abs(float(g_t) - fd_t) <= FD_RTOL * max(abs(fd_t), scale / h)
    assert abs(float(g_a) - fd_a) <= FD_RTOL * max(abs(fd_a), scale / ha)


def test_grant_covariance_grad_at_repeated_eigenvalues():
    """eigh's own derivative divides by ell_i - ell_j; the Daleckii-Krein rule does not."""
    H = np.diag([2.0, 2.0, 0.5])
    D = np.array([[0.3, 0.5, 0.1], [0.5, -0.2, 0.4], [0.1, 0.4, 0.7]])
    fn = lambda t: np.asarray(grant_prior_covariance(H + t * D, 0.3, 4))
    h = 1e-6
    fd = (fn(h) - fn(-h)) / (2 * h)
    with jax.enable_x64(True):
        _, jv = jax.jvp(lambda t: grant_prior_covariance(H + t * D, 0.3, 4), (0.0,), (1.0,))
    assert np.all(np.isfinite(np.asarray(jv)))
    np.testing.assert_allclose(np.asarray(jv), fd, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- jit and vmap

CASES = {
    "fmo-smoothness": (1.0, 2.0, 0.1, 3.0),
    "maml-smoothness": (1.0, 2.0, 0.1, 3.0, 4.0),
    "mcallester": (0.1, 5.0, 100.0, 0.05),
    "kl-inverse": (0.1, 5.0, 100.0, 0.05),
    "amit-meir": (0.1, 10.0, 100.0, 5.0, 20.0, 0.1),
    "pentina-lampert": (0.1, 10.0, 100.0, 5.0, 20.0, 0.1),
    "grant-precision": (2.0, 0.01, 5.0),
    "fomaml-bias": (0.1, 2.0, 0.67, 5.0),
    "maml-rate": (1.0, 2.0, 1.0, 0.5, 100.0),
    "fmo-maml-accuracy": (1.0, 2.0, 0.1, 1.0, 1.0, 20.0, 5.0, 5.0),
    "maml-step-cost": (4.0,),
    "cg-error": (10.0, 5.0),
    "binary-kl": (0.1, 0.3),
    "fo-maml-floor": (0.1, 1.0, 2.0),
    "maml-step-size": (0.5, 1.0, 4.0),
    "maml-smoothness-limit": (0.5, 1.0, 1.0, 1.0),
    "hf-maml-hvp-error": (1.0, 0.01, 2.0),
    "hf-maml-hvp-error-smooth": (1.0, 0.01, 2.0),
    "pacoh-exponent": (10.0, 5.0, 3.0),
    "pacoh-bound": (0.2, 10.0, 5.0, 3.0, 0.5, 1.0),
    "adaptation-factor": (0.1, 10.0, 5.0),
    "adapted-test-loss": (0.1, 10.0, 5.0, 0.5, 1.0, 0.0),
    "maml-gradient-noise": (0.1, 10.0, 5.0, 5.0, 0.5, 1.0),
    "maml-test-loss": (-0.2, 0.1, 30.0, 2.0, 20.0, 6.0, 3.0, 0.5, 1.0),
    "anil-contraction-rate": (0.5, 0.6, 0.3),
}
"""A valid argument tuple per calculator; the first argument of each is a valid place to
put an invalid value (see ``INVALID_FIRST``)."""
INVALID_FIRST = {
    "fmo-smoothness": -1.0,
    "maml-smoothness": 0.0,
    "mcallester": 1.5,
    "kl-inverse": jnp.nan,
    "amit-meir": -0.1,
    "pentina-lampert": 2.0,
    "grant-precision": -2.0,
    "fomaml-bias": 0.0,
    "maml-rate": -1.0,
    "fmo-maml-accuracy": 0.0,
    "maml-step-cost": -1.0,
    "cg-error": 0.5,
    "binary-kl": 1.5,
    "fo-maml-floor": 0.0,
    "maml-step-size": 0.0,
    "maml-smoothness-limit": 0.0,
    "hf-maml-hvp-error": -1.0,
    "hf-maml-hvp-error-smooth": -1.0,
    "pacoh-exponent": 0.0,
    "pacoh-bound": jnp.nan,
    "adaptation-factor": jnp.nan,
    "adapted-test-loss": jnp.nan,
    "maml-gradient-noise": jnp.nan,
    "maml-test-loss": jnp.nan,
    "anil-contraction-rate": 0.0,
}


def _first(x):
    if isinstance(x, dict):
        return next(iter(x.values()))
    return x[0] if isinstance(x, tuple) else x


def test_cases_cover_every_calculator():
    assert set(CASES) == set(bounds.CALCULATORS) == set(INVALID_FIRST)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_vmap_equal_eager(name):
    fn, args = bounds.CALCULATORS[name], CASES[name]
    with jax.enable_x64(True):
        eager = np.asarray(_first(fn(*args)))
        np.testing.assert_allclose(np.asarray(_first(jax.jit(fn)(*args))), eager, rtol=1e-12)
        xs = jnp.array([args[0], args[0] * 0.5])
        v = jax.vmap(lambda x: _first(fn(x, *args[1:])))(xs)
        want = [np.asarray(_first(fn(float(x), *args[1:]))) for x in xs]
        np.testing.assert_allclose(np.asarray(v), want, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_traced_invalid_input_is_nan(name):
    """Concrete invalid input raises; the same value traced gives NaN, never a number."""
    fn, args = bounds.CALCULATORS[name], CASES[name]
    bad = INVALID_FIRST[name]
    with pytest.raises(ValueError):
        fn(float(bad), *args[1:])
    out = jax.jit(lambda x: _first(fn(x, *args[1:])))(bad)
    assert np.isnan(float(out))
    # and under vmap, only the invalid lane is NaN
    v = jax.vmap(lambda x: _first(fn(x, *args[1:])))(jnp.array([args[0], bad]))
    assert np.isfinite(float(v[0])) and np.isnan(float(v[1]))


def test_traced_invalid_arguments_give_nan():
    """Under jit, an argument out of its range (or a relation between arguments violated)
    gives NaN, since a traced value cannot raise."""
    assert np.isnan(float(jax.jit(lambda d: mcallester_bound(0.1, 5.0, 100.0, d))(1.5)))
    assert np.isnan(float(jax.jit(lambda e: kl_inverse_bound(e, 5.0, 100.0, 0.1))(jnp.nan)))
    # a relation between arguments: alpha * L > 1
    assert np.isnan(float(jax.jit(fmo_smoothness)(1.0, 2.0, 1.5, 3.0)))
    assert np.isnan(float(jax.jit(grant_prior_precision)(2.0, 0.6, 5.0)))
    assert np.isnan(float(jax.jit(maml_smoothness)(1.0, 2.0, 0.1, 3.0, 1.5)))  # N not integer
    H = jnp.array([[1.0, 0.2], [0.2, 0.5]])
    assert np.all(np.isnan(jax.jit(grant_prior_covariance)(H, 2.0, 3)))  # alpha * ell >= 1
    assert np.all(np.isnan(jax.jit(grant_prior_covariance)(H.at[0, 1].set(0.9), 0.1, 3)))
    g = jax.jit(gaussian_kl)(jnp.zeros(2), jnp.array([1.0, -1.0]), jnp.zeros(2), 1.0)
    assert np.isnan(float(g))


def test_grant_covariance_jit_grad_vmap():
    H = np.array([[3.7, -0.9], [-0.9, 1.3]])
    with jax.enable_x64(True):
        Q = grant_prior_covariance(H, 0.1, 3)
        np.testing.assert_allclose(jax.jit(grant_prior_covariance)(H, 0.1, 3), Q, rtol=1e-12)
        stack = jnp.stack([jnp.asarray(H), 2 * jnp.asarray(H)])
        Qs = jax.vmap(grant_prior_covariance, (0, None, None))(stack, 0.1, 3)
        np.testing.assert_allclose(Qs[1], grant_prior_covariance(2 * H, 0.1, 3), rtol=1e-12)
        g = jax.grad(lambda a: grant_prior_covariance(H, a, 3).sum())(0.1)
        assert np.isfinite(float(g)) and float(g) > 0


# --------------------------------------------------------------------------- dtype and type


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("bad", [True, 1 + 2j, np.array([1.0 + 0j]), np.array([True])])
def test_bool_and_complex_rejected(name, bad):
    fn, args = bounds.CALCULATORS[name], CASES[name]
    for i in range(len(args)):
        with pytest.raises(ValueError, match="real number"):
            fn(*args[:i], bad, *args[i + 1 :])


def test_bool_and_complex_rejected_when_traced():
    with pytest.raises(ValueError, match="real number"):
        jax.jit(lambda x: mcallester_bound(0.1, 5.0, 100.0, x))(jnp.array(0.1 + 0j))
    with pytest.raises(ValueError, match="real number"):
        jax.vmap(lambda x: fmo_smoothness(1.0, 2.0, 0.1, x))(jnp.array([True, False]))
    with pytest.raises(ValueError, match="real number"):
        gaussian_kl(0.0, 1.0, 0.0, True)
    with pytest.raises(ValueError, match="real number"):
        grant_prior_covariance(np.eye(2, dtype=complex), 0.1, 3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_return_type_rule(name):
    fn, args = bounds.CALCULATORS[name], CASES[name]
    out = _first(fn(*args))
    assert type(out) is np.float64
    out = _first(fn(np.array([args[0]]), *args[1:]))
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    out = _first(fn(jnp.asarray(args[0]), *args[1:]))
    assert isinstance(out, jax.Array) and out.dtype == jnp.result_type(float)
    assert isinstance(gaussian_kl(0.0, 1.0, 0.0, 2.0), np.float64)
    assert isinstance(grant_prior_covariance(np.eye(2), 0.1, 2), np.ndarray)
    assert isinstance(grant_prior_covariance(jnp.eye(2), 0.1, 2), jax.Array)


# --------------------------------------------------------------------------- overflow

OVERFLOW = [
    # alpha normal: XLA's CPU backend flushes subnormals to zero (1e-308 > 0 is False under
    # jit), inside a fusion or not depending on the emitter, and alpha = 0 is invalid (NaN)
    (fmo_smoothness, (1e307, 1e308, 1e-307, 1e308)),
    (maml_smoothness, (1e300, 1e300, 1.0, 1e300, 10)),
    (mcallester_bound, (0.1, np.inf, 2.0, 0.1)),
    (amit_meir_bound, (0.1, 1e308, 1e308, np.inf, 1e308, 0.1)),
    (pentina_lampert_bound, (0.1, 1e308, 1e308, np.inf, 1e308, 0.1)),
    (pentina_lampert_bound, (0.1, 2.0, 2.0, 1.7e308, 1.7e308, 1e-300)),
    (fomaml_bias_bound, (1.0, 1e3, 1.0, 1000)),
    (fomaml_bias_bound, (1e300, 1e300, 1e300, 3)),
    (gaussian_kl, (1e308, 1.0, -1e308, 1.0)),
    (gaussian_kl, (0.0, 1e300, 0.0, 1e-300)),
]


@pytest.mark.parametrize(("fn", "args"), OVERFLOW)
def test_overflow_is_inf_without_warnings(fn, args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fn(*args)
        assert float(_first(out)) == np.inf
        with jax.enable_x64(True):
            assert float(_first(jax.jit(fn)(*args))) == np.inf
    assert float(kl_inverse_bound(0.1, 1e308, 2.0, 1e-300)) == 1.0
    assert float(maml_smoothness(1.0, 0.0, 1.0, 1e308, 2000)) == np.inf  # no 0 * inf NaN
    assert float(maml_smoothness(1.0, 1e308, 1.0, 1e308, 0)) == 1.0  # inf * 0 at N = 0: L


# --------------------------------------------------------------------------- registry


def test_every_public_function_is_a_calculator_or_documented_as_not():
    import importlib
    import inspect
    import pkgutil

    mods = [
        importlib.import_module(f"metatheory.bounds.{m.name}")
        for m in pkgutil.iter_modules(bounds.__path__)
        if not m.name.startswith("_")
    ]
    public = {name for mod in mods for name in getattr(mod, "__all__", ())}
    public = {n for n in public if inspect.isfunction(getattr(bounds, n))}
    registered = {f.__name__ for f in bounds.CALCULATORS.values()}
    assert public == registered | set(bounds.NOT_CALCULATORS)
    assert not registered & set(bounds.NOT_CALCULATORS)
    for name in bounds.NOT_CALCULATORS:  # the package docstring names each exclusion
        assert f":func:`{name}`" in bounds.__doc__


# --------------------------------------------------------------------------- invalid traced input


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_traced_input_has_nan_gradient(name):
    """grad, jit(grad) and vmap(grad) at an invalid first argument: NaN in every argument,
    never 0 or a plausible number."""
    fn, args = bounds.CALCULATORS[name], CASES[name]
    bad = (float(INVALID_FIRST[name]), *args[1:])
    f = lambda *a: _first(fn(*a))
    argnums = tuple(range(len(args)))
    with jax.enable_x64(True):
        for g in (jax.grad(f, argnums=argnums), jax.jit(jax.grad(f, argnums=argnums))):
            assert all(np.isnan(float(x)) for x in g(*bad)), name
        lanes = [jnp.array([a, b]) for a, b in zip(args, bad, strict=True)]
        gv = jax.vmap(jax.grad(f, argnums=argnums))(*lanes)
        assert all(np.isfinite(float(x[0])) and np.isnan(float(x[1])) for x in gv), name


RELATIONS = [
    (grant_prior_precision, (2.0, 0.6, 5.0), 1),  # alpha * h > 1
    (fmo_smoothness, (1.0, 2.0, 1.5, 3.0), 2),  # alpha * L > 1
    (lambda a, L, G, n: fomaml_bias_bound(a, L, G, n, psd=True), (1.5, 1.0, 1.0, 3.0), 0),
]


@pytest.mark.parametrize(("fn", "args", "i"), RELATIONS)
def test_invalid_relation_under_grad_is_nan_not_an_error(fn, args, i):
    with pytest.raises(ValueError):
        fn(*args)
    with jax.enable_x64(True):
        for g in (jax.grad(fn, argnums=i), jax.jit(jax.grad(fn, argnums=i))):
            assert np.isnan(float(g(*args)))
        v = jax.vmap(jax.grad(fn, argnums=i))(*[jnp.array([a, a]) for a in args])
        assert np.all(np.isnan(np.asarray(v)))


# --------------------------------------------------------------------------- infinite KL


def test_infinite_kl_derivatives_follow_one_convention():
    """At KL = inf the KL terms are constants: derivative 0 in m, delta and the KL for all four
    bounds; the additive bounds keep d/d emp_risk = 1, the kl form (constant 1) has 0."""
    with jax.enable_x64(True):
        single = (0.1, jnp.inf, 1000.0, 0.05)
        g = jax.grad(mcallester_bound, argnums=(0, 1, 2, 3))(*single)
        assert [float(x) for x in g] == [1.0, 0.0, 0.0, 0.0]
        g = jax.grad(kl_inverse_bound, argnums=(0, 1, 2, 3))(*single)
        assert [float(x) for x in g] == [0.0, 0.0, 0.0, 0.0]
        meta = (0.1, 10.0, 1000.0, jnp.inf, 1.0, 0.05)
        for fn in (amit_meir_bound, pentina_lampert_bound):
            g = jax.grad(lambda *a, fn=fn: fn(*a).total, argnums=tuple(range(6)))(*meta)
            assert [abs(float(x)) for x in g] == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


# --------------------------------------------------------------------------- extreme values


def test_maml_smoothness_without_intermediate_overflow():
    # (1 + 1e-200)^2 1e-200 + (1e200 / 1e-200) 1e-200 = 1e200 (exact to float64)
    for args in ((1e-200, 1.0, 1.0, 1e200, 1), (1e-300, 1e-300, 1e-10, 1e300, 3)):
        want = 1e200 if args[0] == 1e-200 else 1e-300 + 3e-10 * (1 + 3e-310)
        assert float(maml_smoothness(*args)) == pytest.approx(want, rel=1e-14)
        with jax.enable_x64(True):
            g = jax.grad(maml_smoothness, argnums=(0, 1, 2, 3))(*args)
            assert all(np.isfinite(float(x)) for x in g)
    with jax.enable_x64(True):  # jax flushes the subnormal alpha * L = 1e-310: same value
        assert float(maml_smoothness(jnp.asarray(1e-300), 1e-300, 1e-10, 1e300, 3)) == (
            pytest.approx(3e-10, rel=1e-14)
        )


def test_underflowing_products_are_not_rejected_or_zero():
    # lambda -> 1/(alpha N) as alpha h -> 0 (the next term, (N+1) h / 2N, is 1e-170 here)
    assert float(grant_prior_precision(1e-170, 1e-170, 5)) == pytest.approx(2e169, rel=1e-15)
    with jax.enable_x64(True):  # d lambda / dh -> -(N + 1)/(2N) as alpha -> 0
        assert float(jax.grad(grant_prior_precision)(1e-170, 1e-170, 5.0)) == pytest.approx(-0.6)
    # ((1 + x)^N - 1) G ~ N x G for x = alpha L = 1e-400 (underflows): 3e-100
    for psd in (False, True):
        assert float(fomaml_bias_bound(1e-200, 1e-200, 1e300, 3, psd=psd)) == pytest.approx(
            3e-100, rel=1e-14
        )
        with jax.enable_x64(True):
            out = fomaml_bias_bound(jnp.asarray(1e-200), 1e-200, 1e300, 3, psd=psd)
            assert float(out) == pytest.approx(3e-100, rel=1e-14)


def test_kl_inverse_has_relative_resolution():
    """emp_risk = 0: the closed form is 1 - exp(-c) = -expm1(-c), c = ln(2 sqrt(m)/delta)/m;
    the bisection on the float grid matches it to a few ulps however small p is."""
    for m in (1e2, 1e10, 1e30, 1e300):
        c = np.log(2 * np.sqrt(m) / 0.5) / m
        want = -np.expm1(-c)
        assert float(kl_inverse_bound(0.0, 0.0, m, 0.5)) == pytest.approx(want, rel=4e-16)
        with jax.enable_x64(True):
            got = float(kl_inverse_bound(jnp.asarray(0.0), 0.0, m, 0.5))
            assert got == pytest.approx(want, rel=4e-16)
