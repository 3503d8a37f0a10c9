"""Ledger rows G3 (FOMAML bias), G4 (expected updates of MAML, FOMAML, Reptile) and G8 (learned
step sizes).

Decision rules. G3 and G4 are deterministic: float64 identities compared under rounding
tolerances (designed false-alarm level 0; calibrated over random instances). Where the
claims are about orders in α (G3's "O(α)", G4's "+ O(α²)"), the check does not fit a log-log
slope through deterministic points (a confidence interval there measures the curvature of the
curve, not noise): it computes the Taylor coefficient the claim is about exactly (forward-mode
autodiff at α = 0, or polynomial interpolation where the update is a polynomial in α) and
compares it with the predicted one. G8's training part is statistical: the share of held-out
tasks on which one model beats another, with its Clopper–Pearson interval (tasks are iid given
the trained models; the training seeds' noise is not in the interval, which is why the
calibration over fresh seeds is the honest false-alarm measure).
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from metatheory import mutants, stats
from metatheory.bounds import fomaml as bounds
from metatheory.claims import Check, Mutant, Verdict, claim
from metatheory.experiments import fomaml as ex
from metatheory.tasks import sinusoid

EXACT_TOL = 1e-12
"""Float64 identities on 1-D quadratics (a handful of flops per step, N ≤ 5): |bias| and the
bound are each within ~10 eps relative; the subtraction g_MAML − g_FO loses at most a factor
1/(αL) ≤ 20 at αL ≥ 0.05, so ~1e-14; 1e-12 leaves margin and rejects any missing factor."""
LINEAR_TOL = 1e-10
"""Float64 matrix identities on linear regression (d × d products over N ≤ 10 steps), as in G1."""
COEF_TOL = 1e-9
"""Taylor coefficients: forward-mode autodiff at α = 0 through a float64 MLP (rounding ~1e-14
relative), or interpolation at Chebyshev nodes: the Vandermonde systems of degree ≤ 2(k−1) ≤ 8
have condition number ≤ 1e5, so rounding of ~1e-15 in the values gives ≤ 1e-10 in the
coefficients; 1e-9 still rejects a wrong coefficient, which is off by O(1)."""
LEVEL = 0.999
"""Two-sided level of G8's intervals: each one-sided comparison has false-alarm probability
5e-4 when its noise model (iid held-out tasks) holds."""


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


_NICHOL = "metatheory.bounds.fomaml:nichol_expected_updates"


def _nichol(which: str, name: str, description: str) -> Mutant:
    """A wrong coefficient of α·AvgGradInner in one of the three leading-order updates."""

    def make(orig):
        def wrong(avg_grad, avg_grad_inner, alpha, k):
            m, f, r = orig(avg_grad, avg_grad_inner, alpha, k)
            a, gi = np.asarray(alpha, np.float64), np.asarray(avg_grad_inner, np.float64)
            if which == "fomaml":  # (k − 1) → k
                f = f - a * gi
            elif which == "reptile":  # ½ k(k−1) → k(k−1)
                r = r - 0.5 * k * (k - 1) * a * gi
            else:  # 2(k − 1) → (k − 1)
                m = m + (k - 1) * a * gi
            return m, f, r

        return wrong

    return Mutant(name, description, _NICHOL, make)


def _reptile_mean_step() -> Mutant:
    """Reptile's direction divided by kα (the mean step) instead of α."""

    def make(orig):
        def wrong(loss_fn, params, support, *, alpha, n_inner, **kw):
            d = orig(loss_fn, params, support, alpha=alpha, n_inner=n_inner, **kw)
            return jax.tree_util.tree_map(lambda x: x / n_inner, d)

        return wrong

    return Mutant(
        "reptile-mean-step",
        "Reptile direction (θ − φ_k)/(kα): averaged over the k steps",
        "metatheory.learners.reptile:reptile_direction",
        make,
    )


_ALPHA_GRAD = "metatheory.bounds.fomaml:meta_sgd_alpha_gradient"


