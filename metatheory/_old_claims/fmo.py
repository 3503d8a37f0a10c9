"""Ledger rows C1–C5: smoothness, task-batch variance and rate of MAML (Fallah, Mokhtari,
Ozdaglar 2020), checked on the circular task family with exact constants."""

from __future__ import annotations

import jax
import numpy as np

from metatheory.bounds import fmo_smoothness
from metatheory.claims import Verdict, claim, renders
from metatheory.experiments import fmo as ex
from metatheory.stats import loglog_slope, mean_ci
from metatheory.symbolic import fmo as sym

BOUND_RTOL = 1e-9
"""A bound must hold up to float64 rounding: the Hessians and quotients are ~10 flops deep,
rounding ~1e-15 relative; 1e-9 leaves margin and hides nothing of size."""
POWER_RTOL = 1e-3
"""HVP power iteration (200 steps quick, 2000 full; best of 2 random starts) vs the dense
Hessian's largest |eigenvalue|: convergence is geometric in |λ2/λ1|, close to 1 at a few
sampled points; 1e-3 relative."""
LEVEL = 0.95
"""Slope CIs are 95% t-intervals of the log-log fit: a 5% false-alarm rate per check with
the fixed keys used here (the fits themselves are deterministic given the keys)."""
Z_BIAS = 3.29
"""|mean − exact| ≤ 3.29 standard errors (99.9% two-sided normal) per coordinate and batch size;
with 2 coordinates × 7 batch sizes the family-wise false-alarm rate is ≤ 1.4%."""
SLOPE_SYS = 0.02
"""Systematic allowance on the rate slope: the average is a T^{-1/2}(1 + b T^{-1/2}) law
whose pre-asymptotic correction steepens a fit over 1e2..1e5 by ~0.01 (the local slope of the
last decade is reported and is within 0.003 of −1/2); controls −1 and −1/4 are ≥ 0.2 away."""
FLOOR_TOL = 0.15
"""First-order floor = c α²(1 + O(αL)): over αL ∈ [0.01, 0.08] the O(αL) correction moves
the fitted exponent by up to ~0.1; the control exponent 1 (floor linear in α) is 1 away."""
CI_LEVEL_BOUND = 0.999
"""C5 compares the bound with the upper end of a 99.9% t-interval of the mean over seeds
(false alarm ≤ 0.1% per horizon)."""


def _p(preset, quick, full):
    return full if preset == "full" else quick


# ------------------------------------------------------------------------------------- C1


@claim(
    "C1",
    stem="fmo_smoothness",
    statement="‖∇F(w)−∇F(u)‖ ≤ ((1+αL)²L + αρG')‖w−u‖ ≤ (4L + 2ραE‖∇f_i(w)‖)‖w−u‖ for α ≤ 1/L.",
    source="Fallah, Mokhtari, Ozdaglar 2020, Lemma 4.2",
)
def check_c1(preset: str) -> Verdict:
    r = ex.smoothness(_p(preset, ex.SMOOTH_QUICK, ex.SMOOTH_FULL), jax.random.key(10))
    emp = np.maximum(r.hess, r.hess_dense)
    tight_g = float(np.max(emp / r.bound_general))
    tight_f = float(np.max(emp / r.bound_fmo))
    pair_g = float(np.max(r.pair_ratio))
    pair_f = float(np.max(r.pair_ratio_fmo))
    power = float(np.max(np.abs(r.hess - r.hess_dense) / r.hess_dense))
    chain = sym.derive_one_step_chain()
    slack_ok = sym.sp.simplify(chain["slack_at_alpha_1_over_L"]) == 0
    test_value = float(fmo_smoothness(1.0, 2.0, 0.1, 3.0))
    ok = (
        max(tight_g, tight_f, pair_g, pair_f) <= 1 + BOUND_RTOL
        and power <= POWER_RTOL
        and slack_ok
        and abs(test_value - 5.2) <= 1e-12
    )
    control = float(np.max(emp / r.L))  # "F is L-smooth like its tasks"
    return Verdict(
        "C1",
        "holds" if ok else "fails",
        predicted="local and pairwise Lipschitz constants of ∇F ≤ both bounds",
        measured=f"max empirical/bound {tight_g:.3f} (general), {tight_f:.3f} (4L+2ραE‖∇f‖); "
        f"pairs {pair_g:.3f}, {pair_f:.3f}; αL ∈ {{{', '.join(f'{a:g}' for a in r.alpha)}}}",
        tolerance=f"ratio ≤ 1 + {BOUND_RTOL:g}; HVP vs dense {POWER_RTOL:g}",
        control=f"∇F L-smooth like the tasks (no (1+αL)² factor): max ‖∇²F‖/L = {control:.3f}",
        control_rejected=bool(control > 1 + BOUND_RTOL),
        numbers={
            "tight": tight_g,
            "tightfmo": tight_f,
            "pair": pair_g,
            "pairfmo": pair_f,
            "power": power,
            "control": control,
            "testvalue": test_value,
            "teststep": 1 / (12 * test_value),
            "points": int(r.hess.shape[1]),
        },
        evidence=r,
    )


