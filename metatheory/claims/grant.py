"""Ledger rows H1 (early stopping is a Gaussian prior) and H2 (MAML as empirical Bayes).

Both checks are deterministic: every sub-check compares float64 numbers with an exact
prediction (or a truncated series with its next term) under a rounding or truncation
tolerance, so their designed false-alarm level is 0 and they are calibrated over random
problem instances, not over noise.

Decision rule for the small-step series of H1: the points λ(α) are deterministic, so a
log-log fit through them has no noise to put a confidence interval on (its interval would
measure the curvature of the series, not sampling error). Instead, the two-term truncation
error is compared with the series' next term, whose coefficient sympy derives, and the
remainder is bounded by the term after it.
"""

from __future__ import annotations

import functools

import numpy as np

from metatheory import mutants
from metatheory.bounds import grant_prior_precision
from metatheory.claims import Check, Mutant, Summary, Verdict, claim
from metatheory.experiments import grant as ex

EXACT_TOL = 1e-12
"""GD iterate vs MAP in float64, relative to ‖θ̂‖ + ‖θ₀‖: at most 40 steps of O(eps) rounding
plus one small solve with cond(Q) ≲ 1e3 (see GrantImplicitPriorConfig) stay below ~1e-13."""
ROUND_REL = 64 * np.finfo(np.float64).eps
"""Rounding of λ = h r^N / (−expm1(N log r)) and of the two-term series 1/(αN) − (N+1)h/(2N):
a handful of correctly rounded operations, each within eps relative to λ ~ 1/(αN); 64 eps
covers their sum with margin."""
REMAINDER = 2.0
"""The error of the three-term series, c₂α² + c₃α³ + c₄α⁴ + …, is at most 2|c₂|α² when the
tail after c₂α² is at most |c₂|α² itself; the check asserts that regime (|c₃|α + |c₄|α² ≤
½|c₂| at the largest α, with c₃, c₄ from sympy), so the factor 2 is an error bound, not a band."""
EB_TOL = 1e-8
"""The MAML minimizer by one Newton step with the autodiff Hessian M H M, M = (I − αH)^N: with
α λ_max up to 0.9 its condition number reaches ~1e6, so float64 solves are good to ~1e-10;
1e-8 leaves margin and still rejects the O(1e-2) gaps of the control."""
CURV_TOL = 1e-10
"""Autodiff Hessian of the MAML objective vs M H M from Grant's covariance: 2×2 float64 matrix
products over N ≤ 10 steps and one eigendecomposition, rounding ~1e-14 relative."""


@functools.cache
def _series_coefficients():
    """``{k: c_k(h, N)}``, λ = Σ c_k α^k for k = −1..3, from the sympy derivation (cached:
    the Laurent series takes seconds)."""
    import sympy as sp

    from metatheory.symbolic import grant as sg

    cs = sg.series_coefficients(5)
    return {k: sp.lambdify((sg.h, sg.N), v, "numpy") for k, v in cs.items()}


def series_terms(h: float, n: int) -> dict[int, float]:
    """The coefficients ``c_k`` of λ's series at ``(h, N)``."""
    return {k: float(f(h, n)) for k, f in _series_coefficients().items()}


def series_errors(r: ex.GrantImplicitPriorResult):
    """``(c, two, e1, bound, wrong)``: coefficients, the two-term series, its error
    λ − two, the remainder bound of e1 − c₁α, and the error with the wrong constant −h/2."""
    c = series_terms(r.series_h, r.series_n)
    a, lam = r.series_alphas, r.series_lambda
    two = c[-1] / a + c[0]
    e1 = lam - two
    bound = REMAINDER * abs(c[2]) * a**2 + ROUND_REL * np.abs(lam)
    wrong = lam - (c[-1] / a - r.series_h / 2)
    return c, two, e1, bound, wrong


# ----------------------------------------------------------------------- mutants of H1/H2


def _precision_n_plus_one() -> Mutant:
    return Mutant(
        "precision-n-plus-one",
        "λ computed with N+1 steps (off-by-one in the exponent)",
        "metatheory.bounds.grant:grant_prior_precision",
        lambda orig: lambda h, alpha, n_steps: orig(h, alpha, np.asarray(n_steps) + 1),
    )


