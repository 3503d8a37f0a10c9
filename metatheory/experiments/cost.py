r"""Compute and memory of one meta step against the number of inner steps ``N`` (G5, G6).

Every number except wall time comes from XLA's compiled program, so it is deterministic:
``jax.jit(step).lower(*args).compile()`` gives ``cost_analysis()["flops"]`` (G5) and
``memory_analysis()`` (G6: temp buffer sizes). The step is a full meta step on a sinusoid MLP
1-w-w-1 with a batch of ``B`` tasks of ``K`` support and ``K`` query points: meta-gradient
plus the SGD update ``theta - beta g``. The key draws the instance: the hidden width ``w``
and the batch size ``B`` (uniform over the configured ranges), the initial parameters and
the tasks, so that calibration seeds compile different programs.

The unit of G5's cost model is the FLOP count of a plain SGD step (one forward+backward pass
over the ``B K`` support points plus the update). The measured HVP cost is the FLOP count of
a Hessian-vector product of every task's support loss (forward-over-reverse,
:func:`metatheory.autodiff.hvp`) over that of the same tasks' gradients.

Variants, all :func:`metatheory.batched_maml_meta_gradient`: ``maml`` and ``fomaml`` with
the inner loop fully unrolled (``unroll=True``, so that XLA's cost analysis counts every
step); ``maml_ckpt``: the same with each inner step under ``jax.checkpoint``
(``checkpoint=True``); ``maml_scan`` and ``maml_scan_ckpt``: the inner loop as a rolled
``lax.scan`` without and with ``jax.checkpoint`` on its body. ``imaml``:
:func:`metatheory.batched_imaml_meta_gradient` running exactly ``N`` L-BFGS iterations
(:func:`metatheory.experiments.imaml.imaml_memory`), **compiled once per N with N a
compile-time constant** (a program compiled once with N as a runtime argument would be flat
in N by construction, and an iMAML that stored its inner trajectory could not show it). XLA
counts the body of a rolled loop (``scan``, ``while``) once, so FLOPs are measured on
unrolled variants only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory import nets
from metatheory.autodiff import hvp
from metatheory.experiments import experiment
from metatheory.experiments import imaml as ex_imaml
from metatheory.experiments._compiled import (
    MEMORY_SEED,
    MemoryConfig,
    PolyFit,
    backend_versions,
    compiled_stats,
    instance,
    polyfit,
)
from metatheory.learners.maml import batched_maml_meta_gradient
from metatheory.numerics import flatten

__all__ = [
    "CostConfig",
    "COST_PRESETS",
    "MEMORY_PRESETS",
    "MEMORY_SEED",
    "MemoryConfig",
    "VARIANTS",
    "MEMORY_VARIANTS",
    "PolyFit",
    "CostSweepResult",
    "cost_sweep",
    "MemorySweepResult",
    "memory_sweep",
    "compiled_stats",
    "meta_step",
]

VARIANTS = ("sgd", "maml", "fomaml", "maml_ckpt", "maml_scan", "maml_scan_ckpt")
MAML_VARIANTS = ("maml", "fomaml", "maml_ckpt", "maml_scan", "maml_scan_ckpt")
MEMORY_VARIANTS = (*MAML_VARIANTS, "imaml")


@dataclass(frozen=True)
class CostConfig:
    n_inner: tuple[int, ...] = (2, 3, 4, 5)  # FLOPs; quadratic fits through N >= 2
    widths: tuple[int, ...] = (24, 40)  # hidden width, drawn from these by the key
    n_tasks: tuple[int, ...] = (10, 25)  # task batch B, drawn from these by the key
    k_shot: int = 10
    alpha: float = 0.01
    beta: float = 1e-3
    time_n_inner: tuple[int, ...] = ()  # wall time (noisy: supporting evidence only)
    time_repeats: int = 0


COST_PRESETS = {
    "quick": CostConfig(),
    "full": CostConfig(
        n_inner=tuple(range(1, 11)),
        widths=(40,),
        n_tasks=(25,),
        time_n_inner=tuple(range(1, 11)),
        time_repeats=41,
    ),
}
"""G5. Quick: N = 2..5 (four points for a three-coefficient fit leave one degree of freedom
for its residual) on a width drawn from {24, 40} and B from {10, 25} (compiled statistics
are memoized by shape, so calibration seeds that draw the same shapes compile once); full:
Finn's 1-40-40-1 with 25 tasks, N = 1..10, plus wall times."""
MEMORY_PRESETS = {
    "quick": MemoryConfig(widths=(16,), n_tasks=(8,)),
    "full": MemoryConfig(
        n_inner=tuple(range(1, 11)), imaml_n_inner=(1, 5, 10), widths=(40,), n_tasks=(25,)
    ),
}
"""G6, and G7's memory sub-check (the iMAML rows are one experiment, shared through the
cache). Quick: MAML variants at N = 2, 3, 4 and iMAML at N = 2, 4 (one compiled program per
N: the iMAML program takes 10 s to minutes to compile) with w = 16 and B = 8. Compiled memory
depends on the shapes only, so with fixed shapes the key changes the data, not the programs:
G6's calibration seeds reuse one set of compilations (memoized by shape) and measure one
instance; drawing the shapes too would multiply the compile time by the number of shapes;
full: Finn's 1-40-40-1 with 25 tasks."""


