r"""Ledger rows C1–C5: smoothness, task-batch variance and rate of MAML (Fallah, Mokhtari,
Ozdaglar 2020, "On the convergence theory of gradient-based model-agnostic meta-learning
algorithms", AISTATS; arXiv:1908.10400), checked on the circular task family whose constants
are exact.

Decision rules. C1 and C2 compare float64 quantities with bounds (tolerance: rounding).
C3, C4 and C5 are statistical: a slope or a ratio is judged by a bootstrap-t CI (point
estimate ± t quantile × bootstrap standard error) over the independent replicates (C3) or
seeds (C4, C5) of the experiment, at the level each sub-check states, so that each claim's
designed false-alarm level is at most ``CLAIM_LEVEL`` = 1e-3; a deterministic fit (C4's
first-order floor, exact gradients) is judged by its next-order term. No band is widened
after seeing data and there is no systematic allowance.

FMO's Theorem 4.5 (MAML), as the paper states it: for :math:`\alpha\in(0, 1/(6L)]`, under
Assumptions 4.1–4.5, MAML run with batch sizes :math:`D_h\ge\lceil 2\alpha^2\sigma_H^2\rceil`
and :math:`B\ge 20` and step :math:`\beta_k = 1/(12\tilde L(w_k))` finds, for any
:math:`\epsilon>0`, a solution :math:`w_\epsilon` with
:math:`E\|\nabla F(w_\epsilon)\|\le\max\{\sqrt{61(1+\frac{\rho\alpha}{L}\sigma)S},
\frac{61\rho\alpha}{L}S, \epsilon\}`, :math:`S = \frac{\sigma^2}{B} +
\frac{\tilde\sigma^2}{BD_o} + \frac{\tilde\sigma^2}{D_{in}}`, after at most
:math:`O(1)\Delta\min\{\frac{L+\rho\alpha(\sigma+\epsilon)}{\epsilon^2}, \frac{LB}{\sigma^2}
+ \frac{L(BD_o+D_{in})}{\tilde\sigma^2}\}` iterations; :math:`\tilde L(w) = 4L + 2\rho\alpha
\frac{1}{B'}\sum_{j\in B'}\|\tilde\nabla f_j(w, D_\beta)\|` (their Lemma 4.4 takes
:math:`B'\ge\lceil\frac12(\rho\alpha\sigma/L)^2\rceil`, :math:`D_\beta\ge\lceil(2\rho\alpha
\tilde\sigma/L)^2\rceil`). Theorem 4.7 (FO-MAML) has :math:`\alpha\in(0, 1/(10L)]`,
:math:`\beta_k = 1/(18\tilde L(w_k))` and :math:`\sigma^2(\frac1B + 20\alpha^2L^2)` in place of
:math:`\sigma^2/B`: a floor that no batch size removes.
"""

from __future__ import annotations

import jax
import numpy as np

from metatheory import mutants
from metatheory.claims import Check, Mutant, Verdict, claim
from metatheory.experiments import fmo as ex

