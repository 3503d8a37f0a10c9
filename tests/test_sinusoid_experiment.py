"""Unit tests of the G9 pieces: the task family's closed forms (against quadrature), Finn's
initialization, the test-time adaptation curves (against hand-written gradient steps), the
support-set repetition that runs every K in one program, and the crossed bootstrap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metatheory import nets
from metatheory.experiments import sinusoid as ex
from metatheory.tasks import sinusoid


@pytest.mark.parametrize(
    "family",
    [
        sinusoid.FINN,
        sinusoid.SinusoidFamily(phase_range=(-np.pi, np.pi)),
        sinusoid.SinusoidFamily(amp_range=(1.0, 2.0), phase_range=(0.3, 2.0), x_range=(-2, 4)),
    ],
)
def test_closed_forms_match_quadrature(family):
    a0, a1 = family.amp_range
    x = np.linspace(*family.x_range, 4001)
    phi = np.linspace(*family.phase_range, 4001)
    ea, ea2 = (a0 + a1) / 2, (a1**3 - a0**3) / (3 * (a1 - a0))
    s = np.sin(x[:, None] - phi[None])
    m = ea * np.trapezoid(s, phi, axis=1) / np.ptp(phi)
    zero = ea2 * np.trapezoid(np.trapezoid(s**2, phi, axis=1), x) / (np.ptp(phi) * np.ptp(x))
    np.testing.assert_allclose(sinusoid.pooled_mean(x, family), m, atol=1e-6)
    assert abs(sinusoid.zero_mse(family) - zero) < 1e-6
    assert abs(sinusoid.pooled_mse(family) - (zero - np.trapezoid(m**2, x) / np.ptp(x))) < 1e-6


def test_closed_forms_finn_values():
    assert abs(sinusoid.pooled_mse() - 3.005669) < 1e-6
    assert abs(sinusoid.zero_mse() - 4.251667) < 1e-6
    sym = sinusoid.SinusoidFamily(phase_range=(-np.pi, np.pi))
    assert abs(sinusoid.pooled_mse(sym) - sinusoid.zero_mse(sym)) < 1e-12  # the tutorial's ≈ 0
    with pytest.raises(ValueError, match="phase_range"):
        sinusoid.SinusoidFamily(phase_range=(1.0, 1.0))


def test_finn_init_scale_and_shapes():
    p = nets.finn_init(jax.random.key(0), (1, 40, 40, 1))
    assert [layer["w"].shape for layer in p] == [(1, 40), (40, 40), (40, 1)]
    w = np.concatenate([np.ravel(layer["w"]) for layer in p])
    assert np.all(np.abs(w) <= 0.02) and 0.007 < w.std() < 0.01  # truncated at 2 sigma
    assert all(float(jnp.abs(layer["b"]).max()) == 0.0 for layer in p)
    with pytest.raises(ValueError, match="sizes"):
        nets.finn_init(jax.random.key(0), (1,))
    with pytest.raises(ValueError, match="std"):
        nets.finn_init(jax.random.key(0), (1, 4, 1), std=0.0)


def test_adapt_curves_match_manual_gradient_steps_and_repetition():
    key = jax.random.key(1)
    p = nets.finn_init(key, (1, 8, 8, 1), std=0.5)
    (xs, ys), (xq, yq) = sinusoid.sample_batch(key, 1, 5, 7)
    xs, ys, xq, yq = xs[0], ys[0], xq[0], yq[0]
    curves = ex.adapt_curves(p, xs, ys, xq, yq, alpha=0.01, n_steps=2)
    assert curves.shape == (3,)
    manual = p
    for s in range(3):
        mse = jnp.mean((nets.apply(manual, xq) - yq) ** 2)
        np.testing.assert_allclose(curves[s], mse, rtol=1e-5)
        g = jax.grad(nets.mse_loss)(manual, xs, ys)
        manual = jax.tree_util.tree_map(lambda a, b: a - 0.01 * b, manual, g)
    # the support set repeated twice: same loss, same gradient, same curve
    sx, sy = ex.per_k((xs[None], ys[None]), (5, 10))  # K = 5 repeated to 10 points
    rx, ry = sx[0, 0], sy[0, 0]
    rep = ex.adapt_curves(p, rx, ry, xq, yq, alpha=0.01, n_steps=2)
    np.testing.assert_allclose(rep, curves, rtol=1e-5)


def test_crossed_bootstrap_means_and_pairing():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 50))
    seeds = np.array([[1, 1, 1], [3, 0, 0]])
    tasks_ = np.zeros((2, 50), int)
    tasks_[0] = 1
    tasks_[1, 7] = 50
    rep = ex.crossed_bootstrap(np.stack([a, a + 1.0]), seeds, tasks_)
    np.testing.assert_allclose(rep[0, 0], a.mean())
    np.testing.assert_allclose(rep[0, 1], a[0, 7])
    np.testing.assert_allclose(rep[1] - rep[0], 1.0)  # paired: the same resamples


def test_log_every_is_validated():
    with pytest.raises(ValueError, match="log_every"):
        ex.benchmark_core(ex.SinusoidBenchmarkConfig(n_iters=250, log_every=100), jax.random.key(0))


def _synthetic_result(rng, diverged):
    """A small G9 result with the shapes of the experiment's (2 seeds, 20 tasks, K = 5, 10):
    MAML's MSE ~0.5, the baseline's ~2, and ``diverged`` {(K index, step): tasks} set to inf."""
    c = ex.SinusoidBenchmarkConfig(
        n_seeds=2, n_eval=20, n_val=5, n_boot=50, extra_methods=(), n_iters=100, log_every=100
    )
    n_steps, n_eval, n_k = c.max_steps + 1, c.n_eval, len(c.k_eval)
    mse = np.stack(
        [
            0.5 + 0.1 * rng.random((c.n_seeds, n_k, n_steps, n_eval)),
            2.0 + 0.1 * rng.random((c.n_seeds, n_k, n_steps, n_eval)),
        ]
    )
    for (ik, s), tasks_ in diverged.items():
        mse[0, 0, ik, s, tasks_] = np.inf
    counts = (rng.multinomial(2, [0.5] * 2, 50), rng.multinomial(n_eval, [1 / n_eval] * n_eval, 50))
    with np.errstate(invalid="ignore", over="ignore"):
        boot = ex.crossed_bootstrap(np.moveaxis(mse, 1, 3), *counts)
    params = nets.finn_init(jax.random.key(0), (1, 4, 1), std=0.5)
    quad = np.linspace(-5.0, 5.0, 101)
    x = rng.uniform(-5, 5, (n_eval, 10))
    zeros = np.zeros(1)
    return ex.SinusoidBenchmarkResult(
        config=c,
        models=("maml", "pretrained"),
        mse=mse,
        boot=boot,
        pre_alpha=np.full((c.n_seeds, n_k, n_steps), 0.01),
        pre_grid=zeros,
        pre_on_grid=np.zeros((c.n_seeds, quad.size)),
        quad_x=quad,
        support_x=x,
        support_y=np.sin(x),
        query_x=x,
        query_y=np.sin(x),
        closed_x=x,
        closed_y=np.sin(x),
        params0={"maml": params, "pretrained": params},
        loss_curves=zeros,
        grid=zeros,
        example_amp=zeros,
        example_phase=zeros,
        example_x=zeros,
        example_pred=zeros,
        sample_amp=zeros,
        sample_phase=zeros,
        boot_counts=counts,
    )


def test_g9_reports_diverged_runs_instead_of_a_mean():
    """A mean over (seed, task) runs of which some diverged is stated as "diverged in k of n
    runs" in the numbers, the measured text and the correction, never as a number."""
    from metatheory.claims.sinusoid import check_g9

    r = _synthetic_result(np.random.default_rng(1), {(0, 5): [3], (0, 10): [3, 4]})
    v = check_g9(r)
    for tag in ("", "lo", "hi"):
        assert v.numbers[f"mamlk5s5{tag}"] == "diverged in 1 of 40 runs"
        assert v.numbers[f"mamlk5s10{tag}"] == "diverged in 2 of 40 runs"
        assert isinstance(v.numbers[f"mamlk5s1{tag}"], float)
        assert isinstance(v.numbers[f"mamlk10s10{tag}"], float)
    maml_k5 = v.measured.split(" vs ")[0]
    assert maml_k5.startswith("K=5: MAML 0.5")
    assert maml_k5.endswith("/ diverged in 1 of 40 runs / diverged in 2 of 40 runs")
    assert "K=5 after 10 steps diverged in 2 of 40 runs" in v.note
    clean = check_g9(_synthetic_result(np.random.default_rng(1), {}))
    assert "diverged" not in clean.measured and "diverge" not in clean.note
    assert isinstance(clean.numbers["mamlk5s10"], float)
