"""Importable calculators for the bounds and constants of meta-learning theory.

Every calculator validates its arguments (``ValueError`` naming the argument and the accepted
range), broadcasts over arrays, and is listed in :data:`CALCULATORS` under the name the
``metatheory bound NAME`` command uses.
"""

from __future__ import annotations

from metatheory.bounds.fomaml import fomaml_bias_bound
from metatheory.bounds.grant import grant_prior_covariance, grant_prior_precision
from metatheory.bounds.pac_bayes import (
    MetaBound,
    amit_meir_bound,
    gaussian_kl,
    kl_inverse_bound,
    mcallester_bound,
    pentina_lampert_bound,
)
from metatheory.bounds.fmo import fmo_smoothness, maml_smoothness

CALCULATORS: dict = {}
"""CLI name -> calculator function; ``metatheory bound NAME --arg value`` calls it."""
CALCULATORS["fmo-smoothness"] = fmo_smoothness
CALCULATORS["maml-smoothness"] = maml_smoothness
CALCULATORS["mcallester"] = mcallester_bound
CALCULATORS["kl-inverse"] = kl_inverse_bound
CALCULATORS["amit-meir"] = amit_meir_bound
CALCULATORS["pentina-lampert"] = pentina_lampert_bound
CALCULATORS["grant-precision"] = grant_prior_precision
CALCULATORS["fomaml-bias"] = fomaml_bias_bound

__all__ = [
    "CALCULATORS",
    "grant_prior_precision",
    "grant_prior_covariance",
    "fomaml_bias_bound",
    "fmo_smoothness",
    "maml_smoothness",
    "MetaBound",
    "gaussian_kl",
    "mcallester_bound",
    "kl_inverse_bound",
    "amit_meir_bound",
    "pentina_lampert_bound",
]