BOUND_RTOL = 1e-9
"""A bound must hold up to float64 rounding: the Hessians and quotients are ~10 flops deep,
rounding ~1e-15 relative; 1e-9 leaves margin and hides nothing of size."""
POWER_RTOL = 1e-3
"""HVP power iteration (2000 steps; best of 2 random starts) vs the dense
Hessian's largest |eigenvalue|: convergence is geometric in |λ2/λ1|, close to 1 at a few
sampled points; 1e-3 relative."""
TEST_TOL = 1e-12
"""The claim's test value L(w) = 5.2 at (L, ρ, α, E‖∇f‖) = (1, 2, 0.1, 3), so FMO's step is
1/(12·5.2) = 0.0160256: three float64 operations, rounding ~1e-15."""
DERIVED_RTOL = 1e-12
"""Calculator (log1p/expm1 form) vs the sympy derivation (``rsolve`` of the recursion,
lambdified) at random arguments with N ≤ 8: float64 rounding of a few dozen operations on
values up to ~1e4, relative ~1e-14."""
LEVEL_C3 = 2e-4
"""C3's variance slope: a 99.98% bootstrap-t CI over the 2048 replicates (the slope is a
linear combination of three independent log-variances, each from 2048 iid vectors: close to
normal). With the bias checks (0.8e-3) the claim's level is 1e-3."""
Z_BIAS = 4.0
"""|mean − exact|/s.e. per coordinate and batch size: the replicate means are averages of
2048 iid vectors (CLT), two-sided P(|z| > 4) = 6.3e-5; over 2 coordinates × 3 batch sizes ×
2 estimators the family-wise false-alarm level is 0.8e-3."""
QUAD_TOL = 1e-8
"""Gauss–Hermite quadrature of C3's exact means with 24 nodes per noise variable is exact to
rounding for these trigonometric integrands (~1e-13); a shared-batch bias above 1e-8 is real."""
LEVEL_C4 = 5e-4
"""C4's rate slope: a 99.95% bootstrap-t CI over the 32 seeds (quick); the bound's ratio is
judged by the upper end of an interval at the same level (one-sided 2.5e-4)."""
STATIONARY_TOL = 1e-10
"""Full-batch MAML (the learner, exact data, 3000 steps of 0.5/L from w0) must reach a
stationary point of the reference F: float32 gradients carry ~1e-7 relative rounding, so
‖∇F‖² ~ 1e-14 at convergence; a wrong meta-gradient stops at ‖∇F‖² ≥ 1e-4 here."""
FLOOR_TOL = 0.03
"""First-order floor ∝ α²(1 + aα + O(α²)): the fit of log floor on [1, log α, α] over
αL ∈ [0.01, 0.08] removes the O(α) term; the neglected O(α²L²) ≤ 6.4e-3 relative moves the
exponent by < 0.01, float32 floors (≥ 7e-6, from gradients precise to ~1e-7) by < 1e-3."""
LEVEL_C5 = 5e-4
"""C5's intervals: 99.95% bootstrap-t CIs over the 32 seeds (quick), each used one-sided
(2.5e-4): the accuracy per batch size and the floor ratio."""


def _n(x):
    return float(np.asarray(x))


# ------------------------------------------------------------------ mutants of the calculators

_MS = "metatheory.bounds.fmo:maml_smoothness"
_FS = "metatheory.bounds.fmo:fmo_smoothness"


def _q(alpha, L):
    return 1.0 + np.asarray(alpha, np.float64) * np.asarray(L, np.float64)


def _ms_exponent_n():
    """(1+αL)^N for (1+αL)^{2N}: the Jacobian counted once where it enters twice."""

    def wrong(L, rho, alpha, G, n_steps=1):
        q, n = _q(alpha, L), np.asarray(n_steps, np.float64)
        return q**n * L + (rho * G / L) * q ** (n - 1) * (q**n - 1)

    return Mutant("exponent-N", "L_N with (1+αL)^N for (1+αL)^{2N}", _MS, lambda orig: wrong)


def _ms_rho_dropped():
    """The Hessian-Lipschitz term ρG(…) dropped: L_N = (1+αL)^{2N} L."""
    return Mutant(
        "rho-term-dropped",
        "L_N without its ρ term",
        _MS,
        lambda orig: lambda L, rho, alpha, G, n_steps=1: orig(L, 0.0 * rho, alpha, G, n_steps),
    )


def _ms_off_by_one():
    """L_{N−1} where L_N is asked for."""

    def make(orig):
        def wrong(L, rho, alpha, G, n_steps=1):
            return orig(L, rho, alpha, G, np.maximum(np.asarray(n_steps) - 1, 0))

        return wrong

    return Mutant("steps-minus-one", "off-by-one: L_{N-1} for L_N", _MS, make)


def _fs_rho_dropped():
    """FMO's L(w) without 2ραE‖∇f_i(w)‖: 4L."""
    return Mutant(
        "fmo-rho-dropped",
        "L(w) = 4L: the ρ term of Lemma 4.2 dropped",
        _FS,
        lambda orig: lambda L, rho, alpha, grad_norm: orig(L, 0.0 * rho, alpha, grad_norm),
    )


def _fs_single_factor():
    """(1+αL) ≤ 2 used once instead of (1+αL)² ≤ 4: L(w) = 2L + 2ραE‖∇f_i(w)‖."""
    return Mutant(
        "fmo-2L",
        "L(w) = 2L + 2ραE‖∇f‖: (1+αL) for (1+αL)²",
        _FS,
        lambda orig: lambda L, rho, alpha, grad_norm: orig(L, rho, alpha, grad_norm) - 2.0 * L,
    )


# ------------------------------------------------------------------ mutants of the task mean

