"""The smoothness calculators of metatheory.bounds against their sympy derivations."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from metatheory import fmo_smoothness, maml_smoothness
from metatheory.bounds import CALCULATORS
from metatheory.symbolic import fmo as sym

pos = st.floats(1e-3, 1e3)
nonneg = st.floats(0.0, 1e3)


def test_fmo_test_value():
    assert fmo_smoothness(1, 2, 0.1, 3) == pytest.approx(5.2, abs=1e-12)
    assert 1 / (12 * fmo_smoothness(1, 2, 0.1, 3)) == pytest.approx(0.0160256, abs=1e-7)
    assert CALCULATORS["fmo-smoothness"] is fmo_smoothness
    assert CALCULATORS["maml-smoothness"] is maml_smoothness


def test_against_sympy_lambdify():
    f_fmo = sp.lambdify((sym.L, sym.rho, sym.alpha, sym.G), sym.fmo_bound())
    f_ms = sp.lambdify((sym.L, sym.rho, sym.alpha, sym.G, sym.N), sym.derive_multi_step()["L_N"])
    rng = np.random.default_rng(0)
    L = rng.uniform(0.1, 5, 50)
    rho, G = rng.uniform(0, 5, 50), rng.uniform(0, 5, 50)
    alpha = rng.uniform(0.01, 1, 50) / L
    np.testing.assert_allclose(fmo_smoothness(L, rho, alpha, G), f_fmo(L, rho, alpha, G), 1e-13)
    for n in (1, 2, 3, 7):
        np.testing.assert_allclose(
            maml_smoothness(L, rho, alpha, G, n), f_ms(L, rho, alpha, G, n), rtol=1e-12
        )


def test_one_step_reduction_and_zero_steps():
    # N = 1 is C1's general form with G' = G; N = 0 is the task smoothness L
    assert maml_smoothness(1, 2, 0.1, 3, 1) == pytest.approx(1.1**2 + 0.1 * 2 * 3)
    assert maml_smoothness(2.0, 1.0, 0.3, 4.0, 0) == pytest.approx(2.0)


def test_broadcasting():
    out = fmo_smoothness(np.ones((3, 1)), 2.0, np.array([0.1, 0.5]), 3.0)
    assert out.shape == (3, 2)
    out = maml_smoothness(1.0, 2.0, 0.1, 3.0, np.arange(1, 5))
    assert out.shape == (4,) and np.all(np.diff(out) > 0)


@settings(max_examples=60, deadline=None)
@given(L=pos, rho=nonneg, t=st.floats(1e-6, 1.0), G=nonneg)
def test_fmo_dominates_general_form(L, rho, t, G):
    """For alpha <= 1/L: (1+aL)^2 L + a rho (1+aL) G <= 4L + 2 rho a G (the chain of C1)."""
    alpha = t / L
    general = (1 + alpha * L) ** 2 * L + alpha * rho * (1 + alpha * L) * G
    assert general <= fmo_smoothness(L, rho, alpha, G) * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(L=pos, rho=nonneg, a=st.floats(1e-4, 10.0), G=nonneg, n=st.integers(1, 6))
def test_multi_step_monotone_in_n(L, rho, a, G, n):
    alpha = a / L
    assert maml_smoothness(L, rho, alpha, G, n + 1) >= maml_smoothness(L, rho, alpha, G, n)


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(L=0.0, rho=1.0, alpha=0.1, grad_norm=1.0), "L"),
        (dict(L=1.0, rho=-1.0, alpha=0.1, grad_norm=1.0), "rho"),
        (dict(L=1.0, rho=1.0, alpha=0.0, grad_norm=1.0), "alpha"),
        (dict(L=1.0, rho=1.0, alpha=1.5, grad_norm=1.0), "alpha"),
        (dict(L=1.0, rho=1.0, alpha=0.1, grad_norm=-1.0), "grad_norm"),
        (dict(L=float("nan"), rho=1.0, alpha=0.1, grad_norm=1.0), "L"),
        (dict(L=1.0, rho=1.0, alpha=0.1, grad_norm=float("nan")), "grad_norm"),
    ],
)
def test_fmo_bad_input(kw, name):
    with pytest.raises(ValueError, match=name):
        fmo_smoothness(**kw)


def test_fmo_alpha_exactly_one_over_L_is_accepted():
    L = 3.0
    assert fmo_smoothness(L, 1.0, 1 / L, 2.0) == pytest.approx(4 * L + 2 * 2.0 / L)


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(L=-1.0, rho=1.0, alpha=0.1, G=1.0), "L"),
        (dict(L=1.0, rho=1.0, alpha=-0.1, G=1.0), "alpha"),
        (dict(L=1.0, rho=1.0, alpha=0.1, G=-1.0), "G"),
        (dict(L=1.0, rho=float("nan"), alpha=0.1, G=1.0), "rho"),
        (dict(L=1.0, rho=1.0, alpha=0.1, G=1.0, n_steps=1.5), "n_steps"),
        (dict(L=1.0, rho=1.0, alpha=0.1, G=1.0, n_steps=-1), "n_steps"),
    ],
)
def test_maml_bad_input(kw, name):
    with pytest.raises(ValueError, match=name):
        maml_smoothness(**kw)


def test_symbolic_chain_and_recursion():
    ch = sym.derive_one_step_chain()
    assert sp.simplify(ch["slack_at_alpha_1_over_L"]) == 0
    _, adapted = sym.derive_adapted_gradient()
    assert sp.simplify(adapted - sym.g * (1 + sym.alpha * sym.L)) == 0
    ms = sym.derive_multi_step()
    assert ms["difference"] == 0 and ms["reduces_to_c1"] and ms["recursion_checked"]
    assert sym.derive_batch_variance()["slope"] == -1
    assert sym.derive_rate()["slope"] == sp.Rational(-1, 2)
    tc = sym.derive_task_constants()
    assert (
        tc["rho_over_L"] == 1
        and sp.simplify(tc["G_over_L"] - sp.sqrt(sp.Symbol("d", positive=True))) == 0
    )


def test_circular_family_constants():
    """The circular family's population loss is the noise/feature average of the per-sample
    loss, and its constants L, rho = L, G = L sqrt(d) are attained."""
    import functools

    import jax
    import jax.numpy as jnp

    from metatheory.tasks import circular

    fam = circular.CircularFamily(d=3, L=2.0, tau=0.5, noise=0.7)
    with jax.enable_x64(True):
        theta = jnp.array([0.3, -1.0, 2.0])
        w = jnp.array([1.0, 0.5, -0.4])
        x, y = circular.sample_data(jax.random.key(0), theta, 400_000, fam)
        per = fam.lam * (1 - jnp.cos(x @ w - y))
        se = float(jnp.std(per) / jnp.sqrt(per.size))
        pop = float(circular.population_loss(w, theta, fam))
        assert abs(float(jnp.mean(per)) - pop) < 4 * se
        assert float(circular.loss(w, x, y, lam=fam.lam)) == pytest.approx(float(jnp.mean(per)))
        f = functools.partial(circular.population_loss, theta=theta, family=fam)
        hess = jax.hessian(f)
        assert float(jnp.max(jnp.abs(jnp.linalg.eigvalsh(hess(theta))))) == pytest.approx(fam.L)
        assert float(jnp.min(jnp.linalg.eigvalsh(hess(theta + jnp.pi)))) == pytest.approx(-fam.L)
        g = jax.grad(f)(theta + jnp.pi / 2)
        assert float(jnp.linalg.norm(g)) == pytest.approx(fam.G)
        u, v = theta + 0.2, theta + 0.2 + jnp.array([1e-4, 0, 0])
        lip = float(jnp.linalg.norm(hess(u) - hess(v), 2)) / 1e-4
        assert lip <= fam.rho * (1 + 1e-6)
    with pytest.raises(ValueError):
        circular.CircularFamily(d=0)


def test_rate_bound_and_theorem_45_accuracy():
    from metatheory.bounds.fmo import fmo_maml_accuracy, maml_rate_bound

    # 2*1/(1*10) + 2*1*0.5/10 = 0.3
    assert maml_rate_bound(1.0, 2.0, 0.5, 1.0, 100.0) == pytest.approx(0.3, abs=1e-15)
    with pytest.raises(ValueError, match="c"):
        maml_rate_bound(1.0, 2.0, 0.5, 20.0, 100.0)  # step c/sqrt(T) = 2 > 1/L_F
    # S = 1/20 + 4/(20*2) + 4/16 = 0.4, rho*alpha/L = 1/6: sqrt(61 * (1 + 1/6) * 0.4)
    acc = fmo_maml_accuracy(1.0, 1.0, 1 / 6, 1.0, 2.0, 20, 2, 16)
    assert acc == pytest.approx(np.sqrt(61 * (7 / 6) * 0.4), rel=1e-14)
    big = fmo_maml_accuracy(1.0, 1.0, 1 / 6, 1.0, 100.0, 20, 1, 1)  # the linear branch wins
    s = 1 / 20 + 1e4 / 20 + 1e4
    assert big == pytest.approx(61 / 6 * s, rel=1e-14)
    with pytest.raises(ValueError, match="alpha"):
        fmo_maml_accuracy(1.0, 1.0, 0.2, 1.0, 1.0, 20, 1, 1)
    with pytest.raises(ValueError, match="B"):
        fmo_maml_accuracy(1.0, 1.0, 0.1, 1.0, 1.0, 0.5, 1, 1)


def test_fo_maml_floor_of_theorem_47():
    """20 α² L² σ²: the term of Theorem 4.7's bound that σ²/B → 0 leaves behind."""
    import jax

    from metatheory.bounds.fmo import fo_maml_floor

    # 20 * 0.1^2 * 2^2 * 3 = 2.4
    assert fo_maml_floor(0.1, 2.0, 3.0) == pytest.approx(2.4, rel=1e-15)
    alpha = np.array([0.01, 0.02, 0.04])
    np.testing.assert_allclose(fo_maml_floor(alpha, 1.0, 0.5), 10 * alpha**2, rtol=1e-15)
    # quadratic in alpha and in L: d/dalpha = 40 alpha L^2 sigma^2
    assert jax.grad(fo_maml_floor)(0.1, 2.0, 3.0) == pytest.approx(48.0, rel=1e-6)
    for kw, name in (({"alpha": 0.0}, "alpha"), ({"L": -1.0}, "L"), ({"sigma2": -1.0}, "sigma2")):
        args = {"alpha": 0.1, "L": 1.0, "sigma2": 1.0} | kw
        with pytest.raises(ValueError, match=name):
            fo_maml_floor(**args)
