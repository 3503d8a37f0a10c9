r"""G5 ``maml_cost``: FLOPs of one meta step against the number of inner steps ``N``
(Finn et al. 2017, Sec. 5.2; Rajeswaran et al. 2019, Table 1; Pearlmutter 1994).

Every number except wall time comes from XLA's compiled program, so it is deterministic:
``jax.jit(step).lower(*args).compile()`` gives ``cost_analysis()["flops"]``. The key draws the
instance: the hidden width ``w`` and the batch size ``B`` (uniform over the configured
ranges), the initial parameters and the tasks, so that calibration seeds compile different
programs. XLA counts the body of a rolled loop (``scan``, ``while``) once, so FLOPs are
measured on the unrolled variants of :func:`~metatheory.experiments.cost.meta_step` only.

The unit of the cost model is the FLOP count of a plain SGD step (one forward+backward pass
over the ``B K`` support points plus the update). The measured HVP cost is the FLOP count of
a Hessian-vector product of every task's support loss (forward-over-reverse,
:func:`metatheory.autodiff.hvp`) over that of the same tasks' gradients.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import numpy as np

from metatheory import nets
from metatheory.autodiff import hvp
from metatheory.experiments import experiment
from metatheory.experiments._compiled import compiled_stats, instance, polyfit
from metatheory.experiments.cost._common import meta_step
from metatheory.numerics import flatten

__all__ = ["MamlCostConfig", "MAML_COST_PRESETS", "MamlCostResult", "cost_sweep"]


@dataclass(frozen=True)
class MamlCostConfig:
    n_inner: tuple[int, ...] = (2, 3, 4, 5)  # FLOPs; quadratic fits through N >= 2
    widths: tuple[int, ...] = (24, 40)  # hidden width, drawn from these by the key
    n_tasks: tuple[int, ...] = (10, 25)  # task batch B, drawn from these by the key
    k_shot: int = 10
    alpha: float = 0.01
    beta: float = 1e-3
    time_n_inner: tuple[int, ...] = ()  # wall time (noisy: supporting evidence only)
    time_repeats: int = 0


MAML_COST_PRESETS = {
    "quick": MamlCostConfig(),
    "full": MamlCostConfig(
        n_inner=tuple(range(1, 11)),
        widths=(40,),
        n_tasks=(25,),
        time_n_inner=tuple(range(1, 11)),
        time_repeats=41,
    ),
}
"""Quick: N = 2..5 (four points for a three-coefficient fit leave one degree of freedom
for its residual) on a width drawn from {24, 40} and B from {10, 25} (compiled statistics
are memoized by shape, so calibration seeds that draw the same shapes compile once); full:
Finn's 1-40-40-1 with 25 tasks, N = 1..10, plus wall times."""


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
class MamlCostResult:
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
def cost_sweep(config: MamlCostConfig, key: jax.Array) -> MamlCostResult:
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
    return MamlCostResult(
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
