"""Ledger rows of the Bayesian lens: B1 ``gp_oracle`` (the exact GP posterior predictive is the
oracle) and B2 ``neural_processes`` (conditional and latent neural processes trained on GP
tasks, against that oracle); the family's mutants in :mod:`._common`."""

from metatheory.claims.neural_process.gp_oracle import ORACLE_TOL, check_b1
from metatheory.claims.neural_process.neural_processes import (
    FLAT_TOL,
    GAP_FRACTION,
    IWAE_SHARE,
    LEVEL,
    PLATEAU_FRACTION,
    TREND_LEVEL,
    check_b2,
    context_slopes,
)

__all__ = [
    "ORACLE_TOL",
    "check_b1",
    "FLAT_TOL",
    "GAP_FRACTION",
    "IWAE_SHARE",
    "LEVEL",
    "PLATEAU_FRACTION",
    "TREND_LEVEL",
    "check_b2",
    "context_slopes",
]
