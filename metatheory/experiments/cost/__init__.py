"""Compute (G5 ``maml_cost``) and memory (G6 ``maml_memory``) of one meta step against the
number of inner steps, from XLA's compiled programs."""

from metatheory.experiments._compiled import MEMORY_SEED, MemoryConfig, PolyFit, compiled_stats
from metatheory.experiments.cost._common import (
    MAML_VARIANTS,
    MEMORY_VARIANTS,
    VARIANTS,
    meta_step,
)
from metatheory.experiments.cost.maml_cost import (
    MAML_COST_PRESETS,
    MamlCostConfig,
    MamlCostResult,
    cost_sweep,
)
from metatheory.experiments.cost.maml_memory import (
    MAML_MEMORY_PRESETS,
    MamlMemoryResult,
    memory_sweep,
)

__all__ = [
    "MamlCostConfig",
    "MAML_COST_PRESETS",
    "MamlCostResult",
    "cost_sweep",
    "MemoryConfig",
    "MEMORY_SEED",
    "MAML_MEMORY_PRESETS",
    "MamlMemoryResult",
    "memory_sweep",
    "VARIANTS",
    "MAML_VARIANTS",
    "MEMORY_VARIANTS",
    "PolyFit",
    "compiled_stats",
    "meta_step",
]
