"""The PAC-Bayes mutants: plausible bugs or misreadings of the public calculators of
:mod:`metatheory.bounds.pac_bayes` (the Amit–Meir terms, the Gaussian KL, the single-task bounds;
Amit & Meir 2018, Thm 2; Maurer 2004; Pentina & Lampert 2014, Thm 1) and of the threshold
environment's closed-form transfer risk."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.mutants import Mutant, bound_terms

MC_SIGMAS = 4.0
"""Closed-form transfer risk vs the Monte Carlo estimate: |diff| ≤ 4 standard errors
(two-sided normal tail 6.3e-5)."""
MC_LEVEL = 6.3e-5
"""Two-sided normal tail probability of MC_SIGMAS standard errors."""

_BOUNDS = "metatheory.bounds.pac_bayes"


def _am_mutant(name, description, task_fn=None, meta_fn=None) -> Mutant:
    """An Amit–Meir mutant that rewrites the task and/or meta term of the true calculator's
    output (``task_fn(task, n, m)``, ``meta_fn(meta, n, m)``)."""
    return bound_terms(name, description, f"{_BOUNDS}:amit_meir_bound", task_fn, meta_fn)


def _am_meta_dropped() -> Mutant:
    return _am_mutant(
        "am_meta_dropped",
        "Amit–Meir without the meta (environment) term: only the task-level bound",
        meta_fn=lambda meta, n, m: 0.0 * meta,
    )


def _am_task_quartered() -> Mutant:
    return _am_mutant(
        "am_task_quartered",
        "the task term a quarter of its value (e.g. 1/(8(m−1)) for 1/(2(m−1)) with a square "
        "lost, or a 1/4 from a misread constant)",
        task_fn=lambda task, n, m: task / 4.0,
    )


def _am_no_sqrt() -> Mutant:
    return _am_mutant(
        "am_no_sqrt",
        "both terms without their square roots: (KL + ln(...))/(2(N−1)) for √(...)",
        task_fn=lambda task, n, m: task**2,
        meta_fn=lambda meta, n, m: meta**2,
    )


def _am_task_no_sqrt() -> Mutant:
    return _am_mutant(
        "am_task_no_sqrt",
        "the task term without its square root",
        task_fn=lambda task, n, m: task**2,
    )


def _am_task_delta_n() -> Mutant:
    return _am_mutant(
        "am_task_delta_n",
        "union bound over tasks at δ/n instead of δ/(2n): ln(nm/δ) for ln(2nm/δ)",
        task_fn=lambda task, n, m: (task**2 - math.log(2.0) / (2.0 * (m - 1.0))) ** 0.5,
    )


def _am_meta_delta() -> Mutant:
    return _am_mutant(
        "am_meta_delta",
        "environment level at δ instead of δ/2: ln(n/δ) for ln(2n/δ)",
        meta_fn=lambda meta, n, m: (meta**2 - math.log(2.0) / (2.0 * (n - 1.0))) ** 0.5,
    )


def _am_m_for_m_minus_1() -> Mutant:
    return _am_mutant(
        "am_m_for_m_minus_1",
        "task term over 2m instead of 2(m−1)",
        task_fn=lambda task, n, m: task * ((m - 1.0) / m) ** 0.5,
    )


def _kl_mutant(name, description, fn) -> Mutant:
    def make(orig):
        def gaussian_kl(mu_q, sigma_q, mu_p, sigma_p):
            return fn(orig, mu_q, sigma_q, mu_p, sigma_p)

        return gaussian_kl

    return Mutant(name, description, f"{_BOUNDS}:gaussian_kl", make)


def _gaussian_kl_scales_swapped() -> Mutant:
    return _kl_mutant(
        "gaussian_kl_scales_swapped",
        "variance ratio inverted: KL computed with σ_q and σ_p swapped",
        lambda orig, mq, sq, mp, sp: orig(mq, sp, mp, sq),
    )


def _gaussian_kl_no_half() -> Mutant:
    return _kl_mutant(
        "gaussian_kl_no_half",
        "the ½ of the Gaussian KL dropped",
        lambda orig, mq, sq, mp, sp: 2.0 * orig(mq, sq, mp, sp),
    )


def _last_dim(*args) -> int:
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    return int(shape[-1]) if shape else 1


def _gaussian_kl_mean_over_dims() -> Mutant:
    return _kl_mutant(
        "gaussian_kl_mean_over_dims",
        "the per-coordinate KLs averaged instead of summed over the last axis",
        lambda orig, mq, sq, mp, sp: orig(mq, sq, mp, sp) / _last_dim(mq, sq, mp, sp),
    )


def _mcallester_no_sqrt_m() -> Mutant:
    def make(orig):
        def mcallester_bound(emp_risk, kl, m, delta):
            b = orig(emp_risk, kl, m, delta)
            xp = jnp if isinstance(m, jax.core.Tracer) else np
            gap2 = (b - emp_risk) ** 2 - 0.5 * xp.log(m) / (2.0 * m)
            return emp_risk + gap2**0.5

        return mcallester_bound

    return Mutant(
        "mcallester_no_sqrt_m",
        "McAllester/Maurer with ln(2/δ) instead of ln(2√m/δ)",
        f"{_BOUNDS}:mcallester_bound",
        make,
    )


def _kl_inverse_pinsker() -> Mutant:
    def make(orig):
        from metatheory.bounds import pac_bayes as pb

        mc = pb.mcallester_bound

        def kl_inverse_bound(emp_risk, kl, m, delta):
            b = mc(emp_risk, kl, m, delta)
            return (jnp if isinstance(b, jax.core.Tracer) else np).minimum(b, 1.0)

        return kl_inverse_bound

    return Mutant(
        "kl_inverse_pinsker",
        "the kl inversion replaced by its Pinsker relaxation (McAllester, clipped at 1)",
        f"{_BOUNDS}:kl_inverse_bound",
        make,
    )


_THRESHOLD = "metatheory.tasks.threshold:transfer_risk"


def _transfer_no_task_spread() -> Mutant:
    def make(orig):
        def transfer_risk(nu, kappa, env, lr, m, mu0=None):
            return orig(nu, kappa, dataclasses.replace(env, tau0=0.0), lr, m, mu0)

        return transfer_risk

    return Mutant(
        "transfer_no_task_spread",
        "closed-form transfer risk without the spread of task centres (w²τ₀² dropped from the "
        "variance of c − a)",
        _THRESHOLD,
        make,
    )


def _transfer_no_kappa() -> Mutant:
    def make(orig):
        def transfer_risk(nu, kappa, env, lr, m, mu0=None):
            return orig(nu, 0.0 * kappa, env, lr, m, mu0)

        return transfer_risk

    return Mutant(
        "transfer_no_kappa",
        "closed-form transfer risk at the hyperposterior mean only (its spread κ ignored)",
        _THRESHOLD,
        make,
    )
