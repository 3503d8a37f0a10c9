"""C7: the HF-MAML learner and its error bounds, checked against exact Hessian-vector
products, MAML's meta-gradient and the sympy derivation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

from metatheory import bounds, learners
from metatheory.symbolic import hessian_free as sym


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _mlp_loss(params, x, y):
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"] - y) ** 2)


def _mlp_task(key, d=3, hidden=5, m=6):
    k = jax.random.split(key, 6)
    params = {
        "w1": jax.random.normal(k[0], (d, hidden)),
        "b1": jax.random.normal(k[1], (hidden,)),
        "w2": jax.random.normal(k[2], (hidden,)) / np.sqrt(hidden),
    }
    support = (jax.random.normal(k[3], (m, d)), jnp.sin(jax.random.normal(k[4], (m,))))
    query = (jax.random.normal(k[5], (m, d)), jnp.cos(jax.random.normal(k[4], (m,))))
    return params, support, query


def _dist(a, b):
    return float(
        jnp.linalg.norm(jax.flatten_util.ravel_pytree(a)[0] - jax.flatten_util.ravel_pytree(b)[0])
    )


def test_converges_to_maml_at_order_two_on_pytrees():
    params, s, q = _mlp_task(jax.random.key(0))
    exact = learners.maml_meta_gradient(_mlp_loss, params, s, q, alpha=0.3, n_inner=1)
    deltas = np.array([2e-2, 1e-2, 5e-3, 2.5e-3])
    errs = [
        _dist(learners.hf_maml_meta_gradient(_mlp_loss, params, s, q, alpha=0.3, delta=d), exact)
        for d in deltas
    ]
    slope = np.polyfit(np.log(deltas), np.log(errs), 1)[0]
    # derived: error = alpha * f''''[v,v,v] delta^2 / 6 + O(delta^4); next order ~1e-3 here
    assert abs(slope - 2.0) < 0.02, slope
    assert errs[-1] < 1e-5 * _dist(exact, jax.tree_util.tree_map(jnp.zeros_like, exact))


def test_central_difference_is_exact_for_quadratic_gradients():
    """For a cubic loss the gradient is quadratic: the central difference has no error."""
    a = jnp.array([0.6, -0.8])
    grad = jax.grad(lambda w: (a @ w) ** 3 / 6 + jnp.sum(w**2))
    w, v = jnp.array([0.3, 1.1]), jnp.array([-0.7, 0.2])
    hvp = jax.jvp(grad, (w,), (v,))[1]
    got = learners.central_difference_hvp(grad, w, v, delta=0.37)
    assert np.allclose(got, hvp, rtol=1e-13, atol=1e-14)


def test_abs_cubic_attains_the_lipschitz_bound():
    rho, delta = 2.0, 0.05
    a = jnp.array([0.6, 0.8])
    grad = jax.grad(lambda w: rho / 6 * jnp.abs(a @ w - 0.5) ** 3)
    w = jnp.array([0.5 / 0.6, 0.0])  # a.w = 0.5: the kink
    v = 1.7 * a
    hvp = jax.jvp(grad, (w,), (v,))[1]
    err = np.linalg.norm(learners.central_difference_hvp(grad, w, v, delta=delta) - hvp)
    bound = bounds.hf_maml_hvp_error_bound(rho, delta, 1.7)
    assert err == pytest.approx(bound, rel=1e-10)


def test_vmap_and_jit_match_a_loop():
    keys = jax.random.split(jax.random.key(3), 3)
    tasks = [_mlp_task(k) for k in keys]
    params = tasks[0][0]
    ss = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[t[1] for t in tasks])
    qs = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[t[2] for t in tasks])

    def one(s, q):
        return learners.hf_maml_meta_gradient(_mlp_loss, params, s, q, alpha=0.1, delta=1e-3)

    batched = jax.jit(jax.vmap(one))(ss, qs)
    for i, t in enumerate(tasks):
        ref = one(t[1], t[2])
        got = jax.tree_util.tree_map(lambda x, i=i: x[i], batched)
        assert _dist(got, ref) < 1e-12


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        (dict(alpha=-0.1, delta=1e-3), "alpha"),
        (dict(alpha=0.1, delta=0.0), "delta"),
        (dict(alpha=0.1, delta=np.inf), "delta"),
        (dict(alpha=0.1, delta=True), "delta"),
    ],
)
def test_learner_validates(kw, name):
    params, s, q = _mlp_task(jax.random.key(1))
    with pytest.raises(ValueError, match=rf"^{name} must"):
        learners.hf_maml_meta_gradient(_mlp_loss, params, s, q, **kw)
    with pytest.raises(ValueError, match="support must"):
        learners.hf_maml_meta_gradient(_mlp_loss, params, s[0], q, alpha=0.1, delta=1e-3)


def test_bound_examples_and_validation():
    assert bounds.hf_maml_hvp_error_bound(2, 0.1, 3) == pytest.approx(0.9, rel=1e-15)
    assert bounds.hf_maml_hvp_error_bound_smooth(6, 0.1, 2) == pytest.approx(0.08, rel=1e-15)
    for kw, name in [
        (dict(rho=-1, delta=0.1, v_norm=1), "rho"),
        (dict(rho=1, delta=0.0, v_norm=1), "delta"),
        (dict(rho=1, delta=0.1, v_norm=-1), "v_norm"),
    ]:
        with pytest.raises(ValueError, match=rf"^{name} must"):
            bounds.hf_maml_hvp_error_bound(**kw)
    with pytest.raises(ValueError, match="^rho3 must"):
        bounds.hf_maml_hvp_error_bound_smooth(-1, 0.1, 1)
    nan = jax.jit(lambda d: bounds.hf_maml_hvp_error_bound(1.0, d, 1.0))(jnp.float64(-0.1))
    assert np.isnan(nan)


def test_derivation():
    lip = sym.derive_lipschitz_hessian_bound()
    assert sp.simplify(lip["central"] - sym.rho * sym.delta * sym.v**2 / 2) == 0
    assert sp.simplify(lip["one_sided"] - lip["central"]) == 0
    smooth = sym.derive_smooth_bound()["central"]
    assert sp.simplify(smooth - sym.rho3 * sym.delta**2 * sym.v**3 / 6) == 0
    att = sym.derive_attainment()
    assert sp.simplify(att["abs_cubic"]["central"] - lip["central"]) == 0
    assert att["cubic"]["central"] == 0
    assert sp.simplify(att["quartic"]["central"] - smooth) == 0
    ser = sym.derive_series()
    a = ser["a"]
    assert (
        sp.expand(
            ser["central"]
            - a[4] * sym.v**3 * sym.delta**2 / 6
            - a[6] * sym.v**5 * sym.delta**4 / 120
        )
        == 0
    )
    assert sp.expand(ser["one_sided_leading"] - a[3] * sym.v**2 * sym.delta / 2) == 0


def test_calculator_matches_derivation_at_random_arguments():
    f = sp.lambdify((sym.rho, sym.delta, sym.v), sym.derive_lipschitz_hessian_bound()["central"])
    g = sp.lambdify((sym.rho3, sym.delta, sym.v), sym.derive_smooth_bound()["central"])
    rng = np.random.default_rng(0)
    r, d, v = rng.uniform(0.01, 5, (3, 50))
    assert np.allclose(bounds.hf_maml_hvp_error_bound(r, d, v), f(r, d, v), rtol=1e-14)
    assert np.allclose(bounds.hf_maml_hvp_error_bound_smooth(r, d, v), g(r, d, v), rtol=1e-14)


def test_stationarity_matches_maml_where_first_order_stalls():
    """Full-batch meta-training on circular tasks (C4's family, a skewed pool), one inner step:
    at HF-MAML's end point the exact ∇F is at most the derived bias
    mean_i αρδ‖v_i‖²/2 plus the remaining HF step (triangle inequality), as small as MAML's,
    while first-order MAML stops where ∇F = −α mean_i H_i v_i is orders of magnitude larger."""
    from metatheory.tasks import circular

    fam = circular.CircularFamily(d=2, L=1.0, tau=0.5)
    thetas = circular.sample_tasks(jax.random.key(4), 8, fam).astype(jnp.float64)
    thetas = thetas.at[:2].add(1.5)
    alpha, beta, delta, steps = 0.1, 0.5, 1e-2, 3000
    x = jnp.concatenate([jnp.eye(2), jnp.full((2, 1), fam.L * fam.d)], 1)

    def loss(w, x, y):  # L sum_k (1 - cos(w_k - y_k)): gradient L sin, Hessian Lipschitz L
        return jnp.mean(x[:, -1] * (1.0 - jnp.cos(x[:, :-1] @ w - y)))

    def objective(w):  # the exact one-step MAML objective, written from the closed form
        adapted = w - alpha * fam.L * jnp.sin(w - thetas)
        return jnp.mean(jnp.sum(fam.L * (1.0 - jnp.cos(adapted - thetas)), axis=1))

    def meta(method, w):
        def one(theta):
            task = (x, theta)
            if method == "hf":
                return learners.hf_maml_meta_gradient(loss, w, task, task, alpha=alpha, delta=delta)
            fo = method == "fo"
            return learners.maml_meta_gradient(
                loss, w, task, task, alpha=alpha, n_inner=1, first_order=fo
            )

        return jnp.mean(jax.vmap(one)(thetas), axis=0)

    def train(method):
        body = lambda _, w: w - beta * meta(method, w)  # noqa: E731
        return jax.jit(lambda w: jax.lax.fori_loop(0, steps, body, w))(jnp.zeros(2))

    grad_f = jax.grad(objective)
    w_maml, w_hf, w_fo = train("maml"), train("hf"), train("fo")
    v = jax.vmap(lambda th: fam.L * jnp.sin(w_hf - alpha * fam.L * jnp.sin(w_hf - th) - th))(thetas)
    bias = float(
        jnp.mean(bounds.hf_maml_hvp_error_bound(fam.rho, delta, jnp.linalg.norm(v, axis=1)))
    )
    bias *= alpha
    stat_hf = float(jnp.linalg.norm(grad_f(w_hf)))
    assert stat_hf <= bias + float(jnp.linalg.norm(meta("hf", w_hf)))
    assert float(jnp.linalg.norm(grad_f(w_maml))) < 1e-10
    assert stat_hf < 1e-3 * float(jnp.linalg.norm(grad_f(w_fo)))