def _alpha_grad_exponent() -> Mutant:
    """Off-by-one in the power of the later-step Jacobians: (I − HA)^{N−j}."""

    def make(orig):
        def wrong(theta0, h_s, b_s, h_q, b_q, alpha, n_steps):
            th = np.asarray(theta0, np.float64)
            a = np.broadcast_to(np.asarray(alpha, np.float64), th.shape)
            gs = []
            for _ in range(int(n_steps)):
                gs.append(np.asarray(h_s) @ th - b_s)
                th = th - a * gs[-1]
            v = np.asarray(h_q) @ th - b_q
            m = np.eye(th.size) - np.asarray(h_s) * a[None, :]
            total = -sum(
                g * (np.linalg.matrix_power(m, int(n_steps) - j) @ v) for j, g in enumerate(gs)
            )
            return total.sum() if np.ndim(alpha) == 0 else total

        return wrong

    return Mutant(
        "alpha-gradient-exponent",
        "∂L_Q/∂α closed form with (I − HA)^{N−j} (one factor too many)",
        _ALPHA_GRAD,
        make,
    )


def _alpha_grad_transposed() -> Mutant:
    """(I − AH) for (I − HA): the transposed Jacobian (equal for a scalar step)."""

    def make(orig):
        def wrong(theta0, h_s, b_s, h_q, b_q, alpha, n_steps):
            th = np.asarray(theta0, np.float64)
            a = np.broadcast_to(np.asarray(alpha, np.float64), th.shape)
            gs = []
            for _ in range(int(n_steps)):
                gs.append(np.asarray(h_s) @ th - b_s)
                th = th - a * gs[-1]
            v = np.asarray(h_q) @ th - b_q
            m = np.eye(th.size) - a[:, None] * np.asarray(h_s)
            total = -sum(
                g * (np.linalg.matrix_power(m, int(n_steps) - 1 - j) @ v) for j, g in enumerate(gs)
            )
            return total.sum() if np.ndim(alpha) == 0 else total

        return wrong

    return Mutant(
        "alpha-gradient-transposed",
        "∂L_Q/∂α closed form with (I − AH) for (I − HA) (the Jacobian transposed)",
        _ALPHA_GRAD,
        make,
    )


# --------------------------------------------------------------------------- G3


def bias_bounds(r: ex.BiasResult) -> dict:
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
    presets=ex.BIAS_PRESETS,
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
def check_g3(r: ex.BiasResult) -> Verdict:
    with np.errstate(divide="ignore", invalid="ignore"):  # a mutant's zero bound: ratio inf
        return _check_g3(r)


def _check_g3(r: ex.BiasResult) -> Verdict:
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
            Check(
                "psd-bound-attained",
                psd.max() <= EXACT_TOL,
                f"{psd.max():.1e} over {psd.size} convex 1-D quadratics, αL ∈ [0.05, 1]",
                f"| |b| − bound | / bound ≤ {EXACT_TOL:g}",
            ),
            Check(
                "general-bound-attained",
                gen.max() <= EXACT_TOL,
                f"{gen.max():.1e} over {gen.size} concave 1-D quadratics (H = −L)",
                f"≤ {EXACT_TOL:g}",
            ),
            Check(
                "linear-identity",
                r.linear_err.max() <= LINEAR_TOL,
                f"{r.linear_err.max():.1e}",
                f"rel. err ≤ {LINEAR_TOL:g}",
            ),
            Check(
                "linear-psd-bounded",
                lin_ratio.max() <= 1 + LINEAR_TOL,
                f"max ‖b‖/bound {lin_ratio.max():.3f}",
                "≤ 1",
            ),
            Check(
                "mlp-bounded",
                mlp_ratio.max() <= 1.0,
                f"max ‖b‖/bound {mlp_ratio[real].max():.3f} at αL ∈ "
                f"[{nums['alphalmin']:.2g}, {nums['alphalmax']:.2g}], "
                f"{mlp_ratio[fin].max():.2g} at α = {r.finn_alpha:g}",
                "≤ 1 (L by power iteration, from below)",
            ),
            Check(
                "first-order-coefficient",
                r.slope_err.max() <= COEF_TOL,
                f"∂b/∂α at α = 0 vs −N H₀∇L_Q(θ₀): {r.slope_err.max():.1e}",
                f"rel. err ≤ {COEF_TOL:g}",
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
    )


