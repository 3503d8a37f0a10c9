"""metatheory: theorems and bounds of meta-learning, each paired with a numerical check.

Public API (explicit re-exports):

- learners: :func:`maml_meta_gradient`, :func:`batched_maml_meta_gradient`,
  :func:`maml_meta_loss`, :func:`inner_adapt`, :func:`reptile_direction`,
  :func:`make_meta_step`, :func:`imaml_meta_gradient`, :func:`batched_imaml_meta_gradient`
- :mod:`metatheory.bounds`: calculators (PAC-Bayes, smoothness constants, implicit priors)
- :mod:`metatheory.claims`: the ledger; ``claims.run("G1")`` checks one claim (imported
  lazily on first use of ``metatheory.claims``, as are ``report``, ``experiments``,
  ``symbolic``, ``calibrate`` and ``mutants``)
"""

import importlib as _importlib

from metatheory import bounds, nets, stats, tasks
from metatheory.bounds import (
    amit_meir_bound,
    fmo_smoothness,
    fomaml_bias_bound,
    gaussian_kl,
    grant_prior_covariance,
    grant_prior_precision,
    kl_inverse_bound,
    maml_smoothness,
    mcallester_bound,
    pentina_lampert_bound,
)
from metatheory.learners import (
    batched_imaml_meta_gradient,
    batched_maml_meta_gradient,
    batched_maml_meta_loss,
    batched_reptile_direction,
    imaml_meta_gradient,
    inner_adapt,
    make_meta_step,
    maml_meta_gradient,
    maml_meta_loss,
    reptile_direction,
)

__version__ = "0.1.0"

_LAZY = ("claims", "report", "experiments", "symbolic", "calibrate", "mutants")


def __getattr__(name: str):
    """``metatheory.claims`` and the other heavy submodules, imported on first use."""
    if name in _LAZY:
        module = _importlib.import_module(f"metatheory.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'metatheory' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "bounds",
    "claims",
    "nets",
    "stats",
    "tasks",
    "inner_adapt",
    "maml_meta_loss",
    "maml_meta_gradient",
    "batched_maml_meta_loss",
    "batched_maml_meta_gradient",
    "reptile_direction",
    "batched_reptile_direction",
    "make_meta_step",
    "grant_prior_precision",
    "grant_prior_covariance",
    "fomaml_bias_bound",
    "imaml_meta_gradient",
    "batched_imaml_meta_gradient",
    "fmo_smoothness",
    "maml_smoothness",
    "gaussian_kl",
    "mcallester_bound",
    "kl_inverse_bound",
    "amit_meir_bound",
    "pentina_lampert_bound",
]
