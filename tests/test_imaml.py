"""Unit tests of metatheory.imaml_meta_gradient: least squares against the exact solve, the
batched form, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metatheory import batched_imaml_meta_gradient, imaml_meta_gradient
from metatheory.learners.imaml import proximal_solve
from metatheory.tasks import linear

LAM = 0.7


def _exact(theta, support, query, lam):
    """iMAML on ``||x phi - y||^2 / 2m`` in closed form (numpy float64):
    ``phi* = (H + lam I)^{-1}(lam theta + x^T y / m)``, ``g = (I + H/lam)^{-1} grad L_Q(phi*)``."""
    (xs, ys), (xq, yq) = support, query
    h = linear.hessian(xs)
    d = h.shape[0]
    b = np.asarray(xs, np.float64).T @ np.asarray(ys, np.float64) / xs.shape[0]
    phi = np.linalg.solve(h + lam * np.eye(d), lam * np.asarray(theta, np.float64) + b)
    return phi, np.linalg.solve(np.eye(d) + h / lam, linear.gradient(phi, xq, yq))


def _tasks(n_tasks, m=12, d=5, seed=0):
    xs, ys, _ = linear.sample_tasks(jax.random.key(seed), 2 * n_tasks, m, d)
    return (xs[::2], ys[::2]), (xs[1::2], ys[1::2])


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


def test_least_squares_matches_exact_solve_float64():
    with jax.enable_x64(True):
        (xs, ys), (xq, yq) = _tasks(1)
        theta = jax.random.normal(jax.random.key(3), (xs.shape[-1],))
        g, info = imaml_meta_gradient(
            linear.loss, theta, (xs[0], ys[0]), (xq[0], yq[0]), lam=LAM, return_info=True
        )
        phi, g_exact = _exact(theta, (xs[0], ys[0]), (xq[0], yq[0]), LAM)
        assert g.dtype == jnp.float64
        assert _rel(info.phi, phi) < 1e-10
        assert _rel(g, g_exact) < 1e-10
        # the first-order shortcut (no inverse) is far off: the test can fail
        assert _rel(jax.grad(linear.loss)(info.phi, xq[0], yq[0]), g_exact) > 1e-3


def test_least_squares_float32_is_accurate_to_float32():
    (xs, ys), (xq, yq) = _tasks(1, seed=1)
    theta = jnp.zeros(xs.shape[-1])
    g = imaml_meta_gradient(linear.loss, theta, (xs[0], ys[0]), (xq[0], yq[0]), lam=LAM)
    _, g_exact = _exact(theta, (xs[0], ys[0]), (xq[0], yq[0]), LAM)
    assert g.dtype == jnp.float32
    assert _rel(g, g_exact) < 1e-5


def test_pytree_params_and_batched_mean():
    with jax.enable_x64(True):
        (xs, ys), (xq, yq) = _tasks(3, seed=2)
        d = xs.shape[-1]

        def loss(p, x, y):  # the same least-squares loss over a dict of two blocks
            return linear.loss(jnp.concatenate([p["a"], p["b"]]), x, y)

        theta = jax.random.normal(jax.random.key(4), (d,))
        params = {"a": theta[:2], "b": theta[2:]}
        g = batched_imaml_meta_gradient(loss, params, (xs, ys), (xq, yq), lam=LAM)
        exact = np.mean(
            [_exact(theta, (xs[t], ys[t]), (xq[t], yq[t]), LAM)[1] for t in range(3)], axis=0
        )
        assert _rel(np.concatenate([g["a"], g["b"]]), exact) < 1e-10


def test_proximal_solve_large_lam_stays_near_theta():
    with jax.enable_x64(True):
        (xs, ys), _ = _tasks(1)
        theta = jnp.ones(xs.shape[-1])
        phi, n_iter, gnorm = proximal_solve(linear.loss, theta, (xs[0], ys[0]), lam=1e6)
        assert float(jnp.max(jnp.abs(phi - theta))) < 1e-4
        assert int(n_iter) >= 1 and float(gnorm) >= 0


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"lam": 0.0}, "lam"),
        ({"lam": -1.0}, "lam"),
        ({"lam": float("nan")}, "lam"),
        ({"lam": float("inf")}, "lam"),
        ({"lam": 1.0, "inner_tol": -1e-3}, "inner_tol"),
        ({"lam": 1.0, "cg_tol": float("nan")}, "cg_tol"),
        ({"lam": 1.0, "inner_maxiter": 0}, "inner_maxiter"),
        ({"lam": 1.0, "cg_maxiter": 2.5}, "cg_maxiter"),
        ({"lam": 1.0, "hvp_mode": "bogus"}, "hvp_mode"),
    ],
)
def test_bad_input_raises_naming_the_argument(kw, name):
    x, y = jnp.ones((4, 2)), jnp.ones(4)
    with pytest.raises(ValueError, match=name):
        imaml_meta_gradient(linear.loss, jnp.zeros(2), (x, y), (x, y), **kw)


def test_bad_support_raises():
    x = jnp.ones((4, 2))
    with pytest.raises(ValueError, match="support"):
        imaml_meta_gradient(linear.loss, jnp.zeros(2), x, (x, jnp.ones(4)), lam=1.0)
    with pytest.raises(ValueError, match="queries"):
        batched_imaml_meta_gradient(linear.loss, jnp.zeros(2), (x, x), x, lam=1.0)


# ------------------------------------------------------------------ missed tolerances


def _concave(phi, x, y):
    """A support loss whose proximal objective is unbounded below for lam < 2: the inner
    solve diverges."""
    return -jnp.sum(phi**2) + 0.0 * jnp.sum(x) + 0.0 * jnp.sum(y)


def test_diverging_inner_solve_gives_nan_and_says_so():
    with jax.enable_x64(True):
        (xs, ys), (xq, yq) = _tasks(1)
        theta = jnp.ones(xs.shape[-1])
        g, info = imaml_meta_gradient(
            _concave, theta, (xs[0], ys[0]), (xq[0], yq[0]), lam=0.5, return_info=True
        )
        assert np.all(np.isnan(np.asarray(g)))  # never a zero or finite wrong gradient
        assert not bool(info.inner_converged) and not bool(info.converged)
        with pytest.raises(RuntimeError, match="inner solve FAILED"):
            imaml_meta_gradient(
                _concave, theta, (xs[0], ys[0]), (xq[0], yq[0]), lam=0.5, strict=True
            )
        # batched: the task that diverged makes the mean NaN
        gb = batched_imaml_meta_gradient(_concave, theta, (xs, ys), (xq, yq), lam=0.5)
        assert np.all(np.isnan(np.asarray(gb)))


def test_capped_inner_solve_and_cg_give_nan_and_say_so():
    with jax.enable_x64(True):
        (xs, ys), (xq, yq) = _tasks(1, m=40, d=12, seed=2)
        theta = jax.random.normal(jax.random.key(5), (xs.shape[-1],))
        s, q = (xs[0], ys[0]), (xq[0], yq[0])
        g, info = imaml_meta_gradient(linear.loss, theta, s, q, lam=0.05, return_info=True)
        assert bool(info.converged) and np.all(np.isfinite(np.asarray(g)))  # uncapped: fine

        # inner solve of a non-quadratic loss capped at 2 L-BFGS iterations (on a quadratic
        # the final Newton step would still solve it exactly)
        def quartic(phi, x, y):
            return linear.loss(phi, x, y) + 0.25 * jnp.sum(phi**4)

        g, info = imaml_meta_gradient(quartic, theta, s, q, lam=0.05, return_info=True)
        assert bool(info.converged) and np.all(np.isfinite(np.asarray(g)))
        g, info = imaml_meta_gradient(
            quartic, theta, s, q, lam=0.05, inner_maxiter=2, return_info=True
        )
        assert not bool(info.inner_converged) and np.all(np.isnan(np.asarray(g)))
        # CG capped at 2 iterations: its residual stays far above the tolerance
        g, info = imaml_meta_gradient(
            linear.loss, theta, s, q, lam=0.05, cg_maxiter=2, return_info=True
        )
        assert bool(info.inner_converged) and not bool(info.cg_converged)
        assert float(info.cg_residual) > 1e-3 and np.all(np.isnan(np.asarray(g)))
        with pytest.raises(RuntimeError, match="CG FAILED"):
            imaml_meta_gradient(linear.loss, theta, s, q, lam=0.05, cg_maxiter=2, strict=True)
        # a looser stated tolerance is met by the same cap
        g, info = imaml_meta_gradient(
            linear.loss, theta, s, q, lam=0.05, cg_maxiter=2, cg_tol=0.5, return_info=True
        )
        assert bool(info.cg_converged) and np.all(np.isfinite(np.asarray(g)))
        # tolerance 0: a fixed iteration count, not checked
        g = imaml_meta_gradient(linear.loss, theta, s, q, lam=0.05, inner_maxiter=2, inner_tol=0.0)
        assert np.all(np.isfinite(np.asarray(g)))


def test_cg_iteration_equals_jax_cg():
    """The curvature-tracking CG runs jax.scipy's iteration: the same iterate, bit for bit."""
    from metatheory.learners.imaml import _cg

    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        m = rng.normal(size=(6, 6))
        a = jnp.asarray(m @ m.T + 0.5 * np.eye(6))
        b = {"u": jnp.asarray(rng.normal(size=4)), "v": jnp.asarray(rng.normal(size=2))}
        flat = lambda t: jnp.concatenate([t["u"], t["v"]])
        mv = lambda t: (lambda y: {"u": y[:4], "v": y[4:]})(a @ flat(t))
        want, _ = jax.scipy.sparse.linalg.cg(mv, b, tol=1e-10)
        got, curv = jax.jit(lambda b: _cg(mv, b, tol=1e-10, maxiter=None))(b)
        assert np.array_equal(np.asarray(flat(got)), np.asarray(flat(want)))
        assert float(curv) >= float(np.linalg.eigvalsh(np.asarray(a))[0]) * (1 - 1e-12)


