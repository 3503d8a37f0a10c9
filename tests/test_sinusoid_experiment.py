"""Unit tests of the G9 experiment's pieces: Finn's initialization, the test-time adaptation
curves (against a hand-written gradient step) and the fused training loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metatheory import nets
from metatheory.experiments import sinusoid as ex
from metatheory.tasks import sinusoid


def test_finn_init_scale_and_shapes():
    p = ex.finn_init(jax.random.key(0), (1, 40, 40, 1))
    assert [layer["w"].shape for layer in p] == [(1, 40), (40, 40), (40, 1)]
    w = np.concatenate([np.ravel(layer["w"]) for layer in p])
    assert np.all(np.abs(w) <= 0.02) and 0.007 < w.std() < 0.01  # truncated at 2 sigma
    assert all(float(jnp.abs(layer["b"]).max()) == 0.0 for layer in p)


def test_adapt_curves_match_manual_gradient_steps():
    key = jax.random.key(1)
    p = ex.finn_init(key, (1, 8, 8, 1), std=0.5)
    (xs, ys), (xq, _) = sinusoid.sample_batch(key, 1, 5, 7)
    xs, ys, xq = xs[0], ys[0], xq[0]
    curves = ex.adapt_curves(p, xs, ys, xq, alpha=0.01, n_steps=2)
    assert curves.shape == (3, 7)
    manual = p
    for s in range(3):
        np.testing.assert_allclose(curves[s], nets.apply(manual, xq)[:, 0], rtol=1e-5, atol=1e-6)
        g = jax.grad(nets.mse_loss)(manual, xs, ys)
        manual = jax.tree_util.tree_map(lambda a, b: a - 0.01 * b, manual, g)


def test_train_meta_runs_and_lowers_the_loss():
    cfg = ex.SinusoidConfig(n_iters=200, chunk=100, log_every=50)
    params, curve = ex.train_meta(cfg, jax.random.key(2), 5, "maml", 1, cfg.n_iters)
    assert curve.shape == (4,) and np.all(np.isfinite(curve))
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(
        ex.finn_init(jax.random.key(0), cfg.sizes)
    )


def test_chunking_is_validated():
    cfg = ex.SinusoidConfig(n_iters=250, chunk=100, log_every=50)
    with pytest.raises(ValueError, match="n_iters"):
        ex.train_meta(cfg, jax.random.key(0), 5, "maml", 1, cfg.n_iters)
