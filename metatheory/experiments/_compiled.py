"""Helpers shared by the cost (G5, G6) and implicit-MAML (G7) experiments: XLA's compiled
statistics of a program, deterministic polynomial fits through them, and the random sinusoid
instance whose shapes the key draws. No learner is imported here, so that a mutant of one
learner does not expire the other family's cached results."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from metatheory import nets
from metatheory.tasks import sinusoid

__all__ = [
    "MemoryConfig",
    "MEMORY_SEED",
    "FLAT_FRAC",
    "PolyFit",
    "polyfit",
    "compiled_stats",
    "instance",
    "backend_versions",
]

MEMORY_SEED = 6
"""G6's ledger seed. G7 reads iMAML's memory from the sweep that G6 measures (the same
``imaml_memory(config, jax.random.key(MEMORY_SEED))``, so the experiment cache compiles it
once for both claims). Compiled memory depends only on the shapes, which the key draws."""

FLAT_FRAC = 0.05
"""iMAML flat in N (the memory sub-check of G6 and of G7): compiled temp memory grows by at
most 5% of one copy of the task batch's parameters per inner step. Storing the trajectory
costs at least one such copy per step (the reverse sweep needs θ_j to form H_j v); iMAML's
program, compiled once per N, keeps nothing per step (slope 0 to rounding at both presets)."""


@dataclass(frozen=True)
class MemoryConfig:
    n_inner: tuple[int, ...] = (2, 3, 4)  # MAML-family variants
    imaml_n_inner: tuple[int, ...] = (2, 4)  # iMAML, each N its own compiled program
    widths: tuple[int, ...] = (16, 32)  # hidden width, drawn from these by the key
    n_tasks: tuple[int, ...] = (8, 16)  # task batch B, drawn from these by the key
    k_shot: int = 10
    alpha: float = 0.01
    beta: float = 1e-3
    lam: float = 1.0  # iMAML proximal strength
    cg_maxiter: int = 10  # iMAML CG iterations (memory does not depend on it)


@dataclass(frozen=True, kw_only=True)
class PolyFit:
    """Least-squares ``y = intercept + per_step N + curvature N^2`` (``curvature = 0`` for a
    line) through deterministic points; ``residual``: the largest |y - fit| over the points."""

    intercept: float
    per_step: float
    curvature: float
    residual: float


def polyfit(n, y, degree: int) -> PolyFit:
    n, y = np.asarray(n, float), np.asarray(y, float)
    coef = np.polyfit(n, y, degree)
    res = float(np.max(np.abs(np.polyval(coef, n) - y)))
    c = coef[::-1]
    return PolyFit(
        intercept=float(c[0]),
        per_step=float(c[1]),
        curvature=float(c[2]) if degree >= 2 else 0.0,
        residual=res,
    )


_MEMO: dict = {}


def compiled_stats(fn, *args, memo=None, depends: tuple[str, ...] = ()) -> dict:
    """FLOPs and buffer sizes of XLA's compiled ``jit(fn)(*args)`` (and the executable).

    ``memo``: a hashable name of the program (variant, N, config); the statistics are then
    kept for this process under (memo, the shapes and dtypes of ``args``, the active mutant
    if its module is one of ``depends``), so calibration seeds that draw the same shapes
    compile once. Compiled statistics depend on the program and the shapes only."""
    if memo is not None:
        from metatheory.experiments import active_mutant

        mut = active_mutant()
        tag = mut.name if mut is not None and mut.module in depends else None
        shapes = tuple((a.shape, str(a.dtype)) for a in jax.tree_util.tree_leaves(args))
        key = (memo, shapes, tag)
        if key not in _MEMO:
            _MEMO[key] = compiled_stats(fn, *args)
        return _MEMO[key]
    compiled = jax.jit(fn).lower(*args).compile()
    ca = compiled.cost_analysis()
    ca = ca[0] if isinstance(ca, list | tuple) else ca
    ma = compiled.memory_analysis()
    return {
        "compiled": compiled,
        "flops": float(ca.get("flops", np.nan)),
        "temp": float(ma.temp_size_in_bytes),
        "argument": float(ma.argument_size_in_bytes),
        "output": float(ma.output_size_in_bytes),
    }


def instance(widths, n_tasks, k_shot, key):
    """``(sizes, B, params, supports, queries)``: a ReLU MLP 1-w-w-1 and ``B`` sinusoid tasks
    of ``k_shot`` support and query points, with ``w`` and ``B`` drawn uniformly from the
    given choices, the parameters and the tasks all drawn by ``key``."""
    kw, kb, kp, kd = jax.random.split(key, 4)
    w = int(widths[int(jax.random.randint(kw, (), 0, len(widths)))])
    b = int(n_tasks[int(jax.random.randint(kb, (), 0, len(n_tasks)))])
    sizes = (1, w, w, 1)
    params = nets.init(kp, sizes)
    s, q = sinusoid.sample_batch(kd, b, k_shot, k_shot)
    return sizes, b, params, s, q


def backend_versions() -> tuple[str, str]:
    """``(jax.default_backend(), "jax X, jaxlib Y")``: compiled memory is XLA's, per backend."""
    import jaxlib

    return jax.default_backend(), f"jax {jax.__version__}, jaxlib {jaxlib.__version__}"
