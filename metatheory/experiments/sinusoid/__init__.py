"""G9 ``sinusoid_benchmark``: Finn et al. (2017)'s sinusoid benchmark, MAML against the
pretrained baseline (:mod:`.sinusoid_benchmark`; building blocks in :mod:`._common`)."""

from metatheory.experiments.sinusoid._common import adapt_curves, crossed_bootstrap, per_k
from metatheory.experiments.sinusoid.sinusoid_benchmark import (
    SINUSOID_BENCHMARK_PRESETS,
    SinusoidBenchmarkConfig,
    SinusoidBenchmarkResult,
    benchmark,
    benchmark_core,
    benchmark_finish,
)

__all__ = [
    "SinusoidBenchmarkConfig",
    "SINUSOID_BENCHMARK_PRESETS",
    "SinusoidBenchmarkResult",
    "benchmark",
    "benchmark_core",
    "benchmark_finish",
    "adapt_curves",
    "crossed_bootstrap",
    "per_k",
]