_BMG = "metatheory.learners.maml:batched_maml_meta_gradient"


def _scaled_task_mean(power: float, name: str, text: str):
    """The task-batch mean times B^power (power 1: the sum; ½: a 1/√B normalisation)."""

    def make(orig):
        def wrong(loss_fn, params, supports, queries, **kw):
            g = orig(loss_fn, params, supports, queries, **kw)
            b = jax.tree_util.tree_leaves(supports)[0].shape[0]
            return jax.tree_util.tree_map(lambda a: a * b**power, g)

        return wrong

    return Mutant(name, text, _BMG, make)


def _shared_query():
    """The support batch used as the query batch where independent batches are claimed."""
    return Mutant(
        "shared-query",
        "query batch = support batch (shared) where independent batches are claimed",
        _BMG,
        lambda orig: (
            lambda loss_fn, params, supports, queries, **kw: orig(
                loss_fn, params, supports, supports, **kw
            )
        ),
    )


# ------------------------------------------------------------------------------------- C1


@claim(
    "C1",
    name="fmo_smoothness",
    statement="‖∇F(w)−∇F(u)‖ ≤ ((1+αL)²L + αρG')‖w−u‖ ≤ (4L + 2ραE‖∇f_i(w)‖)‖w−u‖ for α ≤ 1/L.",
    latex=r"$\|\nabla F(w)-\nabla F(u)\|\le\bigl((1+\alpha L)^2L+\alpha\rho G'\bigr)\|w-u\|"
    r"\le\bigl(4L+2\rho\alpha E_i\|\nabla f_i(w)\|\bigr)\|w-u\|$",
    source="Fallah, Mokhtari, Ozdaglar 2020, Lemma 4.2",
    experiment=ex.smoothness,
    presets=ex.SMOOTH_PRESETS,
    seed=10,
    mutants=[_ms_exponent_n(), _fs_rho_dropped(), _fs_single_factor()],
)
def check_c1(r: ex.SmoothResult) -> Verdict:
    emp = np.maximum(r.hess, r.hess_dense)
    tight_g = float(np.max(emp / r.bound_general))
    tight_f = float(np.max(emp / r.bound_fmo))
    pair_g = float(np.max(r.pair_quot / r.pair_general))
    pair_f = float(np.max(r.pair_quot / r.pair_fmo))
    power = float(np.max(np.abs(r.hess - r.hess_dense) / r.hess_dense))
    control = float(np.max(emp / r.L))  # "F is L-smooth like its tasks"
    lim = 1 + BOUND_RTOL
    return Verdict.of(
        [
            Check(
                "general-bound",
                tight_g <= lim,
                f"max ‖∇²F‖/bound {tight_g:.3f}",
                f"≤ 1 + {BOUND_RTOL:g}",
            ),
            Check(
                "fmo-bound",
                tight_f <= lim,
                f"max ‖∇²F‖/L(w) {tight_f:.3f}",
                f"≤ 1 + {BOUND_RTOL:g}",
            ),
            Check(
                "pairs",
                max(pair_g, pair_f) <= lim,
                f"difference quotients/bound ≤ {pair_g:.3f} (general), {pair_f:.3f} (FMO)",
                f"≤ 1 + {BOUND_RTOL:g}",
            ),
            Check("power-vs-dense", power <= POWER_RTOL, f"{power:.1e}", f"≤ {POWER_RTOL:g}"),
            Check(
                "test-value",
                abs(r.test_value - 5.2) <= TEST_TOL,
                f"fmo_smoothness(1, 2, 0.1, 3) = {r.test_value:.12g}",
                "5.2 (step 1/(12·5.2) = 0.0160256)",
            ),
            Check(
                "control: ∇F L-smooth like the tasks",
                control > lim,
                f"max ‖∇²F‖/L = {control:.3f}",
                control=True,
            ),
        ],
        predicted="local and pairwise Lipschitz constants of ∇F ≤ both bounds",
        measured=f"max empirical/bound {tight_g:.3f} (general), {tight_f:.3f} (4L+2ραE‖∇f‖); "
        f"pairs {pair_g:.3f}, {pair_f:.3f}; αL ∈ {{{', '.join(f'{a:g}' for a in r.alpha)}}}",
        tolerance=f"ratio ≤ 1 + {BOUND_RTOL:g}; HVP vs dense {POWER_RTOL:g}; test value exact",
        numbers={
            "tight": tight_g,
            "tightfmo": tight_f,
            "pair": pair_g,
            "pairfmo": pair_f,
            "power": power,
            "control": control,
            "testvalue": r.test_value,
            "teststep": 1 / (12 * r.test_value),
            "points": int(r.hess.shape[1]),
        },
        evidence=r,
    )


