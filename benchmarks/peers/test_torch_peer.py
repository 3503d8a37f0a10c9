"""The torch.func peer timed in the same run as the fused JAX step; prints the ratio.
Skips cleanly when torch (the optional extra ``bench``) is not installed."""

import pytest

torch = pytest.importorskip("torch")

from throughput import measure, workload  # noqa: E402
from torch_maml import best_threads, make_torch_step  # noqa: E402


@pytest.mark.parametrize("method", ["maml", "fomaml"])
def test_torch_func_peer(benchmark, method):
    step, batch = make_torch_step(first_order=method == "fomaml")
    t = best_threads(step, batch, seconds=2.0)
    fn, args, spc, _ = workload(method, "fused")
    j = measure(fn, args, spc, seconds=1.0)
    benchmark.extra_info.update(torch=t, jax=j)
    benchmark.pedantic(step, args=batch, rounds=5, warmup_rounds=1)
    ratio = j["steps_per_s"] / t["steps_per_s"]
    ratio_cpu = j["steps_per_cpu_s"] / t["steps_per_cpu_s"]
    print(
        f"\n{method}: JAX fused {j['steps_per_s']:.0f} steps/s, torch.func "
        f"{t['steps_per_s']:.1f} steps/s ({t['threads']} threads): ratio {ratio:.1f}x "
        f"(per CPU second {ratio_cpu:.1f}x)"
    )
    assert ratio > 0
