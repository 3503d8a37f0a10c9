r"""G6 ``maml_memory``: compiled temp memory of one meta step against the number of inner
steps ``N`` (Rajeswaran et al. 2019, Sec. 1 and Table 1; ``jax.checkpoint``, Bradbury et al.
2018).

XLA's ``memory_analysis()`` of each variant of :func:`~metatheory.experiments.cost.meta_step`,
each program compiled with ``N`` a constant, is deterministic. ``imaml``:
:func:`metatheory.batched_imaml_meta_gradient` running exactly ``N`` L-BFGS iterations
(:func:`metatheory.experiments.imaml.imaml_memory`), **compiled once per N with N a
compile-time constant** (a program compiled once with N as a runtime argument would be flat
in N by construction, and an iMAML that stored its inner trajectory could not show it).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from metatheory.experiments import experiment
from metatheory.experiments import imaml as ex_imaml
from metatheory.experiments._compiled import (
    MemoryConfig,
    backend_versions,
    compiled_stats,
    instance,
    polyfit,
)
from metatheory.experiments.cost._common import MAML_VARIANTS, meta_step
from metatheory.numerics import flatten

__all__ = ["MAML_MEMORY_PRESETS", "MamlMemoryResult", "memory_sweep"]


MAML_MEMORY_PRESETS = {
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


@dataclass(frozen=True, kw_only=True)
class MamlMemoryResult:
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
def memory_sweep(config: MemoryConfig, key: jax.Array) -> MamlMemoryResult:
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
    return MamlMemoryResult(
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
