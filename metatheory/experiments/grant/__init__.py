"""Hierarchical-Bayes experiments: Grant et al.'s implicit prior (H1 ``grant_implicit_prior``)
and MAML's outer loop as empirical Bayes (H2 ``maml_empirical_bayes``)."""

from metatheory.experiments.grant.grant_implicit_prior import (
    GRANT_IMPLICIT_PRIOR_PRESETS,
    GrantImplicitPriorConfig,
    GrantImplicitPriorResult,
    implicit_prior,
)
from metatheory.experiments.grant.maml_empirical_bayes import (
    MAML_EMPIRICAL_BAYES_PRESETS,
    MamlEmpiricalBayesConfig,
    MamlEmpiricalBayesResult,
    empirical_bayes,
)

__all__ = [
    "GrantImplicitPriorConfig",
    "GRANT_IMPLICIT_PRIOR_PRESETS",
    "GrantImplicitPriorResult",
    "implicit_prior",
    "MamlEmpiricalBayesConfig",
    "MAML_EMPIRICAL_BAYES_PRESETS",
    "MamlEmpiricalBayesResult",
    "empirical_bayes",
]
