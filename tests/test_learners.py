"""The public MAML API: shapes, first-order and truncated semantics, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import metatheory as mt
from metatheory import nets
from metatheory.tasks import linear, sinusoid


@pytest.fixture
def problem():
    params = nets.init(jax.random.key(0), (1, 8, 1))
    s, q = sinusoid.sample_batch(jax.random.key(1), 3, 5, 5)
    return params, s, q


def test_meta_gradient_is_shaped_like_params(problem):
    params, s, q = problem
    one = jax.tree_util.tree_map(lambda a: a[0], (s, q))
    g = mt.maml_meta_gradient(nets.mse_loss, params, *one, alpha=0.01, n_inner=2)
    assert jax.tree_util.tree_structure(g) == jax.tree_util.tree_structure(params)
    gb = mt.batched_maml_meta_gradient(nets.mse_loss, params, s, q, alpha=0.01, n_inner=2)
    assert all(
        a.shape == b.shape
        for a, b in zip(jax.tree.leaves(gb), jax.tree.leaves(params), strict=True)
    )


def test_batched_is_mean_of_single(problem):
    params, s, q = problem
    gb = mt.batched_maml_meta_gradient(nets.mse_loss, params, s, q, alpha=0.05, n_inner=3)
    singles = [
        mt.maml_meta_gradient(
            nets.mse_loss, params, (s[0][t], s[1][t]), (q[0][t], q[1][t]), alpha=0.05, n_inner=3
        )
        for t in range(3)
    ]
    mean = jax.tree_util.tree_map(lambda *a: sum(a) / 3, *singles)
    for a, b in zip(jax.tree.leaves(gb), jax.tree.leaves(mean), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_first_order_is_query_gradient_at_adapted_params(problem):
    params, s, q = problem
    one_s, one_q = jax.tree_util.tree_map(lambda a: a[0], (s, q))
    g = mt.maml_meta_gradient(
        nets.mse_loss, params, one_s, one_q, alpha=0.05, n_inner=3, first_order=True
    )
    phi = mt.inner_adapt(nets.mse_loss, params, one_s, alpha=0.05, n_inner=3)
    ref = jax.grad(nets.mse_loss)(phi, *one_q)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_zero_inner_steps_is_plain_gradient():
    x, y, _ = linear.sample_tasks(jax.random.key(3), 1, 10, 3)
    th = jnp.ones(3)
    g = mt.maml_meta_gradient(linear.loss, th, (x[0], y[0]), (x[0], y[0]), alpha=0.1, n_inner=0)
    np.testing.assert_allclose(g, jax.grad(linear.loss)(th, x[0], y[0]), rtol=1e-6)


def test_per_parameter_alpha_and_alpha_gradient():
    x, y, _ = linear.sample_tasks(jax.random.key(4), 2, 10, 3)
    th = jnp.zeros(3)
    alpha = jnp.full(3, 0.1)
    g_vec = mt.maml_meta_gradient(
        linear.loss, th, (x[0], y[0]), (x[1], y[1]), alpha=alpha, n_inner=2
    )
    g_sca = mt.maml_meta_gradient(linear.loss, th, (x[0], y[0]), (x[1], y[1]), alpha=0.1, n_inner=2)
    np.testing.assert_allclose(g_vec, g_sca, rtol=1e-6)
    da = jax.grad(
        lambda a: mt.maml_meta_loss(linear.loss, th, (x[0], y[0]), (x[1], y[1]), alpha=a, n_inner=2)
    )(0.1)
    assert np.isfinite(da)


def test_reptile_one_step_is_sgd_direction():
    x, y, _ = linear.sample_tasks(jax.random.key(5), 1, 10, 3)
    th = jnp.ones(3)
    d = mt.reptile_direction(linear.loss, th, (x[0], y[0]), alpha=0.1, n_inner=1)
    np.testing.assert_allclose(d, jax.grad(linear.loss)(th, x[0], y[0]), rtol=1e-5)


@pytest.mark.parametrize("method", ["maml", "fomaml", "reptile"])
def test_meta_step_reduces_meta_loss(method):
    key = jax.random.key(6)
    params = nets.init(key, (1, 16, 1))
    step = mt.make_meta_step(nets.mse_loss, optax.adam(1e-2), alpha=0.01, n_inner=1, method=method)
    opt = optax.adam(1e-2).init(params)
    s, q = sinusoid.sample_batch(jax.random.key(7), 10, 10, 10)
    _, _, first = step(params, opt, s, q)
    for _ in range(100):
        params, opt, loss = step(params, opt, s, q)
    assert loss < first


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"n_inner": -1}, "n_inner"),
        ({"n_inner": 2, "truncate": 3}, "truncate"),
        ({"n_inner": 1.5}, "n_inner"),
        ({"n_inner": 1, "alpha": float("nan")}, "alpha"),
        ({"n_inner": 1, "alpha": float("inf")}, "alpha"),
        ({"n_inner": 1, "alpha": jnp.nan}, "alpha"),
        ({"n_inner": 1, "alpha": jnp.array([0.1, jnp.nan])}, "alpha"),
        ({"n_inner": 1, "alpha": np.array([0.1, np.inf])}, "alpha"),
        ({"n_inner": 1, "alpha": True}, "alpha"),
        ({"n_inner": 2, "truncate": 1.5}, "truncate"),
        ({"n_inner": 2, "truncate": True}, "truncate"),
        ({"n_inner": 2, "truncate": 2, "first_order": True}, "first_order"),
        ({"n_inner": 2, "checkpoint": "yes"}, "checkpoint"),
    ],
)
def test_bad_arguments_name_the_argument(kw, match):
    kw = {"alpha": 0.1, **kw}
    th = jnp.zeros(2)
    data = (jnp.ones((3, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match=match):
        mt.maml_meta_gradient(linear.loss, th, data, data, **kw)


def test_unknown_method_rejected():
    with pytest.raises(ValueError, match="method"):
        mt.make_meta_step(nets.mse_loss, optax.sgd(0.1), alpha=0.1, n_inner=1, method="sgd")


@pytest.mark.parametrize(
    "support, query, match",
    [
        ((jnp.ones((3, 2)), jnp.ones(3), jnp.ones(3)), None, "support must be an \\(x, y\\) pair"),
        (jnp.ones((3, 2)), None, "support must be an \\(x, y\\) pair"),
        (None, (jnp.ones((3, 2)),), "query must be an \\(x, y\\) pair"),
    ],
)
def test_support_and_query_must_be_pairs(support, query, match):
    data = (jnp.ones((3, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match=match):
        mt.maml_meta_gradient(
            linear.loss,
            jnp.zeros(2),
            data if support is None else support,
            data if query is None else query,
            alpha=0.1,
            n_inner=1,
        )


def test_batched_needs_a_task_axis():
    th = jnp.zeros(2)
    one = (jnp.ones((3, 2)), jnp.ones(3))  # one task, no task axis
    with pytest.raises(ValueError, match="leading task axis"):
        mt.batched_maml_meta_gradient(linear.loss, th, one, one, alpha=0.1, n_inner=1)
    two = (jnp.ones((2, 3, 2)), jnp.ones((2, 3)))
    three = (jnp.ones((3, 3, 2)), jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="one leading task axis"):
        mt.batched_maml_meta_gradient(linear.loss, th, two, three, alpha=0.1, n_inner=1)
    with pytest.raises(ValueError, match="supports must be an"):
        mt.batched_maml_meta_loss(linear.loss, th, two[0], two, alpha=0.1, n_inner=1)


def test_scan_options_leave_results_unchanged(problem):
    """lax.scan with unroll or jax.checkpoint (any policy) gives the same meta-gradient as a
    plain Python loop of the product formula's steps."""
    params, s, q = problem
    one = jax.tree_util.tree_map(lambda a: a[0], (s, q))

    def loop(p, n, k):
        x, y = one[0]
        for j in range(n):
            g = jax.grad(nets.mse_loss)(p, x, y)
            if j < n - k:
                g = jax.lax.stop_gradient(g)
            p = jax.tree_util.tree_map(lambda a, b: a - 0.05 * b, p, g)
        return nets.mse_loss(p, *one[1])

    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
        one = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), one)
        for k in (None, 0, 2):
            want = jax.grad(loop)(params, 4, 4 if k is None else k)
            for opts in (
                {},
                {"unroll": True},
                {"unroll": 2},
                {"checkpoint": True},
                {"checkpoint": jax.checkpoint_policies.dots_saveable},
            ):
                got = mt.maml_meta_gradient(
                    nets.mse_loss, params, *one, alpha=0.05, n_inner=4, truncate=k, **opts
                )
                for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
                    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_inner_adapt_per_step_uses_batch_j():
    x = jnp.arange(6.0).reshape(3, 2, 1)
    y = jnp.zeros((3, 2))
    loss = lambda p, x, y: jnp.mean((x[:, 0] * p - y) ** 2)
    out = mt.inner_adapt(loss, 1.0, (x, y), alpha=0.01, n_inner=3, per_step=True)
    p = 1.0
    for j in range(3):
        p = p - 0.01 * jax.grad(loss)(p, x[j], y[j])
    assert float(out) == pytest.approx(float(p), rel=1e-6)