@renders("C1")
def render_c1(v: Verdict, outdir):
    from metatheory import report

    for name, tex in sym.latex_equations().items():
        report.write_equation(outdir, name, tex)
    r = v.evidence
    fig, axes = report.plt.subplots(1, 2, figsize=(8, 3.2))
    for k, a in enumerate(r.alpha):
        emp = np.maximum(r.hess[k], r.hess_dense[k])
        axes[0].plot(r.bound_general[k], emp, "o", ms=3, label=rf"$\alpha L={a * r.L:g}$")
        axes[1].plot(r.bound_fmo[k], emp, "o", ms=3, label=rf"$\alpha L={a * r.L:g}$")
    for ax, title in zip(
        axes,
        (r"$(1+\alpha L)^2L+\alpha\rho G'$", r"$4L+2\rho\alpha E\|\nabla f_i(w)\|$"),
        strict=True,
    ):
        lo, hi = 0, max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="bound")
        ax.axhline(r.L, color="r", ls=":", lw=0.8, label=r"control: $L$")
        ax.set_xlabel("bound at $w$: " + title)
        ax.set_ylabel(r"$\|\nabla^2 F(w)\|$ (HVP power iteration)")
        ax.legend(fontsize=7, loc="upper left")
    report.savefig(fig, outdir, "c1-smoothness")


# ------------------------------------------------------------------------------------- C2


@claim(
    "C2",
    stem="maml_smoothness",
    statement="N-step MAML is L_N-smooth, L_N = (1+αL)^{2N}L + (ρG/L)(1+αL)^{N−1}((1+αL)^N−1).",
    source="Recursion of the FMO Lemma 4.2 argument over N inner steps; CLAIMS.md C2",
)
def check_c2(preset: str) -> Verdict:
    r = ex.multistep(_p(preset, ex.MULTI_QUICK, ex.MULTI_FULL), jax.random.key(11))
    ms = sym.derive_multi_step()
    ratio = r.empirical / r.bound
    algebra = ms["difference"] == 0 and ms["reduces_to_c1"] and ms["recursion_checked"]
    ok = bool(np.all(ratio <= 1 + BOUND_RTOL) and algebra)
    over = r.empirical / r.linearized
    return Verdict(
        "C2",
        "holds" if ok else "fails",
        predicted="max ‖∇²F_N‖ ≤ L_N for every N; recursion = claimed form",
        measured=f"empirical/L_N ≤ {ratio.max():.3f} over N = 1..{r.n_inner.max()}; "
        f"empirical grows ×{r.growth:.2f} per step (bound ×{(1 + r.alpha * r.L) ** 2:.2f}); "
        "sympy difference 0",
        tolerance=f"ratio ≤ 1 + {BOUND_RTOL:g}; exact algebra",
        note="CLAIMS.md's form agrees with the recursion; G bounds ‖∇f_i‖ at the N-th "
        "adapted point (C1's G'); here the global bound L√d is used.",
        control=f"bound without the exponential, L(1+2NαL)+NαρG: exceeded ×{over.max():.1f} "
        f"(N = {r.n_inner[np.argmax(over)]})",
        control_rejected=bool(np.any(over > 1 + BOUND_RTOL)),
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
        },
        evidence=r,
    )


