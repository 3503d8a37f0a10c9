"""Implicit-MAML experiments (G7 ``implicit_maml``), and the iMAML memory sweep shared with
G6."""

from metatheory.experiments.imaml._common import (
    ImamlMemoryResult,
    cg_errors,
    imaml_memory,
)
from metatheory.experiments.imaml.implicit_maml import (
    IMPLICIT_MAML_PRESETS,
    ImamlCGResult,
    ImamlExactResult,
    ImamlUnrolledResult,
    ImplicitMamlConfig,
    ImplicitMamlResult,
    cg_convergence,
    exact_and_fd,
    implicit_maml,
    unrolled_limit,
)

__all__ = [
    "ImplicitMamlConfig",
    "IMPLICIT_MAML_PRESETS",
    "ImplicitMamlResult",
    "implicit_maml",
    "ImamlExactResult",
    "exact_and_fd",
    "ImamlUnrolledResult",
    "unrolled_limit",
    "ImamlCGResult",
    "cg_convergence",
    "cg_errors",
    "ImamlMemoryResult",
    "imaml_memory",
]
