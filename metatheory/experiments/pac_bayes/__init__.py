"""Experiments of the PAC-Bayes claims: the calculators (P1 ``pac_bayes_calculators``), their
symbolic regimes (P2 ``pac_bayes_regimes``), the coverage of the Amit–Meir bound (P3
``pac_bayes_coverage``), the softened MAML posterior (P4 ``softened_maml_posterior``) and the
learned prior (P5 ``learned_prior``); the shared sympy references and threshold environment in
:mod:`._common`.

Every experiment is ``f(config, key) -> Result``: the key draws the test points, the observed
tasks and their data, so another seed is another instance.
"""

from metatheory.experiments.pac_bayes._common import ENV, LEARNER, Environment, Learner
from metatheory.experiments.pac_bayes.learned_prior import (
    LEARNED_PRIOR_PRESETS,
    PRIOR_LEVEL,
    LearnedPriorConfig,
    LearnedPriorResult,
    learned_prior,
)
from metatheory.experiments.pac_bayes.pac_bayes_calculators import (
    PAC_BAYES_CALCULATORS_PRESETS,
    PacBayesCalculatorsConfig,
    PacBayesCalculatorsResult,
    exactness,
)
from metatheory.experiments.pac_bayes.pac_bayes_coverage import (
    PAC_BAYES_COVERAGE_PRESETS,
    PacBayesCoverageConfig,
    PacBayesCoverageResult,
    coverage,
)
from metatheory.experiments.pac_bayes.pac_bayes_regimes import (
    PAC_BAYES_REGIMES_PRESETS,
    PacBayesRegimesConfig,
    PacBayesRegimesResult,
    regimes,
)
from metatheory.experiments.pac_bayes.softened_maml_posterior import (
    SOFTENED_MAML_POSTERIOR_PRESETS,
    SoftenedMamlPosteriorConfig,
    SoftenedMamlPosteriorResult,
    softened_posterior,
)

__all__ = [
    "Environment",
    "Learner",
    "ENV",
    "LEARNER",
    "PacBayesCalculatorsConfig",
    "PAC_BAYES_CALCULATORS_PRESETS",
    "PacBayesCalculatorsResult",
    "exactness",
    "PacBayesRegimesConfig",
    "PAC_BAYES_REGIMES_PRESETS",
    "PacBayesRegimesResult",
    "regimes",
    "PacBayesCoverageConfig",
    "PAC_BAYES_COVERAGE_PRESETS",
    "PacBayesCoverageResult",
    "coverage",
    "SoftenedMamlPosteriorConfig",
    "SOFTENED_MAML_POSTERIOR_PRESETS",
    "SoftenedMamlPosteriorResult",
    "softened_posterior",
    "PRIOR_LEVEL",
    "LearnedPriorConfig",
    "LEARNED_PRIOR_PRESETS",
    "LearnedPriorResult",
    "learned_prior",
]
