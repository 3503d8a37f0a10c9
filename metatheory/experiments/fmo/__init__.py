"""Convergence-theory experiments (Fallah, Mokhtari, Ozdaglar 2020) on the circular task
family: C1 ``fmo_smoothness``, C2 ``maml_smoothness``, C3 ``task_batch_variance``, C4
``maml_rate``, C5 ``fmo_step_rule``, one module each, over the shared problem of ``_common``."""

from metatheory.experiments.fmo._common import meta_objective
from metatheory.experiments.fmo.fmo_smoothness import (
    FMO_SMOOTHNESS_PRESETS,
    FmoSmoothnessConfig,
    FmoSmoothnessResult,
    smoothness,
)
from metatheory.experiments.fmo.fmo_step_rule import (
    FMO_STEP_RULE_PRESETS,
    FmoStepRuleConfig,
    FmoStepRuleResult,
    fmo_rule,
)
from metatheory.experiments.fmo.maml_rate import (
    MAML_RATE_PRESETS,
    MamlRateConfig,
    MamlRateResult,
    rate,
    rate_slope,
)
from metatheory.experiments.fmo.maml_smoothness import (
    MAML_SMOOTHNESS_PRESETS,
    MamlSmoothnessConfig,
    MamlSmoothnessResult,
    multistep,
)
from metatheory.experiments.fmo.task_batch_variance import (
    TASK_BATCH_VARIANCE_PRESETS,
    TaskBatchVarianceConfig,
    TaskBatchVarianceResult,
    batch_variance,
)

__all__ = [
    "FmoSmoothnessConfig",
    "FMO_SMOOTHNESS_PRESETS",
    "FmoSmoothnessResult",
    "smoothness",
    "MamlSmoothnessConfig",
    "MAML_SMOOTHNESS_PRESETS",
    "MamlSmoothnessResult",
    "multistep",
    "TaskBatchVarianceConfig",
    "TASK_BATCH_VARIANCE_PRESETS",
    "TaskBatchVarianceResult",
    "batch_variance",
    "MamlRateConfig",
    "MAML_RATE_PRESETS",
    "MamlRateResult",
    "rate",
    "rate_slope",
    "FmoStepRuleConfig",
    "FMO_STEP_RULE_PRESETS",
    "FmoStepRuleResult",
    "fmo_rule",
    "meta_objective",
]