# ------------------------------------------------------------------------------------- C2


@claim(
    "C2",
    name="maml_smoothness",
    statement="N-step MAML is L_N-smooth, L_N = (1+αL)^{2N}L + (ρG/L)(1+αL)^{N−1}((1+αL)^N−1).",
    latex=r"$L_N=(1+\alpha L)^{2N}L+\frac{\rho G}{L}(1+\alpha L)^{N-1}"
    r"\bigl((1+\alpha L)^N-1\bigr)$",
    source="Recursion of the argument of Fallah, Mokhtari, Ozdaglar 2020, Lemma 4.2, over N "
    "inner steps (derived here)",
    experiment=ex.multistep,
    presets=ex.MULTI_PRESETS,
    seed=11,
    mutants=[_ms_exponent_n(), _ms_off_by_one(), _ms_rho_dropped()],
)
def check_c2(r: ex.MultiResult) -> Verdict:
    ratio = r.empirical / r.bound
    over = r.empirical / r.linearized
    lim = 1 + BOUND_RTOL
    return Verdict.of(
        [
            Check(
                "bound",
                bool(np.all(ratio <= lim)),
                f"max_w ‖∇²F_N‖/L_N ≤ {ratio.max():.4f} over N = 1..{r.n_inner.max()}",
                f"≤ 1 + {BOUND_RTOL:g}",
            ),
            Check(
                "calculator-vs-derivation",
                r.calc_vs_derived <= DERIVED_RTOL,
                f"{r.calc_vs_derived:.1e}",
                f"≤ {DERIVED_RTOL:g} (sympy rsolve)",
            ),
            Check(
                "control: no exponential (first order in α)",
                bool(np.any(over > lim)),
                f"L(1+2NαL)+NαρG exceeded ×{over.max():.1f} (N = {r.n_inner[np.argmax(over)]})",
                control=True,
            ),
        ],
        predicted="max ‖∇²F_N‖ ≤ L_N for every N; calculator = derivation",
        measured=f"empirical/L_N ≤ {ratio.max():.4f} (N = 1..{r.n_inner.max()}, αL = "
        f"{r.alpha * r.L:g}); empirical grows ×{r.growth:.3f} per step (bound's leading "
        f"factor ×{(1 + r.alpha * r.L) ** 2:.2f}); calculator vs sympy {r.calc_vs_derived:.1e}",
        tolerance=f"ratio ≤ 1 + {BOUND_RTOL:g}; {DERIVED_RTOL:g} vs the derivation",
        note="G bounds ‖∇f_i‖ at the N-th adapted point (C1's G'); the global bound L√d is "
        "used. On this separable family the sup of ‖∇²F_N‖ is (1+αL)^{2N}L at the curvature "
        "maximum, so the ρ term is not needed there; the derivation check covers it.",
        numbers={
            "ratio": float(ratio.max()),
            "ratiofirst": float(ratio[0]),
            "growth": r.growth,
            "boundgrowth": (1 + r.alpha * r.L) ** 2,
            "control": float(over.max()),
            "nmax": int(r.n_inner.max()),
            "empmax": float(r.empirical.max()),
            "boundmax": float(r.bound[-1]),
            "alphaL": r.alpha * r.L,
            "derived": r.calc_vs_derived,
        },
        evidence=r,
    )


# ------------------------------------------------------------------------------------- C3