def test_reptile_rejects_zero_step():
    import jax
    import jax.numpy as jnp
    import optax

    from metatheory.learners import make_meta_step, reptile_direction

    lf = lambda p, x, y: jnp.mean((x * p["w"] - y) ** 2)
    w = {"w": jnp.ones(1)}
    x = jnp.linspace(-1, 1, 5)[:, None]
    with pytest.raises(ValueError, match="alpha must be > 0 for Reptile"):
        reptile_direction(lf, w, (x, 2 * x), alpha=0.0, n_inner=3)
    with pytest.raises(ValueError, match="alpha must be > 0 for Reptile"):
        make_meta_step(lf, optax.sgd(0.1), alpha=0.0, n_inner=1, method="reptile")
    d = reptile_direction(lf, w, (x, 2 * x), alpha=0.1, n_inner=3)
    assert np.all(np.isfinite(np.asarray(jax.tree_util.tree_leaves(d)[0])))


def test_alpha_pytree_must_match_params():
    import jax.numpy as jnp

    from metatheory.learners import maml_meta_gradient

    lf = lambda p, x, y: jnp.mean((x * p["w"] - y) ** 2)
    x = jnp.linspace(-1, 1, 5)
    task = (x, 2 * x)
    with pytest.raises(ValueError, match="alpha must be a scalar or a pytree shaped like params"):
        maml_meta_gradient(lf, {"w": 1.0}, task, task, alpha={"a": 1.0}, n_inner=1)
    g = maml_meta_gradient(lf, {"w": 1.0}, task, task, alpha={"w": 0.1}, n_inner=1)
    g0 = maml_meta_gradient(lf, {"w": 1.0}, task, task, alpha=0.1, n_inner=1)
    assert float(g["w"]) == pytest.approx(float(g0["w"]), rel=1e-6)


