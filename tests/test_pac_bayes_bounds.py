"""PAC-Bayes calculators: sympy forms, published test values, properties, bad input, the CLI."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from metatheory import bounds
from metatheory.bounds import (
    amit_meir_bound,
    gaussian_kl,
    kl_inverse_bound,
    mcallester_bound,
    pentina_lampert_bound,
)
from metatheory.bounds.pac_bayes import binary_kl
from metatheory.cli import main
from metatheory.symbolic import pac_bayes as sym

# ------------------------------------------------------------------ sympy references

_AM_TASK, _AM_META, _ = sym.derive_amit_meir()
_PL_TASK, _PL_META, _ = sym.derive_pentina_lampert()
_META_ARGS = (sym.n, sym.m, sym.kl_hyper, sym.kl_task, sym.delta)
REF_AM = sp.lambdify(_META_ARGS, (_AM_TASK, _AM_META), "math")
REF_PL = sp.lambdify(_META_ARGS, (_PL_TASK, _PL_META), "math")
REF_MC = sp.lambdify((sym.emp, sym.kl, sym.m, sym.delta), sym.derive_mcallester(), "math")
_KL1, _GSYMS = sym.derive_gaussian_kl()
REF_GK = sp.lambdify(_GSYMS, _KL1, "numpy")

POINTS = [
    (0.1, 10, 100, 5.0, 20.0, 0.1),
    (0.0, 2, 2, 0.0, 0.0, 0.5),
    (0.37, 1000, 7, 0.3, 1e3, 1e-6),
    (1.0, 3.5, 12.25, 50.0, 0.01, 0.99),
]


@pytest.mark.parametrize("emp,n,m,kh,kt,d", POINTS)
def test_meta_bounds_match_sympy(emp, n, m, kh, kt, d):
    for fn, ref in ((amit_meir_bound, REF_AM), (pentina_lampert_bound, REF_PL)):
        b = fn(emp, n, m, kh, kt, d)
        task, meta = ref(n, m, kh, kt, d)
        assert b.task_term == pytest.approx(task, rel=1e-13)
        assert b.meta_term == pytest.approx(meta, rel=1e-13)
        assert b.total == pytest.approx(emp + task + meta, rel=1e-13)
        assert b.empirical == emp


@pytest.mark.parametrize(
    "emp,kl,m,d", [(0.0, 5.0, 1000, 0.05), (0.3, 0.0, 2, 0.9), (1, 1e4, 7, 1e-9)]
)
def test_mcallester_matches_sympy(emp, kl, m, d):
    assert mcallester_bound(emp, kl, m, d) == pytest.approx(REF_MC(emp, kl, m, d), rel=1e-13)


def test_claims_test_values():
    b = amit_meir_bound(0.1, 10, 100, 5, 20, 0.1)
    assert b.task_term == pytest.approx(0.419857, abs=5e-7)
    assert b.meta_term == pytest.approx(0.756392, abs=5e-7)
    assert b.total == pytest.approx(1.276249, abs=5e-7)
    assert mcallester_bound(0.0, 5.0, 1000, 0.05) == pytest.approx(0.0779191, abs=5e-8)


def test_wrong_forms_miss_the_test_values():
    """Controls: the test values distinguish the right form from plausible wrong ones."""
    wrong_task = math.sqrt((5 + 20 + math.log(1 / 0.1)) / (2 * 99))
    wrong_meta = (5 + math.log(2 * 10 / 0.1)) / (2 * 9)
    assert abs(wrong_task - 0.419857) > 1e-3
    assert abs(wrong_meta - 0.756392) > 1e-3


def test_gaussian_kl_matches_sympy_and_sums_last_axis():
    rng = np.random.default_rng(0)
    mq, mp = rng.normal(size=(2, 3, 5))
    sq, spp = np.exp(rng.normal(size=(2, 3, 5)))
    got = gaussian_kl(mq, sq, mp, spp)
    assert got.shape == (3,)
    np.testing.assert_allclose(got, REF_GK(mq, sq, mp, spp).sum(-1), rtol=1e-13)
    assert gaussian_kl(np.ones(4), 2.0, np.ones(4), 2.0) == 0.0
    # scalars are one coordinate; the formula with equal scales is |dmu|^2 / (2 sigma^2)
    assert gaussian_kl(1.0, 0.5, 0.0, 0.5) == pytest.approx(1 / (2 * 0.25), rel=1e-15)


# ------------------------------------------------------------------ kl inversion


def _brentq(q, c):
    f = lambda p: float(binary_kl(q, p)) - c
    if q >= 1 or f(1 - 1e-16) <= 0:
        return 1.0
    return brentq(f, q, 1 - 1e-16, xtol=1e-15)


@pytest.mark.parametrize("emp", [0.0, 1e-12, 0.01, 0.3, 0.5, 0.9, 1 - 1e-6, 1 - 1e-12, 1.0])
@pytest.mark.parametrize("kl,m", [(0.0, 2), (5.0, 1000), (0.1, 10**6), (200.0, 50)])
def test_kl_inverse_accurate(emp, kl, m):
    c = (kl + math.log(2 * math.sqrt(m) / 0.05)) / m
    got = kl_inverse_bound(emp, kl, m, 0.05)
    assert abs(got - _brentq(emp, c)) <= 1e-9
    assert emp <= got <= 1.0
    assert got <= mcallester_bound(emp, kl, m, 0.05) + 1e-15


def test_kl_inverse_at_zero_is_closed_form():
    c = (5.0 + math.log(2 * math.sqrt(1000) / 0.05)) / 1000
    assert kl_inverse_bound(0.0, 5.0, 1000, 0.05) == pytest.approx(-math.expm1(-c), abs=1e-15)


def test_infinite_kl_is_vacuous_not_nan():
    assert mcallester_bound(0.1, np.inf, 100, 0.1) == np.inf
    assert kl_inverse_bound(0.1, np.inf, 100, 0.1) == 1.0
    assert amit_meir_bound(0.1, 10, 100, 1.0, np.inf, 0.1).total == np.inf


# ------------------------------------------------------------------ properties

risk = st.floats(0.0, 1.0)
kls = st.floats(0.0, 1e4)
sizes = st.floats(2.0, 1e7)
deltas = st.floats(1e-12, 1 - 1e-9)


@settings(max_examples=150, deadline=None)
@given(risk, kls, sizes, deltas, st.floats(1e-6, 100.0), st.floats(1.01, 10.0))
def test_single_task_properties(emp, kl, m, d, dk, dd):
    mc = mcallester_bound(emp, kl, m, d)
    ki = kl_inverse_bound(emp, kl, m, d)
    assert np.isfinite(mc) and np.isfinite(ki)
    assert mc >= emp and ki >= emp and ki <= 1.0
    assert ki <= mc + 1e-12  # Pinsker
    assert mcallester_bound(emp, kl + dk, m, d) > mc
    assert kl_inverse_bound(emp, kl + dk, m, d) >= ki
    assert mcallester_bound(emp, kl, m, d / dd) > mc
    assert kl_inverse_bound(emp, kl, m, d / dd) >= ki


@settings(max_examples=150, deadline=None)
@given(risk, sizes, sizes, kls, kls, deltas, st.floats(1e-6, 100.0), st.floats(1.01, 10.0))
def test_meta_bound_properties(emp, n, m, kh, kt, d, dk, dd):
    for fn in (amit_meir_bound, pentina_lampert_bound):
        b = fn(emp, n, m, kh, kt, d)
        assert all(np.isfinite(x) for x in b)
        assert b.total >= emp and b.task_term > 0 and b.meta_term > 0
        assert b.total == pytest.approx(b.empirical + b.task_term + b.meta_term, rel=1e-15)
        assert fn(emp, n, m, kh + dk, kt, d).total > b.total
        assert fn(emp, n, m, kh, kt + dk, d).total > b.total
        assert fn(emp, n, m, kh, kt, d / dd).total > b.total


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6),
    st.floats(1e-3, 1e3),
    st.floats(1e-3, 1e3),
)
def test_gaussian_kl_nonnegative(mus, sq, spp):
    mu = np.array(mus)
    kl = gaussian_kl(mu, sq, mu[::-1], spp)
    assert np.isfinite(kl) and kl >= 0


# ------------------------------------------------------------------ broadcasting and jit


def test_broadcasting_shapes():
    emp = np.linspace(0, 1, 4)
    kl = np.array([[0.0], [1.0], [10.0]])
    assert mcallester_bound(emp, kl, 100, 0.1).shape == (3, 4)
    assert kl_inverse_bound(emp, kl, [[100.0]], 0.1).shape == (3, 4)
    b = amit_meir_bound(emp, 10, 100, kl, 1.0, 0.1)
    assert all(x.shape == (3, 4) for x in b)
    b = pentina_lampert_bound(0.1, np.array([10, 100]), 100, 1.0, 1.0, 0.1)
    assert b.total.shape == (2,) and b.empirical.shape == (2,)
    np.testing.assert_allclose(
        kl_inverse_bound(emp, kl, 100, 0.1)[1],
        [kl_inverse_bound(e, 1.0, 100, 0.1) for e in emp],
        rtol=0,
        atol=0,
    )


def test_jit_vmap_grad():
    with jax.enable_x64(True):
        args = (jnp.array([0.0, 0.2, 0.999]), 5.0, 1000.0, 0.05)
        for fn in (mcallester_bound, kl_inverse_bound):
            np.testing.assert_allclose(jax.jit(fn)(*args), fn(*args), rtol=1e-12)
        am = jax.jit(amit_meir_bound)(0.1, 10.0, 100.0, 5.0, 20.0, 0.1)
        assert float(am.total) == pytest.approx(1.2762493284902, rel=1e-12)
        v = jax.vmap(lambda k: pentina_lampert_bound(0.1, 10.0, 100.0, k, 20.0, 0.1).total)
        np.testing.assert_allclose(
            v(jnp.arange(3.0)), pentina_lampert_bound(0.1, 10, 100, np.arange(3.0), 20, 0.1).total
        )
        g = jax.grad(lambda k: amit_meir_bound(0.1, 10.0, 100.0, k, 20.0, 0.1).total)(5.0)
        assert np.isfinite(g) and g > 0
        gk = jax.jit(gaussian_kl)(jnp.zeros(3), 1.0, jnp.ones(3), 2.0)
        assert float(gk) == pytest.approx(gaussian_kl(np.zeros(3), 1.0, np.ones(3), 2.0))
    # default (float32) precision under jit still agrees to single precision
    assert float(jax.jit(mcallester_bound)(0.0, 5.0, 1000.0, 0.05)) == pytest.approx(
        0.0779191, rel=1e-6
    )


def test_registered():
    assert {"mcallester", "kl-inverse", "amit-meir", "pentina-lampert"} <= set(bounds.CALCULATORS)
    assert "gaussian_kl" in bounds.__all__


# ------------------------------------------------------------------ bad input

BASE = dict(emp_risk=0.1, n_tasks=10, m=100, kl_hyper=5.0, kl_task=20.0, delta=0.1)


@pytest.mark.parametrize(
    "name,value",
    [
        ("delta", 0.0),
        ("delta", 1.0),
        ("delta", 1.5),
        ("delta", float("nan")),
        ("m", 1.5),
        ("m", float("inf")),
        ("n_tasks", 1.0),
        ("kl_hyper", -1.0),
        ("kl_task", float("nan")),
        ("emp_risk", 1.2),
        ("emp_risk", np.array([0.1, -0.1])),
    ],
)
def test_meta_bad_input_names_argument(name, value):
    for fn in (amit_meir_bound, pentina_lampert_bound):
        with pytest.raises(ValueError, match=name):
            fn(**{**BASE, name: value})


@pytest.mark.parametrize(
    "name,value", [("kl", -0.5), ("m", 1.0), ("delta", 0.0), ("emp_risk", np.nan)]
)
def test_single_bad_input_names_argument(name, value):
    kw = {"emp_risk": 0.1, "kl": 1.0, "m": 100, "delta": 0.1, name: value}
    for fn in (mcallester_bound, kl_inverse_bound):
        with pytest.raises(ValueError, match=name):
            fn(**kw)


@pytest.mark.parametrize(
    "name,value", [("sigma_q", 0.0), ("sigma_p", -1.0), ("mu_q", np.nan), ("mu_p", np.inf)]
)
def test_gaussian_kl_bad_input(name, value):
    kw = {"mu_q": np.zeros(2), "sigma_q": 1.0, "mu_p": np.zeros(2), "sigma_p": 1.0, name: value}
    with pytest.raises(ValueError, match=name):
        gaussian_kl(**kw)


# ------------------------------------------------------------------ CLI

AM_ARGS = "--emp-risk 0.1 --n-tasks 10 --m 100 --kl-hyper 5 --kl-task 20".split()


def test_cli_amit_meir_prints_terms(capsys):
    assert main(["bound", "amit-meir", *AM_ARGS, "--delta", "0.1"]) == 0
    out = capsys.readouterr().out
    rows = dict(line.split(" = ") for line in out.strip().splitlines())
    rows = {k.strip(): v for k, v in rows.items()}
    assert float(rows["task_term"]) == pytest.approx(0.419857, abs=5e-7)
    assert float(rows["meta_term"]) == pytest.approx(0.756392, abs=5e-7)
    assert float(rows["total"]) == pytest.approx(1.276249, abs=5e-7)


def test_cli_bad_input_one_line_exit_2(capsys):
    assert main(["bound", "amit-meir", *AM_ARGS, "--delta", "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "delta" in err
    assert main(["bound", "kl-inverse", "--emp-risk", "0", "--kl", "5", "--m", "1000"]) == 2


# ------------------------------------------------------------------ symbolic


def test_symbolic_forms_limits_signs():
    assert all(sym.claims_forms_agree().values())
    lim = sym.derive_limits()
    assert lim["meta_n_inf"] == 0 and lim["task_m_inf"] == 0 and lim["task_n_inf"] == sp.oo
    assert all(sym.derive_monotonicity()["signs"].values())
    reg = sym.derive_regimes()
    assert reg["few_shot"] == sp.oo and reg["many_shot"] == 0
    assert "\\ln\\frac{2}{\\delta}" in sym.latex_equations()["p1-pentina-lampert"]


def test_transfer_risk_closed_form_matches_monte_carlo():
    """The exact transfer risk of the threshold environment (P3, P5) vs simulation."""
    from metatheory.tasks import threshold as th

    env, lr = th.Environment(mu0=3.0, tau0=0.5), th.Learner(w=0.5)
    with jax.enable_x64(True):
        for nu, kappa in ((0.0, 2.0), (2.5, 0.3)):
            exact = float(th.transfer_risk(nu, kappa, env, lr, 20))
            mc, se = th.transfer_risk_mc(jax.random.key(1), nu, kappa, env, lr, 20, 40000)
            assert abs(exact - float(mc)) <= 4 * float(se)
