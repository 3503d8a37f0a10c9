"""Ledger row G3 ``fomaml_bias``: the bias of first-order MAML and its bounds.

Decision rule: deterministic float64 identities compared under rounding tolerances (designed
false-alarm level 0; calibrated over random instances). For the claim's "O(α)" the check does
not fit a log-log slope through deterministic points (a confidence interval there measures the
curvature of the curve, not noise): it computes the first-order Taylor coefficient exactly
(forward-mode autodiff at α = 0) and compares it with the predicted one.
"""

from __future__ import annotations

import numpy as np

from metatheory import mutants
from metatheory.bounds import fomaml as bounds
from metatheory.claims import Check, Mutant, Summary, Verdict, claim
from metatheory.claims.fomaml._common import COEF_TOL, LINEAR_TOL
from metatheory.experiments import fomaml as ex

EXACT_TOL = 1e-12
"""Float64 identities on 1-D quadratics (a handful of flops per step, N ≤ 5): |bias| and the
bound are each within ~10 eps relative; the subtraction g_MAML − g_FO loses at most a factor
1/(αL) ≤ 20 at αL ≥ 0.05, so ~1e-14; 1e-12 leaves margin and rejects any missing factor."""

# --------------------------------------------------------------------------- mutants

_BOUND = "metatheory.bounds.fomaml:fomaml_bias_bound"


def _bound_linearized() -> Mutant:
    """N·αL·G for ((1+αL)^N − 1)G (and for 1 − (1−αL)^N): the small-step form as the bound."""
    return Mutant(
        "bound-linearized",
        "bias bound N·αL·G: (1+αL)^N − 1 replaced by its first-order term",
        _BOUND,
        lambda orig: (
            lambda alpha, L, G, n_steps, psd=False: (
                np.asarray(n_steps, np.float64) * np.asarray(alpha) * np.asarray(L) * np.asarray(G)
            )
        ),
    )


def _bound_exponent() -> Mutant:
    def make(orig):
        def wrong(alpha, L, G, n_steps, psd=False):
            x = np.asarray(alpha, np.float64) * np.asarray(L)
            n = np.asarray(n_steps, np.float64) - 1
            f = 1 - (1 - x) ** n if psd else (1 + x) ** n - 1
            return f * np.asarray(G)

        return wrong

    return Mutant("bound-exponent-n-minus-one", "bias bound with exponent N−1", _BOUND, make)


def _bound_scaled() -> Mutant:
    return Mutant(
        "bound-0p9",
        "bias bound 0.9× too small (a factor missing)",
        _BOUND,
        lambda orig: lambda *a, **kw: 0.9 * orig(*a, **kw),
    )


def _bound_without_g() -> Mutant:
    return Mutant(
        "bound-without-g",
        "bias bound without its factor G (the relative bias taken for the bias)",
        _BOUND,
        lambda orig: (
            lambda alpha, L, G, n_steps, psd=False: orig(alpha, L, np.ones_like(G), n_steps, psd)
        ),
    )


# --------------------------------------------------------------------------- G3


def bias_bounds(r: ex.FomamlBiasResult) -> dict:
    """Every bound the G3 check compares with, from the calculator ``fomaml_bias_bound``."""
    n = r.n_inner[None, :, None]
    g = np.abs(r.quad_gfo)
    out = {
        "psd": bounds.fomaml_bias_bound(r.quad_alpha[0], r.quad_curv[0], g[0], n[0], psd=True),
        "general": bounds.fomaml_bias_bound(r.quad_alpha[1], r.quad_curv[1], g[1], n[0]),
        "linear": bounds.fomaml_bias_bound(
            r.linear_alpha, r.linear_l, r.linear_g, r.n_inner[:, None], psd=True
        ),
        "mlp": bounds.fomaml_bias_bound(
            r.mlp_alpha[None], r.mlp_l, r.mlp_g, r.mlp_n_inner[:, None, None]
        ),
    }
    return out


def _attained(bias, bound):
    return np.abs(np.abs(bias) - bound) / bound


@claim(
    "G3",
    name="fomaml_bias",
    statement="g_MAML − g_FO = (∏(I−αH_j) − I)∇L_Q(θ_N): ‖bias‖ ≤ ((1+αL)^N − 1)G, "
    "≤ (1−(1−αL)^N)G for constant PSD H (both attained on quadratics); O(α) at small α.",
    latex=r"$\|g_{\mathrm{MAML}}-g_{\mathrm{FO}}\| \le ((1+\alpha L)^N-1)\,G$; "
    r"$\le (1-(1-\alpha L)^N)\,G$ for constant $H\succeq 0$, $\alpha L\le 1$",
    source="Bound derived here for the first-order approximation of Finn et al. 2017, Sec. 5.2 "
    "and Nichol et al. 2018",
    experiment=ex.fomaml_bias,
    presets=ex.FOMAML_BIAS_PRESETS,
    evidence="bound",
    cites=["finn2017maml", "nichol2018reptile"],
    seed=40,
    mutants=[
        _bound_linearized(),
        _bound_exponent(),
        _bound_scaled(),
        _bound_without_g(),
        mutants.maml_first_order(),
        mutants.maml_hessian_sign(),
        mutants.maml_off_by_one(-1),
        mutants.maml_alpha_scaled(0.5),
    ],
)
def check_g3(r: ex.FomamlBiasResult) -> Verdict:
    with np.errstate(divide="ignore", invalid="ignore"):  # a mutant's zero bound: ratio inf
        return _check_g3(r)