def test_negative_alpha_is_a_training_rate_and_non_finite_alpha_raises():
    """A negative rate (Bernacchia 2021's training rate) is accepted concretely and gives the
    closed form: for L(w) = mean((x w − y)²) with y = 2x, one inner step from w gives
    w' = w − 2α m₂ (w − 2), m₂ = mean(x²), and dL(w')/dw = 2 m₂ (w' − 2)(1 − 2α m₂)."""
    import jax.numpy as jnp

    from metatheory.learners import maml_meta_gradient

    lf = lambda p, x, y: jnp.mean((x * p["w"] - y) ** 2)
    x = jnp.linspace(-1, 1, 5)
    task = (x, 2 * x)
    m2 = float(jnp.mean(x**2))
    for alpha in (-0.3, 0.3):
        w1 = 1.0 - 2 * alpha * m2 * (1.0 - 2.0)
        want = 2 * m2 * (w1 - 2.0) * (1 - 2 * alpha * m2)
        g = maml_meta_gradient(lf, {"w": 1.0}, task, task, alpha=alpha, n_inner=1)
        assert float(g["w"]) == pytest.approx(want, rel=1e-6)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="alpha must be finite"):
            maml_meta_gradient(lf, {"w": 1.0}, task, task, alpha=bad, n_inner=1)