def _sgd_update(params, g, beta):
    return jax.tree_util.tree_map(lambda p, d: p - beta * d, params, g)


def meta_step(variant: str, config: CostConfig, n_inner: int):
    """``step(params, supports, queries) -> params`` of one variant (not yet jitted), with
    ``n_inner`` a compile-time constant."""
    c = config

    def grad_of(params, s, q):
        if variant == "sgd":
            batch_loss = lambda p: jnp.mean(jax.vmap(nets.mse_loss, (None, 0, 0))(p, *s))
            return jax.grad(batch_loss)(params)
        if variant in VARIANTS[1:]:
            return batched_maml_meta_gradient(
                nets.mse_loss,
                params,
                s,
                q,
                alpha=c.alpha,
                n_inner=n_inner,
                first_order=variant == "fomaml",
                unroll=not variant.startswith("maml_scan"),
                checkpoint=variant.endswith("ckpt"),
            )
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")

    return lambda params, s, q: _sgd_update(params, grad_of(params, s, q), c.beta)


def _round_robin_times(compiled: dict, args, repeats: int) -> dict:
    """Wall time of each compiled program, run in turn ``repeats`` times (so that the load of a
    shared machine falls on all of them alike): ``{name: array of seconds}``."""
    for c in compiled.values():
        jax.block_until_ready(c(*args))  # warm-up
    out = {k: [] for k in compiled}
    for _ in range(repeats):
        for k, c in compiled.items():
            t0 = time.perf_counter()
            jax.block_until_ready(c(*args))
            out[k].append(time.perf_counter() - t0)
    return {k: np.array(v) for k, v in out.items()}


@dataclass(frozen=True, kw_only=True)
class CostSweepResult:
    n_inner: np.ndarray
    sizes: tuple[int, ...]
    n_tasks: int
    n_params: int  # parameters of the network
    unit_flops: float  # FLOPs of one plain SGD step: the model's unit
    eps: float  # n_params * n_tasks / unit_flops: one flop per parameter entry, in units
    hvp_units: float  # FLOPs of the tasks' HVPs / FLOPs of their gradients (measured h)
    flops: dict  # "maml", "fomaml" -> FLOPs per N
    units: dict  # "maml", "fomaml" -> FLOPs / unit_flops per N
    ratio: np.ndarray  # FLOPs(maml) / FLOPs(fomaml) per N
    fit_n: np.ndarray  # the N of the fits (N >= 2)
    fits: dict  # "maml", "fomaml" -> PolyFit of units, degree 2
    time_n_inner: np.ndarray
    times: dict  # "maml", "fomaml", "sgd" -> median wall time (s) per N in time_n_inner
    time_ratio: np.ndarray  # median over rounds of t_MAML / t_FOMAML, per N in time_n_inner


