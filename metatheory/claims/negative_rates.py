"""Ledger row G10: the optimal training rate of one-step MAML on mixed linear regression is
negative, the optimal adaptation rate positive (Bernacchia 2021, ICLR; derived here).

Mutants patch the public closed forms of :mod:`metatheory.bounds.negative_rates`: the sign of
the training rate flipped in the gradient-noise polynomial, the Wishart second moment
E[(XᵀX/n)²] = (n+p+1)/n taken as (n+p)/n, and the validation loss treated as the population
loss (the validation noise dropped).
"""

from __future__ import annotations

import numpy as np

from metatheory.claims import Check, Summary, Verdict, claim
from metatheory.experiments import negative_rates as ex
from metatheory.mutants import Mutant

_BOUNDS = "metatheory.bounds.negative_rates"

GD_TOL = 1e-4
"""Meta-training converged: the learner's meta-gradient at the trained θ relative to that at
w₀. Gradient descent at step 1/λ_max on the quadratic meta-objective contracts the gradient by
(1 − λ_min/λ_max) per step; in these settings 100 steps reach the float32 floor (~1e-7), and a
residual of 1e-4 moves the test loss by ~1e-8 relative, far below the compared differences."""

SYM_TOL = 1e-12
"""Calculators vs sympy's lambdified forms (relative): float64 evaluation of polynomials with
O(50) terms of magnitude ≤ 1e8 relative to a result ≥ 1e-4 of them: ≤ ~1e-13."""


def training_rate_sign() -> Mutant:
    def make(orig):
        def maml_gradient_noise(alpha_t, n_t, n_v, p, nu, sigma):
            return orig(-np.asarray(alpha_t), n_t, n_v, p, nu, sigma)

        return maml_gradient_noise

    return Mutant(
        "training_rate_sign",
        "the sign of the training rate flipped in the derivation (θ' = θ + α∇L taken as "
        "θ − α∇L in the meta-gradient noise)",
        f"{_BOUNDS}:maml_gradient_noise",
        make,
    )


def wishart_moment() -> Mutant:
    def make(orig):
        def adaptation_factor(alpha, n, p):
            orig(alpha, n, p)
            a, n_, p_ = (np.asarray(x, float) for x in (alpha, n, p))
            return 1.0 - 2.0 * a + a * a * (n_ + p_) / n_

        return adaptation_factor

    return Mutant(
        "wishart_moment",
        "the fourth-moment term E[(XᵀX/n)²] = (n+p+1)/n·I taken as (n+p)/n·I (its 1/n "
        "Gaussian correction dropped)",
        f"{_BOUNDS}:adaptation_factor",
        make,
    )


def validation_noise_dropped() -> Mutant:
    def make(orig):
        def maml_gradient_noise(alpha_t, n_t, n_v, p, nu, sigma):
            return orig(alpha_t, n_t, 1e12, p, nu, sigma)

        return maml_gradient_noise

    return Mutant(
        "validation_noise_dropped",
        "the validation loss taken as the population loss (n_v → ∞: no validation noise)",
        f"{_BOUNDS}:maml_gradient_noise",
        make,
    )