# --------------------------------------------------------------------------- G4


def predicted_coefficients(avg_grad, avg_grad_inner, k):
    """``(c0, c1)``, each ``(3, P)`` (maml, fomaml, reptile), of the calculator's leading-order
    updates (linear in α: c0 at α = 0, c1 = value at α = 1 minus c0)."""
    c0 = np.stack(bounds.nichol_expected_updates(avg_grad, avg_grad_inner, 0.0, int(k)))
    c1 = np.stack(bounds.nichol_expected_updates(avg_grad, avg_grad_inner, 1.0, int(k))) - c0
    return c0, c1


def coefficient_errors(r: ex.ExpansionResult) -> dict:
    """Per method: max over k of the scaled coefficient error on quadratics
    ‖(ĉ₀, s ĉ₁) − (c₀, s c₁)‖ / ‖(c₀, s c₁)‖; and on the MLP, value and slope at α = 0."""
    errs = {m: [] for m in ex.METHODS}
    for i, k in enumerate(r.ks):
        c0, c1 = predicted_coefficients(r.avg_grad, r.avg_grad_inner, k)
        s = r.scale[i]
        for j, m in enumerate(ex.METHODS):
            if k == 1 and m != "reptile":
                continue
            got = np.concatenate([r.coef[i, j, 0], s * r.coef[i, j, 1]])
            want = np.concatenate([c0[j], s * c1[j]])
            errs[m].append(np.linalg.norm(got - want) / np.linalg.norm(want))
    mlp = []
    for i, k in enumerate(r.mlp_ks):
        c0, c1 = predicted_coefficients(r.mlp_avg_grad, r.mlp_avg_grad_inner, k)
        for j in range(2):
            mlp.append(np.linalg.norm(r.mlp_value[i, j] - c0[j]) / np.linalg.norm(c0[j]))
            mlp.append(np.linalg.norm(r.mlp_slope[i, j] - c1[j]) / np.linalg.norm(c1[j]))
    out = {m: float(max(v)) for m, v in errs.items()}
    out["mlp"] = float(max(mlp))
    return out


@functools.cache
def g4_test_value():
    """Reptile on h/2 (θ−c)², θ−c = 1, h = 2, α = 0.01, k = 5: exact (sympy ``rsolve``) and
    the leading order from the calculator (AvgGrad = 2, AvgGradInner = 4)."""
    import sympy as sp

    from metatheory.symbolic import fomaml as sf

    expr, h, u = sf.exact_quadratic_reptile()
    exact = float(expr.subs({h: 2, u: 1, sf.alpha: sp.Rational(1, 100), sf.k: 5}))
    return exact