@experiment
def cost_sweep(config: CostConfig, key: jax.Array) -> CostSweepResult:
    """G5: FLOPs (deterministic) of MAML and FOMAML against N in units of an SGD step, the
    measured HVP cost, exact quadratic fits over N >= 2, and (full preset) median wall
    times."""
    c = config
    sizes, b, params, s, q = instance(c.widths, c.n_tasks, c.k_shot, key)
    ns = np.array(c.n_inner)
    args = (params, s, q)
    dep = ("metatheory.learners.maml",)
    sgd = compiled_stats(meta_step("sgd", c, 0), *args, memo=("sgd", c))
    u = sgd["flops"]

    def task_grads(p, s, q):
        return jax.vmap(lambda x, y: jax.grad(nets.mse_loss)(p, x, y))(*s)

    def task_hvps(p, s, q):
        return jax.vmap(lambda x, y: hvp(lambda z: nets.mse_loss(z, x, y), p, p))(*s)

    h = (
        compiled_stats(task_hvps, *args, memo=("hvp", c))["flops"]
        / compiled_stats(task_grads, *args, memo=("grad", c))["flops"]
    )
    stats = {
        v: [
            compiled_stats(meta_step(v, c, int(n)), *args, memo=(v, int(n), c), depends=dep)
            for n in ns
        ]
        for v in ("maml", "fomaml")
    }
    flops = {v: np.array([st["flops"] for st in stats[v]]) for v in stats}
    units = {v: f / u for v, f in flops.items()}
    tail = ns >= 2  # N = 1 has no intermediate iterate: XLA fuses its program differently
    fits = {v: polyfit(ns[tail], units[v][tail], 2) for v in units}
    times = {"maml": [], "fomaml": [], "sgd": []}
    t_ratio = []
    for n in c.time_n_inner:
        i = int(np.flatnonzero(ns == n)[0])
        progs = {v: stats[v][i]["compiled"] for v in ("maml", "fomaml")}
        ts = _round_robin_times({**progs, "sgd": sgd["compiled"]}, args, c.time_repeats)
        for k in times:
            times[k].append(float(np.median(ts[k])))
        t_ratio.append(float(np.median(ts["maml"] / ts["fomaml"])))
    n_params = int(flatten(params).size)
    return CostSweepResult(
        n_inner=ns,
        sizes=sizes,
        n_tasks=b,
        n_params=n_params,
        unit_flops=u,
        eps=n_params * b / u,
        hvp_units=float(h),
        flops=flops,
        units=units,
        ratio=flops["maml"] / flops["fomaml"],
        fit_n=ns[tail],
        fits=fits,
        time_n_inner=np.array(c.time_n_inner, int),
        times={k: np.array(v) for k, v in times.items()},
        time_ratio=np.array(t_ratio),
    )


@dataclass(frozen=True, kw_only=True)
class MemorySweepResult:
    n_inner: dict  # variant -> the N it was compiled at
    sizes: tuple[int, ...]
    n_tasks: int
    param_bytes: float  # one copy of the parameters for the whole task batch
    temp: dict  # variant -> compiled temp bytes per N
    copies: dict  # variant -> temp / param_bytes per N
    fits: dict  # variant -> PolyFit (degree 1) of copies against N
    ckpt_flops_extra: np.ndarray  # FLOPs(maml_ckpt) / FLOPs(maml) - 1, per N
    backend: str  # jax.default_backend() of the compilation
    versions: str  # "jax X, jaxlib Y"


@experiment
def memory_sweep(config: MemoryConfig, key: jax.Array) -> MemorySweepResult:
    """G6: compiled temp memory of every variant at each N, in copies of the task batch's
    parameters, each program compiled with N a constant; straight lines fitted through the
    (deterministic) points. The iMAML rows come from
    :func:`metatheory.experiments.imaml.imaml_memory` with the same config and key (G7 calls
    it too: one compilation serves both claims)."""
    c = config
    sizes, b, params, s, q = instance(c.widths, c.n_tasks, c.k_shot, key)
    ns = np.array(c.n_inner)
    args = (params, s, q)
    dep = ("metatheory.learners.maml",)
    stats = {
        v: [
            compiled_stats(meta_step(v, c, int(n)), *args, memo=(v, int(n), c), depends=dep)
            for n in ns
        ]
        for v in MAML_VARIANTS
    }
    temp = {v: np.array([st["temp"] for st in stats[v]]) for v in stats}
    flat = flatten(params)
    pb = float(flat.size * flat.dtype.itemsize * b)
    im = ex_imaml.imaml_memory(c, key)
    if im.param_bytes != pb:
        raise RuntimeError("iMAML memory was measured on another instance")
    temp["imaml"] = im.temp
    copies = {v: t / pb for v, t in temp.items()}
    n_of = {v: ns for v in MAML_VARIANTS} | {"imaml": im.n_inner}
    extra = [
        a["flops"] / m["flops"] - 1 for a, m in zip(stats["maml_ckpt"], stats["maml"], strict=True)
    ]
    backend, versions = backend_versions()
    return MemorySweepResult(
        n_inner=n_of,
        sizes=sizes,
        n_tasks=b,
        param_bytes=pb,
        temp=temp,
        copies=copies,
        fits={v: polyfit(n_of[v], y, 1) for v, y in copies.items()},
        ckpt_flops_extra=np.array(extra),
        backend=backend,
        versions=versions,
    )
