"""pytest-benchmark: one MAML / FOMAML / SGD meta-step (B=25, K=10, N=5, 1-40-40-1, Adam),
per jitted call and fused FUSE-per-call with lax.scan; steps/s and GFLOP/s against a measured
matmul peak (see benchmarks/throughput.py)."""

import jax
import pytest
from throughput import METHODS, matmul_peak, measure, workload


@pytest.fixture(scope="module")
def peak():
    return matmul_peak()


@pytest.mark.parametrize("mode", ["per-call", "fused"])
@pytest.mark.parametrize("method", METHODS)
def test_meta_step_throughput(benchmark, peak, method, mode):
    fn, args, steps_per_call, flops = workload(method, mode)
    m = measure(fn, args, steps_per_call, seconds=1.0)
    benchmark.extra_info.update(m, flops_per_step=flops, steps_per_call=steps_per_call)
    benchmark.pedantic(lambda: jax.block_until_ready(fn(*args)), rounds=5, warmup_rounds=1)
    gflops = m["steps_per_s"] * flops / 1e9
    print(
        f"\n{method:7s} {mode:8s} {m['steps_per_s']:8.0f} steps/s "
        f"({m['steps_per_cpu_s']:.0f}/CPU-s)  {flops / 1e6:.1f} MFLOP/step  "
        f"{gflops:.1f} GFLOP/s = {100 * gflops / peak:.0f}% of {peak:.0f} GFLOP/s matmul peak"
    )
    assert m["steps_per_s"] > 0 and flops > 0


def test_matmul_peak(benchmark):
    gflops = benchmark.pedantic(matmul_peak, kwargs={"repeats": 2}, rounds=1)
    print(f"\nmatmul peak {gflops:.0f} GFLOP/s")
    assert gflops > 0