@renders("C2")
def render_c2(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(5, 3.2))
    ax.semilogy(r.n_inner, r.bound, "k-", label=r"bound $L_N$ (C2)")
    ax.semilogy(r.n_inner, r.empirical, "o-", label=r"empirical $\max_w\|\nabla^2F_N(w)\|$")
    ax.semilogy(r.n_inner, r.linearized, "x--", label=r"control: $L(1+2N\alpha L)+N\alpha\rho G$")
    ax.semilogy(
        r.n_inner, (1 + r.alpha * r.L) ** (2 * r.n_inner) * r.L, ":", label=r"$(1+\alpha L)^{2N}L$"
    )
    ax.set_xlabel("inner steps $N$")
    ax.set_ylabel("smoothness constant")
    ax.legend(fontsize=7, loc="upper left")
    report.savefig(fig, outdir, "c2-multistep")


# ------------------------------------------------------------------------------------- C3


@claim(
    "C3",
    stem="task_batch_variance",
    statement="The B-task mean meta-gradient has variance σ²/B; shared support/query batches "
    "bias it by an amount that does not shrink with B, independent batches do not.",
    source="Fallah, Mokhtari, Ozdaglar 2020, Sec. 4 (independent batches); iid averaging",
)
def check_c3(preset: str) -> Verdict:
    r = ex.batch_variance(_p(preset, ex.VAR_QUICK, ex.VAR_FULL), jax.random.key(12))
    fit = loglog_slope(r.batch_sizes, r.var_indep, level=LEVEL)
    fit_sh = loglog_slope(r.batch_sizes, r.var_shared, level=LEVEL)
    z_ind = np.abs(r.mean_indep - r.exact_indep) / r.se_indep
    z_sh = np.abs(r.mean_shared - r.exact_indep) / r.se_shared
    bias_fit = loglog_slope(r.batch_sizes, r.bias_shared, level=LEVEL)
    exact_bias = float(np.linalg.norm(r.exact_shared - r.exact_indep))
    ok = (
        fit.contains(-1.0)
        and bool(np.all(z_ind <= Z_BIAS))
        and bool(np.all(z_sh.max(axis=1) > Z_BIAS))
        and bias_fit.contains(0.0)
    )
    rejected = not fit.contains(-0.5) and not bias_fit.contains(-0.5)
    return Verdict(
        "C3",
        "holds" if ok else "fails",
        predicted="variance slope −1 in B; shared-batch bias flat in B; independent unbiased",
        measured=f"slope {fit} (independent), {fit_sh} (shared); shared bias "
        f"{r.bias_shared.min():.3f}–{r.bias_shared.max():.3f} (exact {exact_bias:.3f}), "
        f"bias slope {bias_fit}; independent |z| ≤ {z_ind.max():.2f}",
        tolerance=f"{LEVEL:.0%} CI on slopes; |z| ≤ {Z_BIAS} for unbiasedness",
        control="variance slope −1/2 and a bias shrinking like B^{−1/2}: both outside their CIs",
        control_rejected=bool(rejected),
        numbers={
            "slope": fit.slope,
            "cilow": fit.ci_low,
            "cihigh": fit.ci_high,
            "slopeshared": fit_sh.slope,
            "biasshared": exact_bias,
            "biasslope": bias_fit.slope,
            "biaslow": bias_fit.ci_low,
            "biashigh": bias_fit.ci_high,
            "zindep": float(z_ind.max()),
            "zshared": float(z_sh.max(axis=1).min()),
            "fmobias": float(np.linalg.norm(r.exact_indep - r.grad_F)),
            "reps": r.n_rep,
        },
        evidence=r,
    )