@claim(
    "C3",
    name="task_batch_variance",
    statement="The B-task mean meta-gradient has variance σ²/B; shared support/query batches "
    "bias it by an amount that does not shrink with B, independent batches do not.",
    latex=r"$\mathrm{Var}\bigl(\frac1B\sum_{i=1}^B g_i\bigr)=\sigma^2/B$; "
    r"$E\,g^{\mathrm{shared}}\ne E\,g^{\mathrm{indep}}=\nabla\hat F$ for every $B$",
    source="Fallah, Mokhtari, Ozdaglar 2020, Sec. 4 (independent batches D_in, D_o); iid averaging",
    experiment=ex.batch_variance,
    presets=ex.VAR_PRESETS,
    seed=12,
    statistical=True,
    mutants=[
        _scaled_task_mean(1.0, "task-sum", "missing 1/B: the task batch summed, not averaged"),
        _scaled_task_mean(0.5, "task-sqrt-b", "task batch normalised by 1/√B instead of 1/B"),
        _shared_query(),
    ],
)
def check_c3(r: ex.VarResult) -> Verdict:
    s = r.slope
    zi, zs = float(np.max(np.abs(r.z_indep))), float(np.max(np.abs(r.z_shared)))
    bias = float(np.linalg.norm(r.exact_shared - r.exact_indep))
    se = float(np.max(np.linalg.norm(r.se_shared, axis=1)))
    return Verdict.of(
        [
            Check(
                "variance-slope",
                s.low <= -1.0 <= s.high,
                f"{s.mean:.4f} [{s.low:.4f}, {s.high:.4f}]",
                f"{1 - LEVEL_C3:.2%} bootstrap-t CI ∋ −1",
                level=LEVEL_C3,
            ),
            Check(
                "independent-unbiased",
                zi <= Z_BIAS,
                f"max |z| = {zi:.2f} vs quadrature",
                f"|z| ≤ {Z_BIAS}",
                level=0.4e-3,
            ),
            Check(
                "shared-mean-flat",
                zs <= Z_BIAS,
                f"max |z| = {zs:.2f} vs its exact (B-independent) mean",
                f"|z| ≤ {Z_BIAS}",
                level=0.4e-3,
            ),
            Check(
                "shared-bias-nonzero",
                bias > QUAD_TOL,
                f"exact shared bias {bias:.4f} (Monte Carlo s.e. {se:.4f})",
                f"> {QUAD_TOL:g} (quadrature)",
            ),
            Check(
                "control: variance slope −1/2",
                not s.low <= -0.5 <= s.high,
                f"−1/2 outside [{s.low:.3f}, {s.high:.3f}]",
                control=True,
            ),
        ],
        predicted="variance slope −1 in B; independent batches unbiased; shared-batch mean at "
        "its exact value at every B, off the independent one",
        measured=f"slope {s.mean:.4f} [{s.low:.4f}, {s.high:.4f}] (independent), "
        f"{r.slope_shared:.4f} (shared); shared bias {bias:.3f} at every B "
        f"(max |z| {zs:.2f}); independent max |z| {zi:.2f}",
        numbers={
            "slope": s.mean,
            "cilow": s.low,
            "cihigh": s.high,
            "slopeshared": r.slope_shared,
            "biasshared": bias,
            "zindep": zi,
            "zshared": zs,
            "zsharedvsindep": float(np.min(np.max(np.abs(r.z_shared_vs_indep), axis=1))),
            "fmobias": float(np.linalg.norm(r.exact_indep - r.grad_F)),
            "reps": r.n_rep,
        },
        evidence=r,
    )


# ------------------------------------------------------------------------------------- C4


