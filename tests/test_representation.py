"""R1's pieces: the sympy derivation, the calculator, ANIL as MAML restricted to the head, and
the derived claims that first-order ANIL contracts at the same rate and that a fixed point is
stable only for αβλ_max < 1/2."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metatheory import bounds, learners
from metatheory.experiments.representation import _common
from metatheory.experiments.representation.anil_representation import _fit
from metatheory.symbolic import representation as sym


def _zero(m) -> bool:
    return all(e == 0 for e in m)


def test_meta_gradient_and_c_recursion_are_exact():
    g = sym.derive_meta_gradient()
    for k in ("difference", "c_difference", "gram_difference", "first_order_c_difference"):
        assert _zero(g[k]), k


def test_fixed_point_rate_and_linearisation():
    fp = sym.derive_fixed_point()
    assert set(fp["eigenvalues"]) == {s / sym.alpha for s in sym.sigma}
    assert set(fp["factors"]) == {1 - sym.alpha * sym.beta * s for s in sym.sigma}
    assert fp["difference"] == 0 and _zero(fp["orthogonality"])
    assert sym.derive_linearisation()["difference"] == 0
    assert _zero(sym.derive_no_adaptation()["difference"])


def test_calculator_value_validation_and_jit():
    assert bounds.anil_contraction_rate(0.5, 0.6, 0.3) == pytest.approx(0.91, rel=1e-15)
    assert bounds.CALCULATORS["anil-contraction-rate"] is bounds.anil_contraction_rate
    for args, name in [((0.0, 0.6, 0.3), "alpha"), ((0.5, -1, 0.3), "beta"),
                       ((0.5, 0.6, np.nan), "sigma_min"), ((1.0, 1.0, 0.6), "alpha")]:  # fmt: skip
        with pytest.raises(ValueError, match=name):
            bounds.anil_contraction_rate(*args)
    with jax.enable_x64(True):
        g = jax.grad(bounds.anil_contraction_rate, argnums=(0, 1, 2))(0.5, 0.6, 0.3)
        np.testing.assert_allclose([float(x) for x in g], [-0.18, -0.15, -0.3], rtol=1e-14)
        assert np.isnan(float(jax.jit(bounds.anil_contraction_rate)(1.0, 1.0, 0.6)))


def _problem(key, d=7, k=2):
    return _common.draw_instance(key, d, k, (1.0, 0.4))


def test_anil_equals_maml_with_a_zero_body_step():
    """ANIL's meta-gradient is MAML's with per-parameter steps {body: 0, head: α}, also after
    two inner steps and from a non-zero head."""
    with jax.enable_x64(True):
        b_star, b0, w, tasks = _problem(jax.random.key(3))
        params = {"body": b0, "head": w}
        for n_inner in (1, 2):
            got = learners.batched_anil_meta_gradient(
                _common.loss, params, tasks, tasks, alpha=0.3, n_inner=n_inner
            )
            want = learners.batched_maml_meta_gradient(
                _common.loss, params, tasks, tasks,
                alpha={"body": 0.0, "head": 0.3}, n_inner=n_inner,
            )  # fmt: skip
            for part in ("body", "head"):
                np.testing.assert_allclose(got[part], want[part], rtol=1e-12, atol=1e-14)
        one = learners.anil_meta_gradient(
            _common.loss, params, (tasks[0][0], tasks[1][0]), (tasks[0][0], tasks[1][0]),
            alpha=0.3, n_inner=1,
        )  # fmt: skip
        assert one["body"].shape == b0.shape and one["head"].shape == w.shape


def test_population_meta_gradient_is_the_closed_form():
    """The mean over the 2k tasks of ANIL's meta-gradient from a zero head is
    −α(PM + MP)B with M = B_* Σ B_*ᵀ (the population meta-gradient, derived)."""
    with jax.enable_x64(True):
        b_star, b0, _, tasks = _problem(jax.random.key(5))
        k = b0.shape[1]
        w_star = tasks[1] @ b_star  # (2k, k)
        sigma = w_star.T @ w_star / w_star.shape[0]
        np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(sigma)), [0.4, 1.0], rtol=1e-12)
        assert np.allclose(w_star.mean(0), 0.0, atol=1e-15)
        alpha = 0.7
        g = learners.batched_anil_meta_gradient(
            _common.loss, {"body": b0, "head": jnp.zeros(k)}, tasks, tasks, alpha=alpha, n_inner=1
        )
        M = b_star @ sigma @ b_star.T
        P = jnp.eye(b0.shape[0]) - alpha * b0 @ b0.T
        np.testing.assert_allclose(g["body"], -alpha * (P @ M + M @ P) @ b0, rtol=1e-11)
        np.testing.assert_allclose(g["head"], 0.0, atol=1e-14)


def _run(first_order, beta, sigma=(1.0, 0.6, 0.3), n_steps=250, alpha=0.5):
    b_star, b0, _, tasks = _common.draw_instance(jax.random.key(11), 12, 3, sigma)

    def step(p, _):
        g = learners.batched_anil_meta_gradient(
            _common.loss, p, tasks, tasks, alpha=alpha, n_inner=1, first_order=first_order
        )
        p = jax.tree_util.tree_map(lambda a, b: a - beta * b, p, g)
        return p, _common.subspace_distance(p["body"], b_star)

    p0 = {"body": b0, "head": jnp.zeros(3)}
    return np.asarray(jax.lax.scan(step, p0, None, length=n_steps)[1])


def test_first_order_anil_contracts_at_the_same_rate():
    """First-order ANIL drops MPB, whose C block is zero: the same asymptotic exponent, so a
    first-order learner is not a mutant of R1."""
    with jax.enable_x64(True):
        t = np.arange(125, 250, dtype=float)
        lr = float(np.log(bounds.anil_contraction_rate(0.5, 0.6, 0.3)))
        for fo in (False, True):
            slope, _ = _fit(t, np.log(_run(fo, 0.6)[125:]))
            assert abs(slope - lr) <= 1e-6 * abs(lr), (fo, slope, lr)


def test_unstable_outer_step_does_not_recover():
    """αβλ_max > 1/2 (β = 2.4 here: 1 − 4αβλ_max = −3.8): the fixed point is unstable and the
    run does not contract at ln ρ."""
    with jax.enable_x64(True):
        d = _run(False, 2.4, n_steps=60)
    assert not (np.all(np.isfinite(d)) and d[-1] < 1e-3 * d[0])


def test_transient_ratio_of_the_presets():
    assert _common.transient_ratio((1.0, 0.6, 0.3), 0.5, 0.6) == pytest.approx(0.82 / 0.91)
    assert _common.transient_ratio((1.0, 0.8, 0.65, 0.5, 0.25), 0.5, 0.6) == pytest.approx(
        0.85 / 0.925
    )


@pytest.mark.parametrize("params", [{"body": 1.0}, {"w": 1.0, "head": 2.0}, (1.0, 2.0)])
def test_anil_params_must_be_body_and_head(params):
    x = jnp.eye(2)[None]
    with pytest.raises(ValueError, match="params"):
        learners.batched_anil_meta_loss(
            _common.loss, params, (x, x[:, 0]), (x, x[:, 0]), alpha=0.1, n_inner=1
        )
