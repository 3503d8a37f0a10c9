"""Meta-step throughput on the sinusoid workload, against a measured matmul peak and the
torch.func peer.

Workload: 1-40-40-1 ReLU MLP, float32, meta-batch B = 25 tasks, K = 10 support and
10 query points, N = 5 inner steps with alpha = 0.01, outer Adam(1e-3). Three steps:

* ``maml``: :func:`metatheory.learners.make_meta_step` (second order),
* ``fomaml``: the same with ``method="fomaml"``,
* ``sgd``: one plain SGD step on the pooled B x 2K points (the pretrained baseline's step).

Each runs ``per-call`` (one jitted call per meta-step, as a training loop in Python does) and
``fused`` (``FUSE`` meta-steps per jitted call via ``lax.scan`` over a stack of pre-sampled
batches, as :mod:`metatheory.experiments.sinusoid` trains). FLOPs per step come from XLA's cost
analysis of the compiled step. Throughput is reported both per wall second and per CPU second
(``time.process_time``), the latter being robust to other processes sharing the machine.

``python benchmarks/throughput.py`` writes ``metatheory/data/throughput.{json,tex}`` (package
data: the paper's G9 figure reads the table from the installed package).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

from metatheory import nets
from metatheory.learners import make_meta_step
from metatheory.tasks import sinusoid

B, K, N_INNER, ALPHA, BETA = 25, 10, 5, 0.01, 1e-3
SIZES = (1, 40, 40, 1)
FUSE = 100
METHODS = ("maml", "fomaml", "sgd")
RESULTS = Path(__file__).resolve().parents[1] / "metatheory" / "data"


def _step_fn(method: str, **inner):
    if method == "sgd":
        opt = optax.sgd(ALPHA)

        def pooled(p, s, q):
            x = jnp.concatenate([s[0], q[0]], axis=1).reshape(-1, 1)
            y = jnp.concatenate([s[1], q[1]], axis=1).reshape(-1, 1)
            return nets.mse_loss(p, x, y)

        @jax.jit
        def step(p, st, s, q):
            loss, g = jax.value_and_grad(pooled)(p, s, q)
            u, st = opt.update(g, st, p)
            return optax.apply_updates(p, u), st, loss

        return step, opt
    opt = optax.adam(BETA)
    step = make_meta_step(nets.mse_loss, opt, alpha=ALPHA, n_inner=N_INNER, method=method, **inner)
    return step, opt


def workload(method: str, mode: str = "fused", fuse: int = FUSE):
    """``(fn, args, steps_per_call, flops_per_step)`` for one benchmark configuration."""
    if method not in METHODS or mode not in ("per-call", "fused"):
        raise ValueError(f"method must be in {METHODS} and mode in (per-call, fused)")
    key = jax.random.key(0)
    params = nets.finn_init(key, SIZES)
    step, opt = _step_fn(method)
    state = opt.init(params)
    s, q = sinusoid.sample_batch(jax.random.fold_in(key, 1), B * fuse, K, K)
    one = jax.tree_util.tree_map(lambda a: a[:B], (s, q))
    # XLA's cost analysis counts a loop body once, so FLOPs are read from the same step with
    # its inner loop unrolled (the timed step keeps the learner's default lax.scan)
    unrolled = step if method == "sgd" else _step_fn(method, unroll=True)[0]
    flops = _flops(unrolled, params, state, *one)
    if mode == "per-call":
        return step, (params, state, *one), 1, flops
    stack = jax.tree_util.tree_map(lambda a: a.reshape(fuse, B, *a.shape[1:]), (s, q))

    @jax.jit
    def fused(params, state, supports, queries):
        def body(carry, batch):
            p, st, loss = step(*carry, *batch)
            return (p, st), loss

        return jax.lax.scan(body, (params, state), (supports, queries))

    return fused, (params, state, *stack), fuse, flops


def _flops(step, *args) -> float:
    cost = step.lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float(cost.get("flops", float("nan")))


def measure(fn, args, steps_per_call: int, *, seconds: float = 2.0, repeats: int = 3) -> dict:
    """Best-of-``repeats`` steps per wall second and per CPU second (compilation excluded)."""
    jax.block_until_ready(fn(*args))
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < 0.2:
        jax.block_until_ready(fn(*args))
        n += 1
    per_call = (time.perf_counter() - t0) / n
    calls = max(1, int(seconds / repeats / per_call))
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(calls):
            out = fn(*args)
        jax.block_until_ready(out)
        wall.append(calls * steps_per_call / (time.perf_counter() - t))
        cpu.append(calls * steps_per_call / max(time.process_time() - c, 1e-9))
    return {"steps_per_s": max(wall), "steps_per_cpu_s": max(cpu)}


def matmul_peak(n: int = 1024, repeats: int = 5) -> float:
    """Measured float32 matmul GFLOP/s (``n x n`` by ``n x n``, best of ``repeats``)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    mm = jax.jit(lambda x: x @ x)
    jax.block_until_ready(mm(a))
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(4):
            out = mm(a)
        jax.block_until_ready(out)
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_all(*, with_torch: bool = True, seconds: float = 2.0) -> dict:
    """Every configuration, the peak, and (when torch is installed) the torch.func peer."""
    peak = matmul_peak()
    rows = []
    for method in METHODS:
        for mode in ("per-call", "fused"):
            fn, args, spc, flops = workload(method, mode)
            m = measure(fn, args, spc, seconds=seconds)
            gflops = m["steps_per_s"] * flops / 1e9
            rows.append(
                {"method": method, "mode": mode, "flops_per_step": flops, "gflops": gflops,
                 "peak_fraction": gflops / peak, **m}
            )  # fmt: skip
    out = {
        "workload": {"B": B, "K": K, "N": N_INNER, "sizes": SIZES, "fuse": FUSE},
        "matmul_peak_gflops": peak,
        "jax": rows,
        "load_avg": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": cpu_model(),
        "platform": platform.platform(),
        "jax_version": jax.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    if with_torch:
        try:
            sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
            import torch
            from torch_maml import best_threads, make_torch_step

            tm = {}
            for method in ("maml", "fomaml"):
                step, batch = make_torch_step(first_order=method == "fomaml")
                tm[method] = best_threads(step, batch, seconds=seconds)
            out["torch"] = {"version": torch.__version__, **tm}
            best = {r["method"]: r for r in rows if r["mode"] == "fused"}
            out["ratio"] = {
                m: {
                    "wall": best[m]["steps_per_s"] / tm[m]["steps_per_s"],
                    "cpu": best[m]["steps_per_cpu_s"] / tm[m]["steps_per_cpu_s"],
                }
                for m in tm
            }
        except ImportError:
            out["torch"] = None
    return out


def latex_table(res: dict) -> str:
    """The throughput table for the paper."""
    lines = [
        "% generated by benchmarks/throughput.py; do not edit",
        r"\begin{tabular}{@{}llrrrr@{}}",
        r"\toprule",
        r"step & mode & steps/s & steps/CPU-s & MFLOP/step & GFLOP/s (\% peak) \\",
        r"\midrule",
    ]
    for r in res["jax"]:
        lines.append(
            f"JAX {r['method']} & {r['mode']} & {r['steps_per_s']:.0f} & "
            f"{r['steps_per_cpu_s']:.0f} & {r['flops_per_step'] / 1e6:.1f} & "
            f"{r['gflops']:.1f} ({100 * r['peak_fraction']:.0f}\\%) \\\\"
        )
    if res.get("torch"):
        for m in ("maml", "fomaml"):
            t = res["torch"][m]
            lines.append(
                f"torch.func {m} & per-call & {t['steps_per_s']:.0f} & "
                f"{t['steps_per_cpu_s']:.0f} & -- & -- \\\\"
            )
    load = ", ".join(f"{x:.1f}" for x in res["load_avg"])
    lines += [
        r"\midrule",
        rf"\multicolumn{{6}}{{@{{}}l}}{{\footnotesize matmul peak {res['matmul_peak_gflops']:.0f}"
        rf" GFLOP/s; {res['cpus']} CPUs, load average {load} during the run}} \\",
        rf"\multicolumn{{6}}{{@{{}}l}}{{\footnotesize measured {res.get('date', 'n/a')} on "
        rf"{res.get('machine', 'n/a')}, jax {res['jax_version']}"
        + (f", torch {res['torch']['version']}" if res.get("torch") else "")
        + r"} \\",
        r"\bottomrule",
        r"\end{tabular}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    res = run_all()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "throughput.json").write_text(json.dumps(res, indent=2) + "\n")
    (RESULTS / "throughput.tex").write_text(latex_table(res))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