@claim(
    "G4",
    name="reptile_expected_update",
    statement="E g_MAML = AvgGrad − 2(k−1)α·AvgGradInner, E g_FO = AvgGrad − (k−1)α·AvgGradInner, "
    "E g_Reptile = k·AvgGrad − ½k(k−1)α·AvgGradInner, each + O(α²).",
    latex=r"$E\,g_{\mathrm{Rep}} = k\,\mathrm{AvgGrad} - \tfrac12 k(k-1)\alpha\,"
    r"\mathrm{AvgGradInner} + O(\alpha^2)$ (and MAML, FOMAML)",
    source="Nichol, Achiam & Schulman 2018, Sec. 5.1",
    experiment=ex.expected_updates,
    presets=ex.EXPANSION_PRESETS,
    seed=41,
    mutants=[
        _nichol("fomaml", "fomaml-coefficient-k", "FOMAML's coefficient k for (k−1)"),
        _nichol("reptile", "reptile-half-dropped", "Reptile's ½k(k−1) without the ½"),
        _nichol("maml", "maml-coefficient-one", "MAML's coefficient (k−1) for 2(k−1)"),
        mutants.maml_first_order(),
        mutants.maml_hessian_sign(),
        mutants.maml_off_by_one(-1),
        _reptile_mean_step(),
    ],
)
def check_g4(r: ex.ExpansionResult) -> Verdict:
    e = coefficient_errors(r)
    exact = g4_test_value()
    lead = float(bounds.nichol_expected_updates(np.array([2.0]), np.array([4.0]), 0.01, 5)[2][0])
    ks = tuple(int(k) for k in r.ks)
    checks = [
        Check(
            f"{m}-coefficients",
            e[m] <= COEF_TOL,
            f"{e[m]:.1e} (quadratic minibatches, k ∈ {ks if m == 'reptile' else ks[1:]})",
            f"rel. err ≤ {COEF_TOL:g}",
        )
        for m in ex.METHODS
    ]
    checks.append(
        Check(
            "mlp-coefficients",
            e["mlp"] <= COEF_TOL,
            f"{e['mlp']:.1e} (tanh MLP, MAML and FOMAML, k ∈ {tuple(int(k) for k in r.mlp_ks)})",
            f"rel. err ≤ {COEF_TOL:g}",
        )
    )
    return Verdict.of(
        checks,
        predicted="E g = c₀ + c₁α + O(α²) with the leading-order c₀, c₁; Reptile at k = 1 is "
        "AvgGrad (SGD on the expected loss)",
        numbers={
            "maml": e["maml"],
            "fomaml": e["fomaml"],
            "reptile": e["reptile"],
            "mlp": e["mlp"],
            "kmax": int(r.ks.max()),
            "mlpkmax": int(r.mlp_ks.max()),
            "exact": exact,
            "lead": lead,
        },
        evidence=r,
    )


# --------------------------------------------------------------------------- G8


def alpha_gradient_errors(r: ex.StepSizeResult):
    """Per N: max rel. err of the autodiff ∂L_Q/∂α against the calculator's closed form, for a
    scalar step and a per-parameter one."""
    es, ev = [], []
    for i, n in enumerate(r.n_inner):
        s_err, v_err = [], []
        for t in range(r.theta0.shape[1]):
            args = (r.theta0[i, t], r.h_s[i, t], r.b_s[i, t], r.h_q[i, t], r.b_q[i, t])
            cs = bounds.meta_sgd_alpha_gradient(*args, r.alpha_scalar[i, t], int(n))
            cv = bounds.meta_sgd_alpha_gradient(*args, r.alpha_vector[i, t], int(n))
            s_err.append(abs(r.grad_scalar[i, t] - cs) / abs(cs))
            v_err.append(np.linalg.norm(r.grad_vector[i, t] - cv) / np.linalg.norm(cv))
        es.append(max(s_err))
        ev.append(max(v_err))
    return np.array(es), np.array(ev)


def _share(better) -> tuple[float, float]:
    """Share of held-out tasks where ``better`` holds and its lower Clopper–Pearson limit at the
    one-sided level ``(1 − LEVEL)/2``."""
    better = np.asarray(better, bool).ravel()
    k, n = int(better.sum()), better.size
    return k / n, stats.clopper_pearson(k, n, level=LEVEL)[0]


