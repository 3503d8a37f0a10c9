"""Experiments of the Bayesian lens: the GP oracle (B1 ``gp_oracle``) and neural processes
measured against it (B2 ``neural_processes``); the task family and the reference computations
in :mod:`._common`."""

from metatheory.experiments.neural_process._common import (
    FAMILY,
    closed_forms,
    exact_bounds,
    linear_gaussian_lnp,
)
from metatheory.experiments.neural_process.gp_oracle import (
    GP_ORACLE_PRESETS,
    Z2_LEVEL,
    GpOracleConfig,
    GpOracleResult,
    gp_oracle,
)
from metatheory.experiments.neural_process.neural_processes import (
    NEURAL_PROCESSES_PRESETS,
    LatentBounds,
    NeuralProcessesConfig,
    NeuralProcessesResult,
    closed_share,
    gap_statistic,
    neural_processes,
)

__all__ = [
    "FAMILY",
    "GpOracleConfig",
    "GP_ORACLE_PRESETS",
    "GpOracleResult",
    "Z2_LEVEL",
    "gp_oracle",
    "NeuralProcessesConfig",
    "NEURAL_PROCESSES_PRESETS",
    "LatentBounds",
    "NeuralProcessesResult",
    "neural_processes",
    "gap_statistic",
    "closed_share",
    "linear_gaussian_lnp",
    "exact_bounds",
    "closed_forms",
]
