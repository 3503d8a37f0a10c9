r"""Ledger row C6: the inner step size of N-step MAML must shrink like 1/N for the objective's
smoothness constant to stay bounded (Ji, Yang, Liang, "Theoretical convergence of multi-step
model-agnostic meta-learning", JMLR 23, 2022; only the abstract was read).

The abstract: "our results suggest that an inner-stage stepsize needs to be chosen inversely
proportional to the number N of inner-stage steps in order for N-step MAML to have guaranteed
convergence." The checked form is derived here from C2's constant :math:`L_N`
(:mod:`metatheory.symbolic.step_size`): at :math:`\alpha = c/L` it grows by
:math:`(1+c)^2` per inner step; at :math:`\alpha = c/(NL)` it increases to
:math:`L_\infty = e^{2c}L + (\rho G/L)e^{c}(e^{c}-1)`.

Decision rule: float64 quantities against bounds and against the derivation, each tolerance
from rounding; no sub-check is statistical (the seed draws the task pool and the pairs).
"""

from __future__ import annotations

import numpy as np

from metatheory.claims import Check, Mutant, Summary, Verdict, claim
from metatheory.experiments.step_size import maml_step_size as ex

BOUND_RTOL = 1e-9
"""A difference quotient ``h = 1e-4`` apart of gradients rounded to ~64 ulp (N ≤ 64 steps of a
few flops) errs by ≤ 2·64·1.1e-16·‖∇F_N‖/h ≤ 1.4e-10·L_N (here ‖∇F_N‖ ≤ G(1+αL)^N ≤ L_N);
1e-9 relative covers it and hides nothing of size."""
LIMIT_RTOL = 1e-12
"""The limit calculator (exp, expm1) against the lambdified sympy limit at random arguments:
a few float64 operations on values up to ~1e4, rounding ~1e-15 relative."""
GAP_RTOL = 1e-4
"""``N(L_∞ − L_N)`` at α = c/(NL), N = 2^20, against the derived first-order coefficient
``a1``: the next order is O(1/N) ≈ 1e-6 relative; rounding of L_N (exp of 2N·log1p(c/N), ~1e-15
relative) contributes N·1e-15·L_∞/a1 ≈ 1e-8. A wrong limit constant is off by O(N)."""
SLOPE_RTOL = 1e-9
"""The least-squares slope of log quotients against N at α = c/L: rounding of the logs
(~1e-15) moves it by far less than 1e-9 relative."""


def _n(x):
    return float(np.asarray(x))


# ------------------------------------------------------------------ mutants of the calculators

_LIMIT = "metatheory.bounds.step_size:maml_smoothness_limit"
_STEP = "metatheory.bounds.step_size:inverse_n_step_size"
_MS = "metatheory.bounds:maml_smoothness"


def _limit_exponent_c():
    """e^{c}L for e^{2c}L in the limit: the inner Jacobian counted once where it enters twice."""

    def make(orig):
        def wrong(c, L, rho, G):
            head = orig(0.5 * np.asarray(c), L, 0.0 * np.asarray(rho), G)  # L e^{c}
            return head + orig(c, L, rho, G) - orig(c, L, 0.0 * np.asarray(rho), G)

        return wrong

    return Mutant("limit-exponent-c", "L_∞ with e^{c}L for e^{2c}L", _LIMIT, make)


def _step_sqrt_n():
    """α = c/(√N L): the step shrunk with the square root of N instead of N."""
    return Mutant(
        "step-sqrt-n",
        "inner step c/(√N L) for c/(N L)",
        _STEP,
        lambda orig: lambda c, L, n_steps: orig(c, L, n_steps) * np.sqrt(np.asarray(n_steps)),
    )


def _smoothness_exponent_n():
    """(1+αL)^N L for (1+αL)^{2N} L in L_N."""

    def make(orig):
        def wrong(L, rho, alpha, G, n_steps=1):
            q = 1.0 + np.asarray(alpha, np.float64) * np.asarray(L, np.float64)
            n = np.asarray(n_steps, np.float64)
            return orig(L, rho, alpha, G, n_steps) - L * q ** (2 * n) + L * q**n

        return wrong

    return Mutant("exponent-N", "L_N with (1+αL)^N L for (1+αL)^{2N} L", _MS, make)


# ------------------------------------------------------------------------------------- C6


