"""Systems experiments: Hessian-vector products (S1 ``hvp_modes``) and a task batch sharded
over devices (S2 ``sharded_meta_gradient``)."""

from metatheory.experiments.systems.hvp_modes import (
    HVP_MODES_PRESETS,
    HvpModesConfig,
    HvpModesResult,
    hvp_agreement,
)
from metatheory.experiments.systems.sharded_meta_gradient import (
    SHARDED_META_GRADIENT_PRESETS,
    ShardedMetaGradientConfig,
    ShardedMetaGradientResult,
    sharded_vs_single,
)

__all__ = [
    "HvpModesConfig",
    "HVP_MODES_PRESETS",
    "HvpModesResult",
    "hvp_agreement",
    "ShardedMetaGradientConfig",
    "SHARDED_META_GRADIENT_PRESETS",
    "ShardedMetaGradientResult",
    "sharded_vs_single",
]
