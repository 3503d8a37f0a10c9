"""Ledger rows P1–P5: the PAC-Bayes calculators (``pac_bayes_calculators``), their symbolic
properties (``pac_bayes_regimes``), the coverage of the Amit–Meir meta-bound
(``pac_bayes_coverage``), the softened MAML posterior (``softened_maml_posterior``) and learning
the prior (``learned_prior``); the mutants of the calculators in :mod:`._common`."""

from metatheory.claims.pac_bayes._common import MC_LEVEL, MC_SIGMAS
from metatheory.claims.pac_bayes.learned_prior import check_p5
from metatheory.claims.pac_bayes.pac_bayes_calculators import (
    JIT_TOL,
    KL_INV_TOL,
    SYMPY_TOL,
    TEST_TOL,
    TEST_VALUES,
    check_p1,
)
from metatheory.claims.pac_bayes.pac_bayes_coverage import CP_LEVEL, check_p3
from metatheory.claims.pac_bayes.pac_bayes_regimes import DERIV_TOL, check_p2
from metatheory.claims.pac_bayes.softened_maml_posterior import (
    GROWTH_TOL,
    INTERCEPT_TOL,
    KL_TOL,
    VACUOUS,
    check_p4,
)

__all__ = [
    "MC_LEVEL",
    "MC_SIGMAS",
    "SYMPY_TOL",
    "KL_INV_TOL",
    "JIT_TOL",
    "TEST_TOL",
    "TEST_VALUES",
    "DERIV_TOL",
    "CP_LEVEL",
    "KL_TOL",
    "GROWTH_TOL",
    "INTERCEPT_TOL",
    "VACUOUS",
    "check_p1",
    "check_p2",
    "check_p3",
    "check_p4",
    "check_p5",
]