@claim(
    "C6",
    name="maml_step_size",
    statement="With α = c/(NL) the N-step MAML objective stays L_∞-smooth for every N, "
    "L_∞ = e^{2c}L + (ρG/L)e^c(e^c−1); with a fixed α = c/L its constant grows like "
    "(1+c)^{2N}.",
    latex=r"$\alpha=\frac{c}{NL}\Rightarrow L_N\le L_\infty=e^{2c}L+\frac{\rho G}{L}e^{c}"
    r"(e^{c}-1)$; $\alpha=\frac{c}{L}\Rightarrow L_N\sim(1+c)^{2N}$",
    source="Ji, Yang, Liang 2022 (JMLR 23), abstract: inner step inversely proportional to N; "
    "the constants derived here from C2",
    experiment=ex.maml_step_size,
    presets=ex.PRESETS,
    seed=160,
    mutants=[_limit_exponent_c(), _step_sqrt_n(), _smoothness_exponent_n()],
    evidence="bound",
    cites=["ji2022multistep", "fallah2020convergence"],
)
def check_c6(r: ex.StepSizeResult) -> Verdict:
    lim = 1 + BOUND_RTOL
    ratio_fixed = r.emp_fixed / r.bound_fixed
    ratio_inv = r.emp_inverse / r.bound_inverse
    to_limit = r.emp_inverse / r.limit
    bound_to_limit = r.bound_inverse / r.limit
    tightest = float(max(ratio_fixed.max(), ratio_inv.max()))
    n_checked = r.n_pairs * (r.n_fixed.size + r.n_inverse.size)
    over = r.emp_fixed.max() / r.limit
    return Verdict.of(
        [
            Check.at_most(
                "bound (α = c/L)",
                float(ratio_fixed.max()),
                lim,
                what=f"max quotient/L_N over N = 1..{r.n_fixed.max()}: ",
                digits=4,
            ),
            Check.at_most(
                "bound (α = c/(NL))",
                float(ratio_inv.max()),
                lim,
                what=f"max quotient/L_N over N = 1..{r.n_inverse.max()}: ",
                digits=4,
            ),
            Check.at_most(
                "bounded by L_∞ (α = c/(NL))",
                float(max(to_limit.max(), bound_to_limit.max())),
                lim,
                what="max(quotient, L_N)/L_∞: ",
                digits=4,
            ),
            Check.at_most(
                "limit-vs-derivation",
                r.limit_vs_derived,
                LIMIT_RTOL,
                what="calculator vs sympy limit: ",
                digits=2,
            ),
            Check.at_most(
                "L_N → L_∞ at the derived rate",
                r.gap_rel_err,
                GAP_RTOL,
                what="|N(L_∞ − L_N) − a1|/a1 at N = 2^20: ",
                digits=2,
            ),
            Check.at_most(
                "growth ≤ derived (α = c/L)",
                r.slope_fixed,
                r.slope_derived * (1 + SLOPE_RTOL),
                what="slope of log quotient in N: ",
                digits=4,
            ),
            Check.at_least(
                "control: a fixed step stays bounded",
                float(over),
                lim,
                what=f"α = c/L exceeds L_∞ ×{over:.3g} at N = {r.n_fixed.max()}: ",
                control=True,
            ),
        ],
        predicted="quotients ≤ L_N for every N; ≤ L_∞ at α = c/(NL); log-growth ≤ 2 log(1+c) "
        "per step at α = c/L",
        measured=f"quotient/L_N ≤ {tightest:.4f}; at α = c/(NL), N = {r.n_inverse.max()}: "
        f"{r.emp_inverse[-1]:.4f} = {to_limit[-1]:.3f} L_∞ (L_∞ = {r.limit:.4f}); at α = c/L "
        f"slope {r.slope_fixed:.4f} per step (derived {r.slope_derived:.4f})",
        note="The quotients are lower bounds on the Lipschitz constant of ∇F_N; on this "
        "separable family the ρ term of L_N is slack (the quotients reach (1+αL)^{2N}L). "
        "Only the abstract of the source was read: the theorem's own step constant is not "
        "checked.",
        numbers={
            "tight": tightest,
            "tightinv": float(ratio_inv.max()),
            "tolimit": float(to_limit[-1]),
            "empinv": float(r.emp_inverse[-1]),
            "limit": r.limit,
            "slope": r.slope_fixed,
            "slopederived": r.slope_derived,
            "limderived": r.limit_vs_derived,
            "gap": r.gap_rel_err,
            "control": float(over),
            "nmaxinv": int(r.n_inverse.max()),
            "nmaxfixed": int(r.n_fixed.max()),
            "c": r.c,
            "pairs": int(n_checked),
        },
        summary=Summary.bound(n_checked, tightest, what="pairs"),
        evidence=r,
    )
