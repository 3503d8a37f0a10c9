"""First-order theory experiments: FOMAML's bias (G3 ``fomaml_bias``), the expected updates
of MAML, FOMAML and Reptile (G4 ``reptile_expected_update``) and learned step sizes (G8
``learned_step_sizes``)."""

from metatheory.experiments.fomaml.fomaml_bias import (
    FOMAML_BIAS_PRESETS,
    FomamlBiasConfig,
    FomamlBiasResult,
    fomaml_bias,
)
from metatheory.experiments.fomaml.learned_step_sizes import (
    LEARNED_STEP_SIZES_PRESETS,
    LearnedStepSizesConfig,
    LearnedStepSizesResult,
    learned_step_sizes,
)
from metatheory.experiments.fomaml.reptile_expected_update import (
    METHODS,
    REPTILE_EXPECTED_UPDATE_PRESETS,
    ReptileExpectedUpdateConfig,
    ReptileExpectedUpdateResult,
    expected_updates,
)

__all__ = [
    "FomamlBiasConfig",
    "FOMAML_BIAS_PRESETS",
    "FomamlBiasResult",
    "fomaml_bias",
    "ReptileExpectedUpdateConfig",
    "REPTILE_EXPECTED_UPDATE_PRESETS",
    "ReptileExpectedUpdateResult",
    "expected_updates",
    "METHODS",
    "LearnedStepSizesConfig",
    "LEARNED_STEP_SIZES_PRESETS",
    "LearnedStepSizesResult",
    "learned_step_sizes",
]