@claim(
    "C4",
    name="maml_rate",
    statement="Stochastic MAML with β = c/√T has (1/T)Σ_t E‖∇F(w_t)‖² = O(1/√T); first-order "
    "MAML stalls at a floor proportional to α².",
    latex=r"$\frac1T\sum_{t<T}E\|\nabla F(w_t)\|^2\le\frac{2\Delta}{c\sqrt T}+"
    r"\frac{L_Fc\sigma^2}{\sqrt T}$; FO-MAML floor $\propto\alpha^2$",
    source="Fallah, Mokhtari, Ozdaglar 2020, Theorems 4.5 (MAML) and 4.7 (FO-MAML)",
    experiment=ex.rate,
    presets=ex.RATE_PRESETS,
    seed=13,
    statistical=True,
    mutants=[
        mutants.maml_hessian_sign(),
        mutants.maml_first_order(),
        mutants.maml_alpha_scaled(0.5),
    ],
)
def check_c4(r: ex.RateResult) -> Verdict:
    s, b = r.slope, r.bound_ratio
    fmo47 = 20 * r.fo_alpha**2 * r.fo_task_var  # L = 1 on this family: 20 α² L² σ²
    fo_ratio = float(np.max(r.fo_floor / fmo47))
    n_seeds = int(r.avg_sq.shape[0])
    return Verdict.of(
        [
            Check(
                "rate-slope",
                s.low <= -0.5 <= s.high,
                f"{s.mean:.4f} [{s.low:.4f}, {s.high:.4f}]",
                f"{1 - LEVEL_C4:.2%} bootstrap-t CI over {n_seeds} seeds ∋ −1/2",
                level=LEVEL_C4,
            ),
            Check(
                "bound",
                b.high <= 1.0,
                f"max_T mean/bound {b.mean:.3f} [{b.low:.3f}, {b.high:.3f}]",
                "upper CI end ≤ 1",
                level=LEVEL_C4 / 2,
            ),
            Check(
                "maml-stationary",
                r.maml_floor <= STATIONARY_TOL,
                f"‖∇F‖² = {r.maml_floor:.1e} after full-batch MAML",
                f"≤ {STATIONARY_TOL:g}",
            ),
            Check(
                "fo-floor-exponent",
                abs(r.fo_exponent - 2) <= FLOOR_TOL,
                f"{r.fo_exponent:.4f} (plain fit {r.fo_exponent_plain:.4f})",
                f"|p − 2| ≤ {FLOOR_TOL}",
            ),
            Check(
                "fo-floor-within-thm-4.7",
                fo_ratio <= 1.0,
                f"floor/(20α²L²σ²) ≤ {fo_ratio:.3g}",
                "≤ 1",
            ),
            Check(
                "control: slopes −1 and −1/4",
                not (s.low <= -1 <= s.high) and not (s.low <= -0.25 <= s.high),
                f"outside [{s.low:.3f}, {s.high:.3f}]",
                control=True,
            ),
            Check(
                "control: floor linear in α",
                abs(r.fo_exponent - 1) > FLOOR_TOL,
                f"|{r.fo_exponent:.3f} − 1| > {FLOOR_TOL}",
                control=True,
            ),
        ],
        predicted="slope −1/2 in T (with the O(β) term); mean ≤ the evaluated bound; "
        "first-order floor slope 2 in α; MAML no floor",
        measured=f"slope {s.mean:.4f} [{s.low:.4f}, {s.high:.4f}] over T = "
        f"{int(r.horizons[0])}..{int(r.horizons[-1])} ({n_seeds} seeds; plain log-log fit "
        f"{r.slope_plain.slope:.4f}); mean/bound ≤ {b.mean:.3f}; FO floor exponent "
        f"{r.fo_exponent:.4f}; MAML floor {r.maml_floor:.1e}",
        note=f"The plain log-log fit over the same horizons gives {r.slope_plain.slope:.4f} "
        f"[{r.slope_plain.ci_low:.4f}, {r.slope_plain.ci_high:.4f}]: every O(β) correction "
        "of the descent lemma is relative O(T^{-1/2}) with β = c/√T, so the fit carries "
        "that term. FO-MAML's floor exponent is 2 once its O(α) term is fitted "
        f"({r.fo_exponent:.4f}); the plain fit over αL ∈ [0.01, 0.08] gives "
        f"{r.fo_exponent_plain:.4f}. The floor is at most {fo_ratio:.2g} of Theorem 4.7's "
        "20α²L²σ².",
        numbers={
            "slope": s.mean,
            "cilow": s.low,
            "cihigh": s.high,
            "plain": r.slope_plain.slope,
            "plainlow": r.slope_plain.ci_low,
            "plainhigh": r.slope_plain.ci_high,
            "seeds": n_seeds,
            "c": r.c,
            "delta": r.delta,
            "sigma": r.sigma2.mean,
            "sigmahigh": r.sigma2.high,
            "LF": r.L_F,
            "boundratio": b.mean,
            "boundratiohigh": b.high,
            "foslope": r.fo_exponent,
            "foplain": r.fo_exponent_plain,
            "fofloor": float(r.fo_floor[-1]),
            "fmoratio": fo_ratio,
            "mamlfloor": r.maml_floor,
            "tmin": int(r.horizons[0]),
            "tmax": int(r.horizons[-1]),
        },
        evidence=r,
    )


# ------------------------------------------------------------------------------------- C5


