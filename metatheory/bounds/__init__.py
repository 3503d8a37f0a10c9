"""Importable calculators for the bounds and constants of meta-learning theory.

Every calculator validates its arguments (``ValueError`` naming the argument and the accepted
range), broadcasts over arrays, and is listed in :data:`CALCULATORS` under the name the
``metatheory bound NAME`` command uses.

Rules shared by every calculator (and :func:`gaussian_kl`, :func:`grant_prior_covariance`):

* **Return type.** NumPy/Python input gives float64 NumPy (a ``numpy.float64`` scalar when
  0-d); if any argument is a JAX array or traced, the result is a ``jax.Array`` in JAX's
  default float dtype (float64 under ``jax_enable_x64``).
* **Transformations.** ``jax.jit``, ``jax.grad`` and ``jax.vmap`` work in every real
  argument; gradients are those of the formula (the kl inverse differentiates by the implicit
  function theorem). Integer arguments (``n_steps``) differentiate as the formula's continuous
  extension.
* **Bad input.** Concrete invalid input raises ``ValueError`` naming the argument and its
  range. Traced input cannot be checked at trace time: the result is NaN wherever an argument
  is invalid, never a plausible number. Bool and complex arguments are rejected (also traced).
* **Overflow** gives ``inf`` without warnings (``grant_prior_covariance`` raises on concrete
  input, since an infinite covariance matrix has no finite entries to return).
"""

from __future__ import annotations

from metatheory.bounds.fmo import fmo_smoothness, maml_smoothness
from metatheory.bounds.fomaml import fomaml_bias_bound
from metatheory.bounds.grant import grant_prior_covariance, grant_prior_precision
from metatheory.bounds.negative_rates import (
    adaptation_factor,
    adapted_test_loss,
    maml_gradient_noise,
    maml_test_loss,
)
from metatheory.bounds.pac_bayes import (
    MetaBound,
    amit_meir_bound,
    gaussian_kl,
    kl_inverse_bound,
    mcallester_bound,
    pentina_lampert_bound,
)
from metatheory.bounds.pacoh import pacoh_bound, pacoh_exponent, pacoh_hyper_posterior

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
CALCULATORS["pacoh-bound"] = pacoh_bound
CALCULATORS["maml-test-loss"] = maml_test_loss

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
    "pacoh_exponent",
    "pacoh_hyper_posterior",
    "pacoh_bound",
    "adaptation_factor",
    "adapted_test_loss",
    "maml_gradient_noise",
    "maml_test_loss",
]
