"""The Bayesian lens's mutants: plausible bugs in the GP task family
(:mod:`metatheory.tasks.gp`) and in the neural-process learners
(:mod:`metatheory.learners.neural_process`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metatheory import nets
from metatheory.learners import neural_process as npl
from metatheory.mutants import Mutant
from metatheory.tasks import gp

_GP = "metatheory.tasks.gp"
_NPL = "metatheory.learners.neural_process"


def _lengthscale_squared() -> Mutant:
    return Mutant(
        "rbf-lengthscale-squared-twice",
        "RBF kernel exp(−d²/2ℓ⁴): the lengthscale squared twice",
        f"{_GP}:rbf_kernel",
        lambda orig: (
            lambda x1, x2, lengthscale, variance=1.0: orig(x1, x2, lengthscale**2, variance)
        ),
    )


def _missing_half() -> Mutant:
    return Mutant(
        "rbf-missing-half",
        "RBF kernel exp(−d²/ℓ²): the ½ in the exponent missing",
        f"{_GP}:rbf_kernel",
        lambda orig: (
            lambda x1, x2, lengthscale, variance=1.0: orig(
                x1, x2, lengthscale / jnp.sqrt(2.0), variance
            )
        ),
    )


def _noise_off_diagonal() -> Mutant:
    def make(orig):
        def wrong(x_c, y_c, x_t, lengthscale, *, variance=1.0, noise=0.1, mask=None):
            mean, var = orig(x_c, y_c, x_t, lengthscale, variance=variance, noise=0.0, mask=mask)
            return mean, var + noise**2

        return wrong

    return Mutant(
        "noise-dropped-from-diagonal",
        "predictive with K_CC⁻¹ for (K_CC + σ_n²I)⁻¹ (σ_n² kept only in the variance)",
        f"{_GP}:posterior_predictive",
        make,
    )


def _variance_no_reduction() -> Mutant:
    def make(orig):
        def wrong(x_c, y_c, x_t, lengthscale, *, variance=1.0, noise=0.1, mask=None):
            mean, var = orig(x_c, y_c, x_t, lengthscale, variance=variance, noise=noise, mask=mask)
            return mean, jnp.full_like(var, variance + noise**2)

        return wrong

    return Mutant(
        "variance-missing-reduction",
        "predictive variance s² + σ_n² without the −k_*ᵀ(K+σ_n²I)⁻¹k_* term",
        f"{_GP}:posterior_predictive",
        make,
    )


def _cnp_sigma_as_variance() -> Mutant:
    def make(orig):
        def wrong(params, x, y, mask, x_t, y_t):
            mu, sigma = npl.cnp_predict(params, x, y, mask, x_t)
            return -jnp.mean(gp.gaussian_log_density(y_t[:, 0], mu, sigma))

        return wrong

    return Mutant(
        "cnp-sigma-as-variance",
        "CNP trained with the predicted σ used as the variance (σ for σ²)",
        f"{_NPL}:cnp_loss",
        make,
    )


def _iwae_mean_log_weights() -> Mutant:
    def make(orig):
        def wrong(params, key, x, y, ctx_mask, tgt_mask, n_samples=256):
            both = jnp.logical_or(ctx_mask, tgt_mask)
            r = npl.masked_mean(nets.apply(params["enc"], jnp.concatenate([x, y], -1)), ctx_mask)
            mu_ct, sig_ct = npl.latent_q(params, x, y, both)
            mu_c, sig_c = npl.latent_q(params, x, y, ctx_mask)
            eps = jax.random.normal(key, (n_samples, mu_ct.shape[0]), mu_ct.dtype)
            tm = tgt_mask.astype(y.dtype)
            lognorm = lambda z, m, s: jnp.sum(gp.gaussian_log_density(z, m, s**2))

            def log_w(e):
                z = mu_ct + sig_ct * e
                mu, sigma = npl.lnp_decode(params, z, r, x)
                ll = jnp.sum(tm * gp.gaussian_log_density(y[:, 0], mu, sigma**2))
                return ll + lognorm(z, mu_c, sig_c) - lognorm(z, mu_ct, sig_ct)

            return jnp.mean(jax.vmap(log_w)(eps))

        return wrong

    return Mutant(
        "iwae-mean-log-weights",
        "importance-weighted log-likelihood as the mean of log weights (log-mean-exp lost)",
        f"{_NPL}:lnp_log_likelihood_is",
        make,
    )


def _kl_swapped() -> Mutant:
    return Mutant(
        "elbo-kl-swapped",
        "the ELBO's KL with its arguments swapped: KL(q(z|C) ‖ q(z|C∪T))",
        f"{_NPL}:gaussian_kl",
        lambda orig: lambda mu_q, sigma_q, mu_p, sigma_p: orig(mu_p, sigma_p, mu_q, sigma_q),
    )
