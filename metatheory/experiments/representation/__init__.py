"""Experiments of the representation family (claim R1): ANIL recovers a shared linear
representation; ``_common`` holds the problem, one module per claim."""

from metatheory.experiments.representation.anil_representation import (
    ANIL_REPRESENTATION_PRESETS,
    AnilRepresentationConfig,
    AnilRepresentationResult,
    anil_representation,
)

__all__ = [
    "ANIL_REPRESENTATION_PRESETS",
    "AnilRepresentationConfig",
    "AnilRepresentationResult",
    "anil_representation",
]