@claim(
    "G10",
    name="negative_training_rate",
    statement="For one-step MAML on mixed linear regression the meta-test loss, to first order "
    "in 1/m (derived here by Wick's theorem), is minimised by a negative training rate and a "
    "positive adaptation rate; the moments behind it equal Monte Carlo estimates.",
    latex=r"$\arg\min_{\alpha_t}\mathcal L(\alpha_t,\alpha_r) < 0 < "
    r"\arg\min_{\alpha_r}\mathcal L(\alpha_t,\alpha_r)$",
    source="Bernacchia 2021, ICLR (abstract); closed form derived here",
    experiment=ex.negative_training_rate,
    presets=ex.NEGATIVE_RATE_PRESETS,
    seed=71,
    statistical=True,
    evidence="identity",
    cites=["bernacchia2021meta"],
    mutants=[training_rate_sign(), wishart_moment(), validation_noise_dropped()],
)
def check_g10(r: ex.NegativeRateResult) -> Verdict:
    """Statistical: the closed-form gradient noise V(α_t) at α_t*, 0 and 0.25, and the adapted
    test loss at α_r* and 1, inside Monte Carlo t-intervals (two-sided tail 5e-5 each, 15
    intervals), and the paired Monte Carlo difference V(α_t*)/g(α_t*)² − V(0) below 0 (one-sided
    2.5e-5, 3 settings): designed level 8.25e-4; and MAML meta-trained by gradient descent at
    α_t* against at α_t = α_r*, both meta-tested at α_r* on fresh tasks: the t-interval of the
    paired test-loss difference above 0 (one-sided 2.5e-5, 3 settings): 9.0e-4 in all. Exact:
    the optima's signs from the closed form, the calculators against sympy, sympy's slope
    d(V/g²)/dα_t = 2pσ²/n_v at α_t = 0, and the meta-training's convergence.
    Control: the closed form without validation noise lies outside the intervals at α_t*."""
    K = len(r.settings)
    v_ok = [
        ci.contains(v)
        for cis, vs in zip(r.v_ci, r.v_closed, strict=True)
        for ci, v in zip(cis, vs, strict=True)
    ]
    l_ok = [
        ci.contains(v)
        for cis, vs in zip(r.loss_ci, r.loss_closed, strict=True)
        for ci, v in zip(cis, vs, strict=True)
    ]
    rel = [
        abs(ci.estimate - v) / abs(v)
        for cis, vs in ((a, b) for a, b in zip(r.v_ci, r.v_closed, strict=True))
        for ci, v in zip(cis, vs, strict=True)
    ] + [
        abs(ci.estimate - v) / abs(v)
        for cis, vs in zip(r.loss_ci, r.loss_closed, strict=True)
        for ci, v in zip(cis, vs, strict=True)
    ]
    ratio_hi = [ci.high for ci in r.ratio_ci]
    diff_lo = [ci.low for ci in r.trained_diff_ci]
    ctl = [not cis[0].contains(v) for cis, v in zip(r.v_ci, r.v_control, strict=True)]
    conf = f"{100 * (1 - r.level):.3g}% t-intervals"
    worst_v = max(
        range(3 * K), key=lambda i: abs(r.v_ci[i // 3][i % 3].estimate - r.v_closed[i // 3][i % 3])
    )
    wv = r.v_ci[worst_v // 3][worst_v % 3]
    wc = r.v_closed[worst_v // 3][worst_v % 3]
    return Verdict.of(
        [
            Check(
                "V(α_t) closed form = Monte Carlo",
                all(v_ok),
                f"{sum(v_ok)}/{len(v_ok)} inside; farthest {wc:.4g} vs {wv}",
                f"{conf} ∋ closed form ({r.n_draws:,} draws each)",
                level=len(v_ok) * r.level,
            ),
            Check(
                "adapted test loss closed form = Monte Carlo",
                all(l_ok),
                f"{sum(l_ok)}/{len(l_ok)} inside",
                f"{conf} ∋ closed form",
                level=len(l_ok) * r.level,
            ),
            Check(
                "Monte Carlo: V/g² lower at α_t* than at 0",
                max(ratio_hi) < 0,
                "upper limits " + ", ".join(f"{h:.3g}" for h in ratio_hi),
                f"{conf}, upper limit < 0",
                level=K * r.level / 2,
            ),
            Check(
                "meta-trained at α_t* meta-tests better than at α_t = α_r*",
                min(diff_lo) > 0,
                "test-loss differences "
                + ", ".join(
                    f"{ci.estimate:.4f} [{ci.low:.4f}, {ci.high:.4f}]" for ci in r.trained_diff_ci
                )
                + f" over {r.n_reps:,} trainings each",
                f"{conf}, lower limit > 0",
                level=K * r.level / 2,
            ),
            Check.at_most(
                "meta-training converged",
                r.trained_grad,
                GD_TOL,
                what="meta-gradient after training / at w₀: ",
            ),
            Check.at_most(
                "optimal training rate α_t* < 0",
                float(np.max(r.alpha_t_star)),
                -1e-3,
                what="largest over settings: ",
            ),
            Check.at_least(
                "optimal adaptation rate α_r* > 0",
                float(np.min(r.alpha_r_star)),
                1e-3,
                what="smallest over settings: ",
            ),
            Check(
                "sympy: calculators and slope 2pσ²/n_v at α_t = 0",
                r.sym_err <= SYM_TOL and r.slope_ok,
                f"calculators {r.sym_err:.1e}; slope identity {r.slope_ok}",
                f"≤ {SYM_TOL:g}",
            ),
            Check(
                "control: validation noise dropped (n_v → ∞)",
                all(ctl),
                "V at α_t* " + ", ".join(f"{v:.3g}" for v in r.v_control) + " outside",
                control=True,
            ),
        ],
        predicted="α_t* < 0 < α_r*; V(α_t) and the adapted loss as derived",
        numbers={
            **{f"alphat{j + 1}": float(r.alpha_t_star[j]) for j in range(K)},
            **{f"alphar{j + 1}": float(r.alpha_r_star[j]) for j in range(K)},
            **{f"lossstar{j + 1}": float(r.loss_star[j]) for j in range(K)},
            **{f"losszero{j + 1}": float(r.loss_zero[j]) for j in range(K)},
            **{f"vstar{j + 1}": float(r.v_closed[j][0]) for j in range(K)},
            **{f"vmc{j + 1}": r.v_ci[j][0].estimate for j in range(K)},
            **{f"vmclow{j + 1}": r.v_ci[j][0].low for j in range(K)},
            **{f"vmchigh{j + 1}": r.v_ci[j][0].high for j in range(K)},
            **{f"trainedneg{j + 1}": float(r.trained_loss[j][0]) for j in range(K)},
            **{f"trainedpos{j + 1}": float(r.trained_loss[j][1]) for j in range(K)},
            **{f"traineddiff{j + 1}": r.trained_diff_ci[j].estimate for j in range(K)},
            **{f"traineddifflow{j + 1}": r.trained_diff_ci[j].low for j in range(K)},
            **{f"traineddiffhigh{j + 1}": r.trained_diff_ci[j].high for j in range(K)},
            **{f"predpos{j + 1}": float(r.loss_pos[j]) for j in range(K)},
            "trainedgrad": r.trained_grad,
            "reps": f"{r.n_reps:,}",
            "symerr": r.sym_err,
            "maxrel": float(max(rel)),
            "draws": f"{r.n_draws:,}",
        },
        evidence=r,
        summary=Summary.identity(
            float(max(rel)), len(rel), what="Monte Carlo estimates (relative deviation)"
        ),
    )
