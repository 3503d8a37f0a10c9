"""The convergence family's shared tolerance and the mutants of its smoothness calculators
(C1, C2)."""

from __future__ import annotations

import numpy as np

from metatheory.claims import Mutant

BOUND_RTOL = 1e-9
"""A bound must hold up to float64 rounding: the Hessians and quotients are ~10 flops deep,
rounding ~1e-15 relative; 1e-9 leaves margin and hides nothing of size."""

_MS = "metatheory.bounds.fmo:maml_smoothness"
_FS = "metatheory.bounds.fmo:fmo_smoothness"


def _q(alpha, L):
    return 1.0 + np.asarray(alpha, np.float64) * np.asarray(L, np.float64)


def _ms_exponent_n() -> Mutant:
    """(1+αL)^N for (1+αL)^{2N}: the Jacobian counted once where it enters twice."""

    def wrong(L, rho, alpha, G, n_steps=1):
        q, n = _q(alpha, L), np.asarray(n_steps, np.float64)
        return q**n * L + (rho * G / L) * q ** (n - 1) * (q**n - 1)

    return Mutant("exponent-N", "L_N with (1+αL)^N for (1+αL)^{2N}", _MS, lambda orig: wrong)


def _ms_rho_dropped() -> Mutant:
    """The Hessian-Lipschitz term ρG(…) dropped: L_N = (1+αL)^{2N} L."""
    return Mutant(
        "rho-term-dropped",
        "L_N without its ρ term",
        _MS,
        lambda orig: lambda L, rho, alpha, G, n_steps=1: orig(L, 0.0 * rho, alpha, G, n_steps),
    )


def _ms_off_by_one() -> Mutant:
    """L_{N−1} where L_N is asked for."""

    def make(orig):
        def wrong(L, rho, alpha, G, n_steps=1):
            return orig(L, rho, alpha, G, np.maximum(np.asarray(n_steps) - 1, 0))

        return wrong

    return Mutant("steps-minus-one", "off-by-one: L_{N-1} for L_N", _MS, make)


def _fs_rho_dropped() -> Mutant:
    """FMO's L(w) without 2ραE‖∇f_i(w)‖: 4L."""
    return Mutant(
        "fmo-rho-dropped",
        "L(w) = 4L: the ρ term of Lemma 4.2 dropped",
        _FS,
        lambda orig: lambda L, rho, alpha, grad_norm: orig(L, 0.0 * rho, alpha, grad_norm),
    )


def _fs_single_factor() -> Mutant:
    """(1+αL) ≤ 2 used once instead of (1+αL)² ≤ 4: L(w) = 2L + 2ραE‖∇f_i(w)‖."""
    return Mutant(
        "fmo-2L",
        "L(w) = 2L + 2ραE‖∇f‖: (1+αL) for (1+αL)²",
        _FS,
        lambda orig: lambda L, rho, alpha, grad_norm: orig(L, rho, alpha, grad_norm) - 2.0 * L,
    )