def _two_coordinate_problem(h):
    """Support loss 1/2 (p - c)^T diag(h) (p - c), query loss 1/2 |p - (2, 2)|^2; the data
    selects the loss (support x = 0, query x = 1)."""
    c, h = jnp.array([0.3, -0.2]), jnp.asarray(h)

    def loss(p, x, y):
        support = 0.5 * jnp.sum(h * (p - c) ** 2)
        query = 0.5 * jnp.sum((p - 2.0) ** 2)
        return jnp.where(x[0] > 0, query, support) + 0.0 * jnp.sum(y)

    z = jnp.zeros(1)
    return loss, (z, z), (z + 1, z)


def test_saddle_of_the_proximal_problem_is_not_converged():
    """h = (1, -3), lam = 1: I + H/lam = diag(2, -2) is indefinite. From theta on the saddle's
    stable manifold (theta_2 = c_2) the inner solve stops at the saddle
    phi* = ((c_1 + theta_1)/2, c_2); CG, with a query gradient that has both components, meets
    the negative direction. The gradient must not be reported; with h = (1, 3) it is."""
    with jax.enable_x64(True):
        theta = jnp.array([1.0, -0.2])
        loss, s, q = _two_coordinate_problem([1.0, -3.0])
        g, info = imaml_meta_gradient(loss, theta, s, q, lam=1.0, return_info=True)
        np.testing.assert_allclose(np.asarray(info.phi), [0.65, -0.2], atol=1e-9)
        assert not bool(info.converged) and float(info.cg_min_curvature) <= 0
        assert np.all(np.isnan(np.asarray(g)))
        with pytest.raises(RuntimeError, match="positive definite"):
            imaml_meta_gradient(loss, theta, s, q, lam=1.0, strict=True)
        loss, s, q = _two_coordinate_problem([1.0, 3.0])
        g, info = imaml_meta_gradient(loss, theta, s, q, lam=1.0, return_info=True)
        assert bool(info.converged) and float(info.cg_min_curvature) > 0
        phi = np.array([(0.3 + 1.0) / 2, (3 * -0.2 - 0.2) / 4])  # (H + I) phi = H c + theta
        want = (phi - 2.0) / np.array([2.0, 4.0])  # (I + H)^-1 grad L_Q(phi*)
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-9)