@claim(
    "G8",
    name="learned_step_sizes",
    statement="∂L_Q(θ_N)/∂α by autodiff equals its closed form on quadratic tasks; per-parameter "
    "step sizes (Meta-SGD) are trainable and beat a fixed α on most sinusoid tasks.",
    latex=r"$\frac{\partial L_Q(\theta_N)}{\partial a} = -\sum_{j<N} g_j\odot"
    r"\big((I-HA)^{N-1-j}\nabla L_Q(\theta_N)\big)$",
    source="Li et al. 2017 (Meta-SGD); Finn et al. 2017",
    experiment=ex.learned_step_sizes,
    presets=ex.STEP_PRESETS,
    seed=42,
    statistical=True,
    mutants=[
        _alpha_grad_exponent(),
        _alpha_grad_transposed(),
        mutants.maml_first_order(),
    ],
)
def check_g8(r: ex.StepSizeResult) -> Verdict:
    """The comparisons are shares of held-out tasks, not mean differences: one inner step with
    a learned per-parameter step overshoots on a few tasks, so per-task differences are
    heavy-tailed. The first calibration compared means (paired t-intervals) and raised 1 false
    alarm in 50 runs, on a run where the learned model's MSE exceeded the fixed step's by 84 on
    one task of 500 while it was better on 84% of them. Means are stated beside the shares."""
    es, ev = alpha_gradient_errors(r)
    exact = max(es.max(), ev.max())
    diff = stats.mean_ci(r.mse_fixed - r.mse_learned, level=LEVEL)
    wins = _share(r.mse_learned < r.mse_fixed)
    wins_zero = _share(r.mse_learned < r.mse_zero)
    fixed = stats.mean_ci(r.mse_fixed, level=LEVEL)
    learned = stats.mean_ci(r.mse_learned, level=LEVEL)
    zero = stats.mean_ci(r.mse_zero, level=LEVEL)
    a = r.alpha_learned
    moved = float(np.mean(np.abs(a - r.alpha_fixed) > 1e-3 * r.alpha_fixed))
    negative = float(np.mean(a < 0))
    side = (1 - LEVEL) / 2
    return Verdict.of(
        [
            Check(
                "autodiff-equals-closed-form",
                exact <= LINEAR_TOL,
                f"{exact:.1e} (scalar and per-parameter α, N ∈ {tuple(int(n) for n in r.n_inner)})",
                f"rel. err ≤ {LINEAR_TOL:g}",
            ),
            Check(
                "learned-beats-fixed",
                wins[1] > 0.5,
                f"learned α better on {wins[0]:.1%} of tasks (≥ {wins[1]:.1%}); MSE fixed α = "
                f"{r.alpha_fixed:g} {fixed}, learned {learned}; difference {diff}",
                f"{LEVEL:g} Clopper–Pearson lower limit of the share > 1/2",
                level=side,
            ),
            Check(
                "adapts-beyond-zero",
                wins_zero[1] > 0.5,
                f"better than predicting 0 ({zero}) on {wins_zero[0]:.1%} of tasks "
                f"(≥ {wins_zero[1]:.1%})",
                f"{LEVEL:g} Clopper–Pearson lower limit of the share > 1/2",
                level=side,
            ),
            Check(
                "control: fixed beats learned",
                not _share(r.mse_fixed < r.mse_learned)[1] > 0.5,
                "the same test does not find the fixed step better on most tasks",
                control=True,
            ),
        ],
        predicted="autodiff = closed form; Meta-SGD's post-adaptation MSE below fixed α's and "
        "below predicting 0",
        numbers={
            "err": exact,
            "fixed": fixed.mean,
            "fixedlow": fixed.low,
            "fixedhigh": fixed.high,
            "learned": learned.mean,
            "learnedlow": learned.low,
            "learnedhigh": learned.high,
            "zero": zero.mean,
            "pooled": sinusoid.pooled_mse(),
            "diff": diff.mean,
            "share": wins[0],
            "sharelow": wins[1],
            "sharezero": wins_zero[0],
            "difflow": diff.low,
            "diffhigh": diff.high,
            "tasks": r.mse_fixed.size,
            "seeds": r.curves.shape[1],
            "steps": r.curves.shape[2],
            "alphafixed": r.alpha_fixed,
            "alphamedian": float(np.median(a)),
            "alphalow": float(np.percentile(a, 5)),
            "alphahigh": float(np.percentile(a, 95)),
            "negative": negative,
            "moved": moved,
        },
        note=f"{negative:.0%} of the learned step sizes are negative (5th percentile "
        f"{np.percentile(a, 5):.3g}): Meta-SGD leaves α unconstrained, and a negative entry "
        "takes an ascent step on the support loss along that parameter, which the meta-objective "
        "(the query loss after adaptation) does not forbid.",
        evidence=r,
    )
