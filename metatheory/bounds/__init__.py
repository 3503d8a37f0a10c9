"""Importable calculators for the bounds and constants of meta-learning theory.

Every calculator validates its arguments (``ValueError`` naming the argument and the accepted
range), broadcasts over arrays, and is listed in :data:`CALCULATORS` under the name the
``metatheory bound NAME`` command uses. The public functions left out take arrays (a matrix,
eigenvalues, gradient vectors), which the command's scalar flags cannot pass:
:func:`gaussian_kl`, :func:`grant_prior_covariance`, :func:`imaml_condition_number`,
:func:`nichol_expected_updates`, :func:`meta_sgd_alpha_gradient` and
:func:`pacoh_hyper_posterior` (:data:`NOT_CALCULATORS` gives each reason;
``nichol_expected_updates`` and ``meta_sgd_alpha_gradient`` are NumPy reference formulas).

Rules shared by every calculator (and :func:`gaussian_kl`, :func:`grant_prior_covariance`,
:func:`imaml_condition_number`):

* **Return type.** NumPy/Python input gives float64 NumPy (a ``numpy.float64`` scalar when
  0-d); if any argument is a JAX array or traced, the result is a ``jax.Array`` in JAX's
  default float dtype (float64 under ``jax_enable_x64``).
* **Transformations.** ``jax.jit``, ``jax.grad`` and ``jax.vmap`` work in every real
  argument; gradients are those of the formula (the kl inverse differentiates by the implicit
  function theorem). Integer arguments (``n_steps``) differentiate as the formula's continuous
  extension.
* **Bad input.** Concrete invalid input raises ``ValueError`` naming the argument and its
  range. Traced input cannot be checked at trace time: the result is NaN wherever an argument
  is invalid, never a plausible number, and so is its derivative under ``grad`` (also inside
  ``jit`` and ``vmap``). Bool and complex arguments are rejected (also traced).
* **Overflow** gives ``inf`` without warnings (``grant_prior_covariance`` raises on concrete
  input, since an infinite covariance matrix has no finite entries to return).
"""

from __future__ import annotations

from metatheory.bounds.cost import maml_step_cost
from metatheory.bounds.fmo import (
    fmo_maml_accuracy,
    fmo_smoothness,
    fo_maml_floor,
    maml_rate_bound,
    maml_smoothness,
)
from metatheory.bounds.fomaml import (
    fomaml_bias_bound,
    meta_sgd_alpha_gradient,
    nichol_expected_updates,
)
from metatheory.bounds.grant import grant_prior_covariance, grant_prior_precision
from metatheory.bounds.hessian_free import hf_maml_hvp_error_bound, hf_maml_hvp_error_bound_smooth
from metatheory.bounds.imaml import cg_error_bound, imaml_condition_number
from metatheory.bounds.negative_rates import (
    adaptation_factor,
    adapted_test_loss,
    maml_gradient_noise,
    maml_test_loss,
)
from metatheory.bounds.pac_bayes import (
    MetaBound,
    amit_meir_bound,
    binary_kl,
    gaussian_kl,
    kl_inverse_bound,
    mcallester_bound,
    pentina_lampert_bound,
)
from metatheory.bounds.pacoh import pacoh_bound, pacoh_exponent, pacoh_hyper_posterior
from metatheory.bounds.representation import anil_contraction_rate
from metatheory.bounds.step_size import inverse_n_step_size, maml_smoothness_limit

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
CALCULATORS["maml-rate"] = maml_rate_bound
CALCULATORS["fmo-maml-accuracy"] = fmo_maml_accuracy
CALCULATORS["maml-step-cost"] = maml_step_cost
CALCULATORS["cg-error"] = cg_error_bound
CALCULATORS["binary-kl"] = binary_kl
CALCULATORS["fo-maml-floor"] = fo_maml_floor

CALCULATORS["maml-step-size"] = inverse_n_step_size
CALCULATORS["maml-smoothness-limit"] = maml_smoothness_limit
CALCULATORS["hf-maml-hvp-error"] = hf_maml_hvp_error_bound
CALCULATORS["hf-maml-hvp-error-smooth"] = hf_maml_hvp_error_bound_smooth

CALCULATORS["pacoh-bound"] = pacoh_bound
CALCULATORS["maml-test-loss"] = maml_test_loss
CALCULATORS["pacoh-exponent"] = pacoh_exponent
CALCULATORS["adaptation-factor"] = adaptation_factor
CALCULATORS["adapted-test-loss"] = adapted_test_loss
CALCULATORS["maml-gradient-noise"] = maml_gradient_noise

CALCULATORS["anil-contraction-rate"] = anil_contraction_rate

NOT_CALCULATORS: dict = {
    "gaussian_kl": "sums over the last axis of array arguments (a KL between diagonal "
    "Gaussians, the input of the PAC-Bayes bounds)",
    "grant_prior_covariance": "takes a Hessian matrix",
    "imaml_condition_number": "takes the Hessian's eigenvalues as an array",
    "nichol_expected_updates": "takes gradient vectors; NumPy only (a reference formula of "
    "claim G4, not transformable)",
    "meta_sgd_alpha_gradient": "takes matrices and vectors; NumPy only (a reference formula "
    "of claim G8, not transformable)",
    "pacoh_hyper_posterior": "takes the tasks' design matrices and targets (arrays)",
}
"""Public functions of this package that are not in :data:`CALCULATORS` (their arguments are
arrays, which ``metatheory bound NAME --arg V`` cannot pass), with the reason."""

__all__ = [
    "CALCULATORS",
    "NOT_CALCULATORS",
    "maml_rate_bound",
    "fmo_maml_accuracy",
    "fo_maml_floor",
    "maml_step_cost",
    "nichol_expected_updates",
    "meta_sgd_alpha_gradient",
    "imaml_condition_number",
    "cg_error_bound",
    "binary_kl",
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
    "inverse_n_step_size",
    "maml_smoothness_limit",
    "hf_maml_hvp_error_bound",
    "hf_maml_hvp_error_bound_smooth",
    "pacoh_exponent",
    "pacoh_hyper_posterior",
    "pacoh_bound",
    "adaptation_factor",
    "adapted_test_loss",
    "maml_gradient_noise",
    "maml_test_loss",
    "anil_contraction_rate",
]