def _precision_factor_two() -> Mutant:
    return Mutant(
        "precision-factor-two",
        "λ twice too large (a stray factor 2, e.g. from the ½ of the quadratic)",
        "metatheory.bounds.grant:grant_prior_precision",
        lambda orig: lambda *a, **kw: 2.0 * orig(*a, **kw),
    )


def _precision_numerator_exponent() -> Mutant:
    """h r^{N−1}/(1 − r^N): the numerator's exponent off by one (same leading term 1/(αN))."""
    return Mutant(
        "precision-numerator-n-minus-one",
        "λ = h(1−αh)^{N−1}/(1−(1−αh)^N): numerator exponent N−1",
        "metatheory.bounds.grant:grant_prior_precision",
        lambda orig: lambda h, alpha, n_steps: orig(h, alpha, n_steps) / (1 - alpha * h),
    )


def _covariance_n_plus_one() -> Mutant:
    return Mutant(
        "covariance-n-plus-one",
        "prior covariance with (I−αΛ)^{−(N+1)}: off-by-one in the exponent",
        "metatheory.bounds.grant:grant_prior_covariance",
        lambda orig: lambda H, alpha, n_steps: orig(H, alpha, int(n_steps) + 1),
    )


@claim(
    "H1",
    name="grant_implicit_prior",
    statement="N GD steps on a quadratic equal the MAP under N(θ0, 1/λ), "
    "λ = h(1−αh)^N/(1−(1−αh)^N); matrix form Q = OΛ^{-1}((I−αΛ)^{-N}−I)Oᵀ; "
    "λ = 1/(αN) − (N+1)h/(2N) + O(α).",
    latex=r"$\lambda = \frac{h(1-\alpha h)^N}{1-(1-\alpha h)^N} = \frac1{\alpha N}"
    r"-\frac{(N+1)h}{2N}+O(\alpha)$; $Q = O\Lambda^{-1}((I-\alpha\Lambda)^{-N}-I)O^\top$",
    source="Grant et al. 2018, Sec. 3.1 (after Santos 1996)",
    experiment=ex.implicit_prior,
    evidence="identity",
    cites=["grant2018recasting", "santos1996equivalence"],
    presets=ex.GRANT_IMPLICIT_PRIOR_PRESETS,
    seed=30,
    mutants=[
        _precision_n_plus_one(),
        _precision_factor_two(),
        _precision_numerator_exponent(),
        _covariance_n_plus_one(),
        mutants.maml_off_by_one(-1),
        mutants.maml_alpha_scaled(0.5),
    ],
)
def check_h1(r: ex.GrantImplicitPriorResult) -> Verdict:
    worst = {
        "scalar": r.scalar_err.max(),
        "matrix": r.matrix_err.max(),
        "regression": r.regression_err.max(),
    }
    c, two, e1, bound, wrong = series_errors(r)
    a = r.series_alphas
    amax = a.max()
    tail = abs(c[3]) * amax + abs(c[4]) * amax**2
    next_err = np.abs(e1 - c[1] * a)
    ratio = e1[0] / (c[1] * a[0])
    ctl_min = min(r.scalar_control.min(), r.matrix_control.min())
    # the wrong constant −h/2 leaves an O(1) error h/(2N) that the O(α) term cannot absorb
    wrong_ok = np.all(np.abs(wrong - c[1] * a) > bound)
    test_lam = float(grant_prior_precision(2.0, 0.01, 5))
    return Verdict.of(
        [
            Check.at_most(
                "gd-equals-map-1d",
                worst["scalar"],
                EXACT_TOL,
                what=f"{r.scalar_err.size} problems: ",
                digits=2,
            ),
            Check.at_most(
                "gd-equals-map-matrix",
                worst["matrix"],
                EXACT_TOL,
                what=f"{r.matrix_err.size} quadratics: ",
                digits=2,
            ),
            Check.at_most(
                "gd-equals-map-regression",
                worst["regression"],
                EXACT_TOL,
                what=f"{r.regression_err.size} tasks (inner_adapt): ",
                digits=2,
            ),
            Check(
                "series-regime",
                tail <= 0.5 * abs(c[2]),
                f"(|c₃|α + |c₄|α²)/|c₂| = {tail / abs(c[2]):.3f} at α = {amax:.3g}",
                "≤ 0.5 (the remainder bound applies)",
            ),
            Check(
                "series-next-term",
                np.all(next_err <= bound),
                f"max |λ − two terms − c₁α| / (2|c₂|α²) = {np.max(next_err / bound):.3f} "
                f"(h = {r.series_h:.3g}, N = {r.series_n}); "
                f"(λ − two terms)/(c₁α) = {ratio:.5f} at α = {a[0]:.3g}",
                "≤ 1 (remainder ≤ 2|c₂|α² + rounding)",
            ),
            Check(
                "control: leading-order λ = 1/(αN)",
                ctl_min > EXACT_TOL,
                f"GD vs MAP rel. err ≥ {ctl_min:.2g}",
                control=True,
            ),
            Check(
                "control: constant term −h/2",
                wrong_ok,
                f"|error − c₁α| / bound ≥ {np.min(np.abs(wrong - c[1] * a) / bound):.3g}",
                control=True,
            ),
        ],
        predicted="GD = MAP exactly; λ − (1/(αN) − (N+1)h/(2N)) = c₁α + O(α²), c₁ = (N²−1)h²/(12N)",
        numbers={
            "scalar": worst["scalar"],
            "matrix": worst["matrix"],
            "regression": worst["regression"],
            "nscalar": r.scalar_err.size,
            "nmatrix": r.matrix_err.size,
            "nregression": r.regression_err.size,
            "control": ctl_min,
            "seriesh": r.series_h,
            "seriesn": r.series_n,
            "nextterm": float(np.max(next_err / bound)),
            "tail": tail / abs(c[2]),
            "ratio": ratio,
            "wrong": float(np.min(np.abs(wrong - c[1] * a) / bound)),
            "testlambda": test_lam,
        },
        evidence=r,
        summary=Summary.identity(
            max(worst.values()),
            r.scalar_err.size + r.matrix_err.size + r.regression_err.size,
            what="problems (GD vs MAP)",
        ),
    )


