"""Unit tests of the GP task family and the neural-process learners."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metatheory.learners import neural_process as npl
from metatheory.tasks import gp


def _np_predictive(xc, yc, xt, ell, s2, noise):
    k = lambda a, b: s2 * np.exp(-0.5 * (a[:, None, 0] - b[None, :, 0]) ** 2 / ell**2)
    a = k(xc, xc) + noise**2 * np.eye(len(xc))
    kt = k(xt, xc)
    mean = kt @ np.linalg.solve(a, yc[:, 0])
    var = s2 - np.sum(kt * np.linalg.solve(a, kt.T).T, 1) + noise**2
    return mean, var


_predictive = jax.jit(gp.posterior_predictive)


@settings(max_examples=15, deadline=None)
@given(
    n=st.sampled_from([1, 4, 12]),
    ell=st.floats(0.2, 2.0),
    noise=st.floats(0.05, 1.0),
    xs=st.lists(st.floats(-2.0, 2.0), min_size=17, max_size=17),
    ys=st.lists(st.floats(-3.0, 3.0), min_size=17, max_size=17),
)
def test_predictive_matches_numpy(n, ell, noise, xs, ys):
    with jax.enable_x64(True):
        x, y = np.array(xs)[: n + 5, None], np.array(ys)[: n + 5, None]
        mean, var = _predictive(x[:n], y[:n], x[n:], ell, noise=noise)
        rm, rv = _np_predictive(x[:n], y[:n], x[n:], ell, 1.0, noise)
        np.testing.assert_allclose(mean, rm, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(var, rv, rtol=1e-9, atol=1e-12)


_sample = jax.jit(gp.sample_tasks, static_argnums=(1, 2, 3))


@jax.jit
def _prior_and_masks(x, y, ell):
    kw = {"variance": 2.0, "noise": 0.3}
    return (
        gp.posterior_predictive(x[:0], y[:0], x, ell, **kw),
        gp.posterior_predictive(x, y, x, ell, mask=jnp.arange(12) < 0, **kw),
        gp.posterior_predictive(x[:5], y[:5], x[8:], ell),
        gp.posterior_predictive(x, y, x[8:], ell, mask=jnp.arange(12) < 5),
    )


def test_empty_context_is_the_prior_and_mask_matches_slice():
    with jax.enable_x64(True):
        x, y, ell = _sample(jax.random.key(0), 1, 12, gp.DEFAULT)
        (m, v), (m2, v2), a, b = _prior_and_masks(x[0], y[0], ell[0])
        np.testing.assert_allclose(m, 0.0)
        np.testing.assert_allclose(v, 2.09)
        np.testing.assert_allclose(m2, 0.0, atol=1e-15)
        np.testing.assert_allclose(v2, 2.09, rtol=1e-13)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@jax.jit
def _one_target(x, y, ell):
    lp = gp.log_predictive_density(x[:8], y[:8], x[8:], y[8:], ell)
    return lp[0], gp.joint_log_predictive_density(x[:8], y[:8], x[8:], y[8:], ell)


def test_joint_density_of_one_target_is_the_marginal():
    with jax.enable_x64(True):
        x, y, ell = _sample(jax.random.key(1), 1, 9, gp.DEFAULT)
        lp, jl = _one_target(x[0], y[0], ell[0])
        np.testing.assert_allclose(jl, lp, rtol=1e-12)


def test_sample_tasks_shapes_and_lengthscale_range():
    fam = gp.GPFamily(lengthscale_range=(0.3, 0.5))
    x, y, ell = _sample(jax.random.key(2), 7, 11, fam)
    assert x.shape == y.shape == (7, 11, 1) and ell.shape == (7,)
    assert np.all((np.asarray(ell) >= 0.3) & (np.asarray(ell) <= 0.5))
    assert np.all(np.abs(np.asarray(x)) <= 2.0)


def test_gaussian_kl_closed_form():
    mu_q, s_q, mu_p, s_p = jnp.array([0.3]), jnp.array([0.5]), jnp.array([-0.2]), jnp.array([2.0])
    expected = np.log(2.0 / 0.5) + (0.25 + 0.25) / 8.0 - 0.5
    np.testing.assert_allclose(npl.gaussian_kl(mu_q, s_q, mu_p, s_p), expected, rtol=1e-6)
    assert float(npl.gaussian_kl(mu_q, s_q, mu_q, s_q)) == pytest.approx(0.0, abs=1e-7)


@jax.jit
def _cnp_three_ways(key):
    p = npl.init_cnp(key, npl.NPConfig(hidden=8, r_dim=8))
    x, y, _ = gp.sample_tasks(jax.random.fold_in(key, 1), 1, 10)
    x, y = x[0], y[0]
    mask = jnp.arange(10) < 6
    perm = jnp.array([5, 3, 1, 0, 2, 4, 6, 7, 8, 9])
    return (
        npl.cnp_predict(p, x, y, mask, x[6:]),
        npl.cnp_predict(p, x[perm], y[perm], mask, x[6:]),
        npl.cnp_predict(p, x[:6], y[:6], jnp.ones(6, bool), x[6:]),
    )


def test_cnp_is_invariant_to_context_order_and_masked_points():
    a, b, c = _cnp_three_ways(jax.random.key(3))
    np.testing.assert_allclose(a, b, rtol=1e-5)
    np.testing.assert_allclose(a, c, rtol=1e-5)


def test_linear_gaussian_lnp_is_affine_with_exact_likelihood():
    """The B2 linear-Gaussian LNP: the decoder mean is affine in z with a constant σ, and its
    importance-weighted log-likelihood with many samples reaches the closed form (the ELBO lies
    below it)."""
    from metatheory.experiments import neural_process as npx

    c = npx.NEURAL_PROCESSES_PRESETS["quick"]
    key = jax.random.key(11)
    p = npx.linear_gaussian_lnp(key, c)
    x, y, _ = gp.sample_tasks(jax.random.fold_in(key, 1), 1, 30, npx.FAMILY)
    x, y = x[0], y[0]
    ctx = jnp.arange(30) < 10
    r = jnp.zeros(c.hidden)
    z1, z2 = jnp.array([0.3, -1.0]), jnp.array([-0.7, 0.4])
    m1, s1 = npl.lnp_decode(p, z1, r, x)
    m2, _ = npl.lnp_decode(p, z2, r, x)
    mid, _ = npl.lnp_decode(p, 0.5 * (z1 + z2), r, x)
    np.testing.assert_allclose(mid, 0.5 * (m1 + m2), atol=1e-4)
    np.testing.assert_allclose(s1, c.bound_sigma, rtol=1e-5)
    q = npx.exact_bounds(p, x, y, ctx, ~ctx)
    elbo, loglik, kl = npx.closed_forms(q, np.asarray(y), np.asarray(~ctx))
    assert kl >= 0 and elbo < loglik
    est = npl.lnp_log_likelihood_is(p, jax.random.key(12), x, y, ctx, ~ctx, n_samples=8192)
    assert abs(float(est) - loglik) < 0.05 * (loglik - elbo) + 0.02


def test_training_lowers_the_loss():
    fam = gp.GPFamily()

    def batch(key):
        x, y, _ = gp.sample_tasks(key, 4, 10, fam)
        return x, y, jnp.broadcast_to(jnp.arange(10) < 5, (4, 10))

    import optax

    p0 = npl.init_cnp(jax.random.key(9), npl.NPConfig(hidden=8, r_dim=8))
    train = npl.make_np_train("cnp", batch, optax.adam(1e-2))
    _, losses = train(p0, jax.random.key(10), 200)
    losses = np.asarray(losses)
    assert losses[-50:].mean() < losses[:20].mean()
    with pytest.raises(ValueError, match="model"):
        npl.make_np_train("xnp", batch, optax.adam(1e-2))
