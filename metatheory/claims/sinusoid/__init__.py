"""Ledger row G9 ``sinusoid_benchmark`` (:mod:`.sinusoid_benchmark`; its float64 reference and
share statistics in :mod:`._common`)."""

from metatheory.claims.sinusoid.sinusoid_benchmark import (
    BEATS_LEVEL,
    CHECK_STEPS,
    CLOSED_LEVEL,
    CURVE_LEVEL,
    DIVERGED,
    IMPROVE_LEVEL,
    PUBLISHED_K,
    PUBLISHED_MAML,
    PUBLISHED_PRETRAINED,
    REF_TOL,
    SinusoidBenchmarkEvidence,
    check_g9,
)

__all__ = [
    "BEATS_LEVEL",
    "CHECK_STEPS",
    "CLOSED_LEVEL",
    "CURVE_LEVEL",
    "DIVERGED",
    "IMPROVE_LEVEL",
    "PUBLISHED_K",
    "PUBLISHED_MAML",
    "PUBLISHED_PRETRAINED",
    "REF_TOL",
    "SinusoidBenchmarkEvidence",
    "check_g9",
]