@claim(
    "H2",
    name="maml_empirical_bayes",
    statement="On quadratic tasks sharing H, the MAML objective is minimized at the mean of the "
    "task optima (the hyperprior mean); its curvature is MHM, M = (I−αH)^N = (I+QH)^{-1}.",
    latex=r"$\arg\min_\theta \frac1n\sum_i L_i(\theta_{N,i}(\theta)) = \frac1n\sum_i\theta_i^*$"
    r" when all $L_i$ share $H$",
    source="Grant et al. 2018, Sec. 3",
    experiment=ex.empirical_bayes,
    evidence="identity",
    cites=["grant2018recasting"],
    presets=ex.MAML_EMPIRICAL_BAYES_PRESETS,
    seed=31,
    mutants=[
        mutants.maml_first_order(),
        mutants.maml_hessian_sign(),
        mutants.maml_off_by_one(-1),
        mutants.maml_alpha_scaled(0.5),
        _covariance_n_plus_one(),
    ],
)
def check_h2(r: ex.MamlEmpiricalBayesResult) -> Verdict:
    return Verdict.of(
        [
            Check.at_most(
                "minimizer-is-mean",
                r.err.max(),
                EB_TOL,
                what=f"{len(r.err)} (αλ_max, N) settings, {r.optima.shape[0]} tasks: ",
                digits=2,
            ),
            Check.at_most("curvature-MHM", r.curvature_err.max(), CURV_TOL, digits=2),
            Check(
                "control: tasks with their own Hessians",
                r.control.min() > EB_TOL,
                f"distance ≥ {r.control.min():.2g}",
                control=True,
            ),
        ],
        predicted="argmin MAML objective = mean of task optima; Hessian = MHM",
        numbers={
            "err": r.err.max(),
            "curv": r.curvature_err.max(),
            "control": r.control.min(),
            "settings": len(r.err),
            "tasks": r.optima.shape[0],
        },
        evidence=r,
        summary=Summary.identity(r.err.max(), len(r.err), what="(αλ_max, N) settings"),
    )
