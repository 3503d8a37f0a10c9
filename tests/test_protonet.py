"""Unit tests of the prototypical / matching network learners and the M1/M2 derivations."""

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from metatheory.experiments import protonet as pnx
from metatheory.learners import protonet as pn
from metatheory.symbolic import protonet as sym
from metatheory.tasks import clusters


def test_prototypes_are_class_means():
    emb = jnp.arange(12.0).reshape(6, 2)
    labels = jnp.array([0, 1, 2, 0, 1, 2])
    np.testing.assert_allclose(pn.prototypes(emb, labels, 3), [[3, 4], [5, 6], [7, 8]])


@jax.jit
def _logits(seed):
    kp, kx = jax.random.split(jax.random.key(seed))
    p = pn.init(kp, (2, 8, 3))
    xs = jax.random.normal(kx, (12, 2))
    ys = jnp.tile(jnp.arange(4), 3)
    return pn.proto_logits(p, xs, ys, xs, 4), pn.linear_logits(p, xs, ys, xs, 4)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_distance_and_linear_logits_differ_by_a_row_constant(seed):
    k = 4
    with jax.enable_x64(True):
        d, li = _logits(seed)
        diff = np.asarray(d - li)
        np.testing.assert_allclose(diff, diff[:, :1] * np.ones((1, k)), atol=1e-12)
        np.testing.assert_allclose(jax.nn.softmax(d), jax.nn.softmax(li), atol=1e-13)


def test_matching_probabilities_sum_to_one_and_identity_embedding():
    p = pn.init(jax.random.key(0), (2, 8, 4), matching=True)
    xs = jax.random.normal(jax.random.key(1), (10, 2))
    ys = jnp.tile(jnp.arange(5), 2)
    lp = pn.matching_log_probs(p, xs, ys, xs[:3], 5)
    np.testing.assert_allclose(jnp.exp(lp).sum(-1), 1.0, rtol=1e-5)
    x = jnp.ones((3, 2))
    np.testing.assert_array_equal(pn.embed({"f": []}, x), x)


def test_symbolic_identities():
    assert sym.derive_linear(2, 2) == (0, 0)
    p0, p1 = sym.test_value()
    assert sp.simplify(p0 - 1 / (1 + sp.exp(-4))) == 0
    assert abs(float(p0) - 0.982014) < 5e-7 and abs(float(p1) - 0.017986) < 5e-7
    grad, factored = sym.derive_bregman_condition(4)
    assert sp.simplify(grad - factored) == 0
    for name in sym.GENERATORS:
        sols, mean = sym.derive_centre(name, 3)
        assert len(sols) == 1 and sp.simplify(sols[0] - mean) == 0


def test_reverse_bregman_centres_are_other_means():
    xs = sp.symbols("x_1:3", positive=True)
    (g,), _ = sym.derive_centre("genkl", 2, reverse=True)
    assert sp.simplify(g - sp.sqrt(xs[0] * xs[1])) == 0  # geometric mean
    (h,), _ = sym.derive_centre("itakurasaito", 2, reverse=True)
    assert sp.simplify(h - 2 * xs[0] * xs[1] / (xs[0] + xs[1])) == 0  # harmonic mean


_T_X, _T_MU = sp.symbols("x mu", positive=True)
_LAMBDAS = {
    n: sp.lambdify((_T_X, _T_MU), sym.bregman(phi, _T_X, _T_MU))
    for n, phi in sym.GENERATORS.items()
}


@settings(max_examples=10, deadline=None)
@given(
    x=st.lists(st.floats(0.1, 10.0), min_size=8, max_size=8),
    mu=st.lists(st.floats(0.1, 10.0), min_size=8, max_size=8),
)
def test_divergences_match_sympy(x, mu):
    x, mu = np.array(x), np.array(mu)
    for name, f in _LAMBDAS.items():
        got = np.asarray(pnx.divergence(name)(jnp.asarray(x)[:, None], jnp.asarray(mu)[:, None]))
        np.testing.assert_allclose(got, f(x, mu), rtol=1e-4, atol=1e-5)
        assert np.all(got >= -1e-5)


def test_episode_sampler_shapes():
    xs, ys, xq, yq, centres = clusters.sample_episodes(jax.random.key(0), 3, clusters.DEFAULT)
    assert xs.shape == (3, 25, 2) and xq.shape == (3, 75, 2) and centres.shape == (3, 5, 2)
    assert np.all(np.bincount(np.asarray(ys[0])) == 5)


def test_reference_centroids_and_predictive():
    """The task family's reference centroids are the learner's prototypes, and a protonet with
    the embedding x / sqrt(2σ²(1 + 1/k)) computes the Bayes posterior predictive exactly."""
    fam = clusters.DEFAULT
    xs, ys, xq, _, _ = clusters.sample_episodes(jax.random.key(1), 1, fam)
    xs, ys, xq = xs[0], ys[0], xq[0]
    np.testing.assert_allclose(clusters.centroids(xs, ys, 5), pn.prototypes(xs, ys, 5), rtol=1e-6)
    scale = 1.0 / np.sqrt(2 * fam.sigma**2 * (1 + 1 / fam.k_shot))
    lin = [{"w": jnp.eye(2) * scale, "b": jnp.zeros(2)}]
    np.testing.assert_allclose(
        jax.nn.softmax(pn.proto_logits({"f": lin}, xs, ys, xq, 5)),
        jax.nn.softmax(clusters.predictive_logits(xs, ys, xq, fam)),
        atol=1e-5,
    )