@claim(
    "C5",
    name="fmo_step_rule",
    statement="FMO's MAML (stochastic inner step, independent Hessian batch, β_k = 1/(12 L̃(w_k)), "
    "B ≥ 20) reaches Theorem 4.5's accuracy, a floor that shrinks as the task batch grows.",
    latex=r"$E\|\nabla F(w_\epsilon)\|\le\max\bigl\{\sqrt{61(1+\frac{\rho\alpha}{L}\sigma)S},"
    r"\frac{61\rho\alpha}{L}S\bigr\}$, $S=\frac{\sigma^2}{B}+\frac{\tilde\sigma^2}{BD_o}+"
    r"\frac{\tilde\sigma^2}{D_{in}}$",
    source="Fallah, Mokhtari, Ozdaglar 2020, Theorem 4.5 (step rule, batch conditions)",
    experiment=ex.fmo_rule,
    presets=ex.FMO_PRESETS,
    seed=14,
    statistical=True,
    mutants=[
        mutants.maml_hessian_sign(),
        mutants.maml_first_order(),
        mutants.maml_alpha_scaled(0.5),
    ],
)
def check_c5(r: ex.FmoResult) -> Verdict:
    bs = r.batch_sizes
    highs = np.array([c.high for c in r.norm_ci])
    means = np.array([c.mean for c in r.norm_ci])
    slack = r.accuracy / means
    need = float(np.sqrt(bs[-1] / bs[0]))
    q = r.ratio
    held = {k: v for k, v in r.conditions.items() if v[2]}
    return Verdict.of(
        [
            Check(
                "theorem-4.5-accuracy",
                bool(np.all(highs <= r.accuracy)),
                ", ".join(
                    f"B={b}: {m:.3g} (≤ {h:.3g}) vs {a:.3g}"
                    for b, m, h, a in zip(bs, means, highs, r.accuracy, strict=True)
                ),
                f"upper {1 - LEVEL_C5:.2%} bootstrap-t CI end ≤ the theorem's accuracy",
                level=LEVEL_C5 / 2 * len(bs),
            ),
            Check(
                "floor-shrinks-with-B",
                q.low >= need,
                f"floor(B={bs[0]})/floor(B={bs[-1]}) = {q.mean:.2f} [{q.low:.2f}, {q.high:.2f}]",
                f"lower CI end ≥ √({bs[-1]}/{bs[0]}) = {need:.2f}",
                level=LEVEL_C5 / 2,
            ),
            Check(
                "control: a floor that does not shrink (ratio 1)",
                q.low > 1.0,
                f"1 below [{q.low:.2f}, {q.high:.2f}]",
                control=True,
            ),
        ],
        predicted="E‖∇F(w_ε)‖ ≤ Theorem 4.5's accuracy at B = "
        f"{', '.join(str(int(b)) for b in bs)}; the squared floor shrinks ≈ {bs[-1] // bs[0]}× "
        f"from B = {bs[0]} to {bs[-1]} (noise, no bias)",
        measured=f"E‖∇F(w_ε)‖ {', '.join(f'{m:.3g}' for m in means)} vs "
        f"{', '.join(f'{a:.3g}' for a in r.accuracy)} (slack ×{slack.min():.0f}–"
        f"×{slack.max():.0f}); floor ratio {q.mean:.2f} [{q.low:.2f}, {q.high:.2f}]",
        note=f"Theorem 4.5's conditions hold by construction ({', '.join(held)}); σ = "
        f"{r.sigma:.3f}, σ̃ = {r.sigma_tilde:.3f}, σ_H = {r.sigma_h:.3f} are exact suprema "
        "over a torus grid. The theorem's accuracy exceeds the measured floor "
        f"×{slack.min():.0f}–×{slack.max():.0f}: its constant 61 and its σ̃²/D_in term (a "
        "bound on a bias that is second order in α here) set the slack. The sharp part is "
        "the B-dependence, which separates MAML's noise floor from a biased estimator's.",
        numbers={
            "measured": float(means[0]),
            "measuredlarge": float(means[-1]),
            "accuracy": float(r.accuracy[0]),
            "accuracylarge": float(r.accuracy[-1]),
            "slackmin": float(slack.min()),
            "slackmax": float(slack.max()),
            "ratio": q.mean,
            "ratiolow": q.low,
            "ratiohigh": q.high,
            "need": need,
            "betamean": float(r.beta_mean.mean()),
            "sigma": r.sigma,
            "sigmatilde": r.sigma_tilde,
            "sigmah": r.sigma_h,
            "Dhmin": int(r.conditions["Dh"][1]),
            "alpha": r.alpha,
            "bsmall": int(bs[0]),
            "blarge": int(bs[-1]),
        },
        evidence=r,
    )
