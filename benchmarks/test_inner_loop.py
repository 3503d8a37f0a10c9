"""pytest-benchmark: compile (first-call) and per-call time of the jitted MAML meta-gradient
on a 1-40-40-1 MLP (one task, K = 10) at N = 10, 100, 1000 inner steps.

The inner loop is a ``lax.scan``, so the first call (trace + compile + run) should barely grow
with N while the per-call time grows linearly. Run with
``pytest benchmarks/test_inner_loop.py --benchmark-enable -s``; the lines printed are the
numbers, and ``benchmark.extra_info`` carries them into ``--benchmark-json``.
"""

import time

import jax
import jax.numpy as jnp
import pytest

from metatheory import nets
from metatheory.learners import maml_meta_gradient

N_VALUES = (10, 100, 1000)
ALPHA = 1e-3


def _problem():
    key = jax.random.key(0)
    params = nets.init(key, (1, 40, 40, 1))
    ks, kq = jax.random.split(jax.random.fold_in(key, 1))
    xs = jax.random.uniform(ks, (10, 1), minval=-5, maxval=5)
    xq = jax.random.uniform(kq, (10, 1), minval=-5, maxval=5)
    return params, (xs, jnp.sin(xs)), (xq, jnp.sin(xq))


def first_and_per_call(n_inner: int, repeats: int = 5) -> tuple[float, float]:
    """``(first-call seconds, per-call seconds)`` of a fresh ``jax.jit`` of the meta-gradient."""
    params, s, q = _problem()
    fn = jax.jit(
        lambda p, s, q: maml_meta_gradient(nets.mse_loss, p, s, q, alpha=ALPHA, n_inner=n_inner)
    )
    t0 = time.perf_counter()
    jax.block_until_ready(fn(params, s, q))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn(params, s, q))
    return first, (time.perf_counter() - t0) / repeats


@pytest.mark.parametrize("n_inner", N_VALUES)
def test_inner_loop_compile_and_call(benchmark, n_inner):
    first, per_call = first_and_per_call(n_inner)
    params, s, q = _problem()
    fn = jax.jit(
        lambda p, s, q: maml_meta_gradient(nets.mse_loss, p, s, q, alpha=ALPHA, n_inner=n_inner)
    )
    jax.block_until_ready(fn(params, s, q))
    benchmark.extra_info.update(first_call_s=first, per_call_s=per_call, n_inner=n_inner)
    benchmark.pedantic(lambda: jax.block_until_ready(fn(params, s, q)), rounds=5, warmup_rounds=1)
    print(
        f"\nMAML meta-gradient N={n_inner:5d}: first call {first:7.3f} s, "
        f"per call {1e3 * per_call:8.3f} ms ({1e6 * per_call / n_inner:6.2f} us/step)"
    )
    assert first > 0 and per_call > 0