def _check_g3(r: ex.FomamlBiasResult) -> Verdict:
    b = bias_bounds(r)
    psd = _attained(r.quad_bias[0], b["psd"])
    gen = _attained(r.quad_bias[1], b["general"])
    lin_ratio = r.linear_bias / b["linear"]
    mlp_ratio = r.mlp_bias / b["mlp"]
    # the linearized bound N αL G on the concave quadratics with N > 1 (the control)
    many = r.n_inner > 1
    lin_form = r.n_inner[:, None] * r.quad_alpha[1] * r.quad_curv[1] * np.abs(r.quad_gfo[1])
    ctl = _attained(r.quad_bias[1][many], lin_form[many])
    gap = b["general"] / lin_form  # ((1 + aL)^N - 1) / (N aL)
    # Finn et al.'s alpha: last column of the MLP grid
    fin = np.s_[:, :, -1]
    al_l = r.mlp_alpha[None, :, -1] * r.mlp_l[fin]
    finn_over_g = b["mlp"][fin] / r.mlp_g[fin]
    finn_over_bias = b["mlp"][fin] / r.mlp_bias[fin]
    trivial = r.mlp_bias[fin] <= r.mlp_g[fin] + r.mlp_gmaml[fin]  # triangle inequality
    real = np.s_[:, :, :-1]
    nums = {
        "quadpsd": psd.max(),
        "quadgeneral": gen.max(),
        "nquad": r.quad_bias[0].size,
        "linear": r.linear_err.max(),
        "linratio": lin_ratio.max(),
        "ratio": mlp_ratio[real].max(),
        "ratiomin": mlp_ratio[real].min(),
        "slope": r.slope_err.max(),
        "lip": float(np.median(r.mlp_l)),
        "grad": float(np.median(r.mlp_g)),
        "alphalmin": float(min(r.mlp_alpha[:, 0] * r.mlp_l[:, :, 0].min(0))),
        "alphalmax": float(np.max(r.mlp_alpha[None, :, -2] * r.mlp_l[:, :, -2])),
        "gap": float(gap[-1].max()),
        "gapn": int(r.n_inner[-1]),
        "control": ctl.min(),
        "tasks": r.mlp_bias.shape[1],
        "finnalpha": r.finn_alpha,
        "finnalphal": float(np.median(al_l)),
        "finnovergone": float(np.median(finn_over_g[0])),
        "finnovergmax": float(np.median(finn_over_g[-1])),
        "finnoverbiasone": float(np.median(finn_over_bias[0])),
        "finnoverbiasmax": float(np.median(finn_over_bias[-1])),
        "finnratio": float(np.max(1 / finn_over_bias)),
    }
    return Verdict.of(
        [
            Check.at_most(
                "psd-bound-attained",
                psd.max(),
                EXACT_TOL,
                what=f"| |b| − bound | / bound over {psd.size} convex 1-D quadratics, "
                "αL ∈ [0.05, 1]: ",
                digits=2,
            ),
            Check.at_most(
                "general-bound-attained",
                gen.max(),
                EXACT_TOL,
                what=f"{gen.size} concave 1-D quadratics (H = −L): ",
                digits=2,
            ),
            Check.at_most("linear-identity", r.linear_err.max(), LINEAR_TOL, digits=2),
            Check.at_most(
                "linear-psd-bounded", lin_ratio.max(), 1 + LINEAR_TOL, what="max ‖b‖/bound "
            ),
            Check.at_most(
                "mlp-bounded",
                mlp_ratio.max(),
                1.0,
                what=f"‖b‖/bound (L by power iteration, from below) {mlp_ratio[real].max():.3f} "
                f"at αL ∈ [{nums['alphalmin']:.2g}, {nums['alphalmax']:.2g}], "
                f"{mlp_ratio[fin].max():.2g} at α = {r.finn_alpha:g}; max ",
            ),
            Check.at_most(
                "first-order-coefficient",
                r.slope_err.max(),
                COEF_TOL,
                what="∂b/∂α at α = 0 vs −N H₀∇L_Q(θ₀), rel. err ",
                digits=2,
            ),
            Check(
                "control: linearized bound NαLG",
                ctl.min() > EXACT_TOL,
                f"| |b| − NαLG | / NαLG ≥ {ctl.min():.2g} (concave, N > 1)",
                control=True,
            ),
        ],
        predicted="both bounds attained on quadratics; MLP bias ≤ ((1+αL)^N − 1)G; "
        "∂b/∂α|₀ = −N H₀∇L_Q(θ₀)",
        numbers=nums,
        note=f"At Finn et al.'s α = {r.finn_alpha:g} the measured αL has median "
        f"{nums['finnalphal']:.3g}: the bound is {nums['finnovergone']:.3g}·G (N = 1) and "
        f"{nums['finnovergmax']:.3g}·G (N = {int(r.mlp_n_inner[-1])}), "
        f"{nums['finnoverbiasone']:.3g}× and {nums['finnoverbiasmax']:.3g}× the measured bias; "
        "above G the bound is vacuous (it allows a bias larger than the gradient itself)."
        + ("" if trivial.all() else " (triangle inequality violated?)"),
        evidence=r,
        summary=Summary.bound(mlp_ratio.size, mlp_ratio.max(), what="MLP (task, α, N) instances"),
    )
