"""Experiments of the negative-rates family (claim G10): one module per claim, the shared
Monte Carlo draws in :mod:`._common`."""

from metatheory.experiments.negative_rates.negative_training_rate import (
    NEGATIVE_RATE_FULL,
    NEGATIVE_RATE_PRESETS,
    NEGATIVE_RATE_QUICK,
    NegativeRateConfig,
    NegativeRateResult,
    Setting,
    negative_training_rate,
)

__all__ = [
    "Setting",
    "NegativeRateConfig",
    "NEGATIVE_RATE_QUICK",
    "NEGATIVE_RATE_FULL",
    "NEGATIVE_RATE_PRESETS",
    "NegativeRateResult",
    "negative_training_rate",
]