def _band(ax, x, fit, **kw):
    """The fitted log-log line with the band spanned by the slope's CI (pivot at mean log x)."""
    lx = np.log(x)
    xm = lx.mean()
    ym = fit.intercept + fit.slope * xm
    xs = np.linspace(lx.min(), lx.max(), 50)
    lo = ym + np.minimum(fit.ci_low * (xs - xm), fit.ci_high * (xs - xm))
    hi = ym + np.maximum(fit.ci_low * (xs - xm), fit.ci_high * (xs - xm))
    ax.plot(np.exp(xs), np.exp(ym + fit.slope * (xs - xm)), "-", lw=1, **kw)
    ax.fill_between(np.exp(xs), np.exp(lo), np.exp(hi), alpha=0.25, color=kw.get("color"))


@renders("C3")
def render_c3(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    fig, axes = report.plt.subplots(1, 2, figsize=(9, 3.4))
    fig.subplots_adjust(wspace=0.35)
    ax = axes[0]
    for y, lab, col in ((r.var_indep, "independent", "C0"), (r.var_shared, "shared", "C1")):
        fit = loglog_slope(r.batch_sizes, y, level=LEVEL)
        ax.loglog(r.batch_sizes, y, "o", color=col, label=f"{lab}: slope {fit.slope:.3f}")
        _band(ax, r.batch_sizes, fit, color=col)
    ax.loglog(r.batch_sizes, r.var_indep[0] / r.batch_sizes**0.5, "k:", label="control $B^{-1/2}$")
    ax.set_xlabel("task batch $B$")
    ax.set_ylabel(r"$\mathrm{tr\,Cov}$ of the $B$-task mean")
    ax.legend(fontsize=7)
    ax = axes[1]
    se_i = np.linalg.norm(r.se_indep, axis=1)
    se_s = np.linalg.norm(r.se_shared, axis=1)
    ax.errorbar(
        r.batch_sizes, r.bias_shared, yerr=2 * se_s, fmt="o-", color="C1", label="shared batches"
    )
    ax.plot(r.batch_sizes, r.bias_indep, "s-", color="C0", label="independent batches")
    ax.axhline(
        np.linalg.norm(r.exact_shared - r.exact_indep),
        color="C1",
        ls=":",
        label="exact shared bias (quadrature)",
    )
    ax.plot(r.batch_sizes, se_i, "k:", lw=0.8, label="Monte Carlo s.e. (independent)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("task batch $B$")
    ax.set_ylabel(r"$\|\mathrm{mean}\,\hat g_B - E\,\hat g\|$")
    ax.legend(fontsize=7, loc="center right")
    report.savefig(fig, outdir, "c3-variance")


# ------------------------------------------------------------------------------------- C4


@claim(
    "C4",
    stem="maml_rate",
    statement="Stochastic MAML with β = c/√T has (1/T)Σ_t E‖∇F(w_t)‖² = O(1/√T); first-order "
    "MAML stalls at a floor proportional to α².",
    source="Fallah, Mokhtari, Ozdaglar 2020, Theorems 4.5 (MAML) and 4.7 (FO-MAML)",
)
def check_c4(preset: str) -> Verdict:
    r = ex.rate(_p(preset, ex.RATE_QUICK, ex.RATE_FULL), jax.random.key(13))
    means = r.avg_sq.mean(axis=1)
    fit = loglog_slope(r.horizons, means, level=LEVEL)
    lo, hi = fit.ci_low - SLOPE_SYS, fit.ci_high + SLOPE_SYS
    local = float(np.log(means[-1] / means[-3]) / np.log(r.horizons[-1] / r.horizons[-3]))
    fo = loglog_slope(r.fo_alpha, r.fo_floor, level=LEVEL)
    bound = r.term_gap + r.term_noise
    ok = lo <= -0.5 <= hi and abs(fo.slope - 2) <= FLOOR_TOL
    rejected = not (lo <= -1 <= hi) and not (lo <= -0.25 <= hi) and abs(fo.slope - 1) > FLOOR_TOL
    return Verdict(
        "C4",
        "holds" if ok else "fails",
        predicted="slope −1/2 in T; first-order floor slope 2 in α",
        measured=f"slope {fit} over T = 1e2..1e5 ({r.avg_sq.shape[1]} seeds), last decade "
        f"{local:.3f}; FO floor slope {fo}",
        tolerance=f"{LEVEL:.0%} CI ± {SLOPE_SYS} (pre-asymptotic); floor ±{FLOOR_TOL}",
        control="slopes −1 and −1/4 outside the interval; a floor linear in α (slope 1) rejected",
        control_rejected=bool(rejected),
        note=f"The 95% CI alone [{fit.ci_low:.4f}, {fit.ci_high:.4f}] "
        f"{'contains' if fit.contains(-0.5) else 'excludes'} −1/2: the fit over 1e2..1e5 is "
        f"slightly steeper (pre-asymptotic), the last decade gives {local:.4f}. FO floor "
        f"slope CI [{fo.ci_low:.3f}, {fo.ci_high:.3f}] (O(αL) corrections).",
        numbers={
            "slope": fit.slope,
            "cilow": fit.ci_low,
            "cihigh": fit.ci_high,
            "local": local,
            "seeds": int(r.avg_sq.shape[1]),
            "c": r.c,
            "delta": r.delta,
            "sigma": r.sigma2,
            "LF": r.L_F,
            "boundratio": float(np.max(means / bound)),
            "foslope": fo.slope,
            "folow": fo.ci_low,
            "fohigh": fo.ci_high,
            "fofloor": float(r.fo_floor[-1]),
            "fmoratio": float(np.max(r.fo_floor / r.fo_fmo_bound)),
            "mamlfloor": float(np.max(r.fo_maml)),
        },
        evidence=r,
    )


@renders("C4")
def render_c4(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    means = r.avg_sq.mean(axis=1)
    cis = [mean_ci(a, level=LEVEL) for a in r.avg_sq]
    fit = loglog_slope(r.horizons, means, level=LEVEL)
    fig, axes = report.plt.subplots(1, 2, figsize=(9, 3.4))
    fig.subplots_adjust(wspace=0.35)
    ax = axes[0]
    ax.errorbar(
        r.horizons,
        means,
        yerr=[means - [c.low for c in cis], [c.high for c in cis] - means],
        fmt="o",
        color="C0",
        label=f"MAML, mean of {r.avg_sq.shape[1]} seeds",
    )
    _band(ax, r.horizons, fit, color="C0", label=f"fit: slope {fit.slope:.3f}")
    ax.loglog(r.horizons, r.term_gap + r.term_noise, "k-", lw=0.8, label="bound (measured consts)")
    for s, st in ((-1.0, "--"), (-0.25, "-.")):
        ax.loglog(r.horizons, means[0] * (r.horizons / r.horizons[0]) ** s, "r" + st, lw=0.8)
    ax.plot([], [], "r--", lw=0.8, label=r"controls $T^{-1}$, $T^{-1/4}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon $T$ ($\\beta = c/\\sqrt{T}$)")
    ax.set_ylabel(r"$T^{-1}\sum_t\|\nabla F(w_t)\|^2$")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1]
    fo = loglog_slope(r.fo_alpha, r.fo_floor, level=LEVEL)
    ax.loglog(r.fo_alpha, r.fo_floor, "s", color="C1", label="FO-MAML fixed point")
    _band(ax, r.fo_alpha, fo, color="C1", label=f"fit: slope {fo.slope:.3f}")
    ax.loglog(
        r.fo_alpha,
        r.fo_floor[0] * (r.fo_alpha / r.fo_alpha[0]),
        "r--",
        lw=0.8,
        label=r"control $\propto\alpha$",
    )
    ax.set_xlabel(r"inner step $\alpha$")
    ax.xaxis.set_minor_formatter(report.plt.NullFormatter())
    ax.set_xticks(r.fo_alpha, [f"{a:g}" for a in r.fo_alpha])
    ax.set_ylabel(r"$\|\nabla F(w_{FO})\|^2$")
    ax.legend(fontsize=7, loc="upper left")
    report.savefig(fig, outdir, "c4-rate")


# ------------------------------------------------------------------------------------- C5


@claim(
    "C5",
    stem="fmo_step_rule",
    statement="With β_k = 1/(12 L(w_k)) and FMO's batch conditions, (1/T)Σ E‖∇F(w_k)‖² stays "
    "below the evaluated descent-lemma bound.",
    source="Fallah, Mokhtari, Ozdaglar 2020, Theorem 4.5 (step rule, batch conditions)",
)
def check_c5(preset: str) -> Verdict:
    r = ex.fmo_rule(_p(preset, ex.FMO_QUICK, ex.FMO_FULL), jax.random.key(14))
    cis = [mean_ci(a, level=CI_LEVEL_BOUND) for a in r.avg_sq]
    means = np.array([c.mean for c in cis])
    holds = all(c.high <= b for c, b in zip(cis, r.bound, strict=True))
    conds = all(bool(x[2]) for x in r.conditions.values())
    in_range = bool(
        np.all(r.beta_min_seen >= r.beta_min * (1 - 1e-6))
        and np.all(r.beta_max_seen <= r.beta_max * (1 + 1e-6))
    )
    step_exact = float(sym.derive_fmo_bound()["step_test_value"])
    ok = holds and conds and in_range and abs(r.step_test - step_exact) <= 1e-15
    violated = [c.low > d for c, d in zip(cis, r.deterministic, strict=True)]
    slack = r.bound / means
    return Verdict(
        "C5",
        "holds" if ok else "fails",
        predicted="measured ≤ 2(F(w_0)−inf F)/(β_min T) + L_F β_max² σ²/β_min; "
        "β_k ∈ [β_min, β_max]",
        measured=f"measured {', '.join(f'{m:.3g}' for m in means)} vs bound "
        f"{', '.join(f'{b:.3g}' for b in r.bound)} (T = "
        f"{', '.join(f'{int(t)}' for t in r.horizons)}); slack ×{slack.min():.1f}–"
        f"{slack.max():.1f}; step test 1/(12·5.2) = {r.step_test:.7f}",
        tolerance=f"upper {CI_LEVEL_BOUND:.1%} CI ≤ bound; batch conditions met",
        control="the bound without its variance term is violated at T = "
        f"{int(r.horizons[-1])} ({means[-1]:.3g} > {r.deterministic[-1]:.3g})",
        control_rejected=bool(violated[-1]),
        numbers={
            "measured": float(means[-1]),
            "bound": float(r.bound[-1]),
            "slackmin": float(slack.min()),
            "slackmax": float(slack.max()),
            "deterministic": float(r.deterministic[-1]),
            "betamin": r.beta_min,
            "betamax": r.beta_max,
            "betamean": float(r.beta_mean[-1]),
            "teststep": r.step_test,
            "horizon": f"{int(r.horizons[-1])}",
            "sigmabound": r.sigma2_bound,
            "Dhmin": int(r.conditions["Dh"][1]),
        },
        evidence=r,
    )


@renders("C5")
def render_c5(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    means = r.avg_sq.mean(axis=1)
    fig, ax = report.plt.subplots(figsize=(5, 3.2))
    ax.loglog(r.horizons, r.bound, "k-o", label="bound (known constants)")
    ax.loglog(r.horizons, means, "C0-s", label=r"measured $T^{-1}\sum_k\|\nabla F(w_k)\|^2$")
    ax.loglog(r.horizons, r.deterministic, "r--x", label="control: variance term dropped")
    ax.set_xlabel("iterations $T$")
    ax.set_ylabel("average squared gradient norm")
    ax.legend(fontsize=7)
    report.savefig(fig, outdir, "c5-fmo-rule")
