"""Ledger rows P1–P5: PAC-Bayes calculators, their symbolic properties, the coverage of the
Amit–Meir meta-bound, the softened MAML posterior and learning the prior."""

from __future__ import annotations

import jax
import numpy as np
import sympy as sp

from metatheory import stats
from metatheory.claims import Verdict, claim, renders
from metatheory.experiments import pac_bayes as ex

SYMPY_TOL = 1e-12
"""Calculators vs ``sympy.lambdify`` of the derivations, float64: the same few logs and a
square root in a different order, ~1e-15 relative; 1e-12 leaves margin and still rejects any
changed term (the smallest control differs by ~1e-3)."""
KL_INV_TOL = 1e-9
"""The accuracy the issue asks of the kl inversion, against ``scipy.optimize.brentq`` at
``xtol = 1e-15``."""
JIT_TOL = 1e-10
"""jit vs eager, both float64: XLA may fuse and reorder the same operations (~1e-13 seen)."""
TEST_TOL = 5e-7
"""CLAIMS.md quotes the test values to 6 decimals: half a unit in the last place."""
CLAIMS_TEST_VALUES = {"task": 0.419857, "meta": 0.756392, "total": 1.276249, "maurer": 0.0779191}
"""The test values as CLAIMS.md states them (hyper-KL 5, task-KL 20, n = 10, m = 100,
delta = 0.1, er = 0.1; Maurer with KL = 5, m = 1000, delta = 0.05, er = 0)."""
_CONTROL_TARGET = {
    "task_log_one_over_delta": "task",
    "task_m_not_m_minus_1": "task",
    "meta_no_sqrt": "meta",
    "maurer_no_sqrt_m": "maurer",
}

CP_LEVEL = 0.99
"""Two-sided Clopper–Pearson level of the coverage check: the lower limit is a one-sided 99.5%
bound, so with a fixed key a true coverage of exactly 1 - delta passes by chance with
probability <= 0.5%; the control's upper limit likewise."""
MC_SIGMAS = 4.0
"""Closed-form transfer risk vs 20,000-task Monte Carlo: |diff| <= 4 standard errors
(false alarm ~6e-5)."""
KL_TOL = 1e-12
"""P4: ``gaussian_kl`` with equal scales vs ``||phi - theta||^2 / (2 sigma^2)``, float64."""
SLOPE_TOL = 1e-6
"""P4: the KL's increase per decade of ``sigma_q -> 0`` tends to ``d ln 10``; the exact
increment differs by ``d (10^{-2k} - 10^{-2k-2}) / 2``, below 1e-8 at the last decades."""
PRIOR_LEVEL = 0.99
"""P5: two-sided t-interval level of the mean bound reduction over draws (false alarm 0.5%)."""


def _q(preset, quick, full):
    return full if preset == "full" else quick


@claim(
    "P1",
    stem="pac_bayes_calculators",
    statement="The calculators equal the Gaussian KL, McAllester/Maurer, kl-inverse, "
    "Amit–Meir and Pentina–Lampert forms; CLAIMS test values reproduced.",
    source="McAllester 1999; Maurer 2004; Amit & Meir 2018, Thm 2; Pentina & Lampert 2014, Thm 2",
)
def check_p1(preset: str) -> Verdict:
    from metatheory.symbolic import pac_bayes as sym

    r = ex.exactness(_q(preset, ex.EXACT_QUICK, ex.EXACT_FULL), jax.random.key(7))
    forms = sym.claims_forms_agree()
    # the same symbolic comparison on a wrong task term, ln(1/delta) for ln(2nm/delta)
    c_task, _ = sym.amit_meir_claims_form()
    wrong_task = c_task.subs(sp.log(2 * sym.n * sym.m / sym.delta), sp.log(1 / sym.delta))
    task, _, _ = sym.derive_amit_meir()
    sym_control = sp.simplify(sp.expand_log(task**2 - wrong_task**2, force=True)) != 0
    sym_err = max(r.mcallester, r.amit_meir, r.pentina_lampert, r.gaussian_kl)
    tv_err = max(abs(r.test_values[k] - v) for k, v in CLAIMS_TEST_VALUES.items())
    ok = (
        all(forms.values())
        and sym_err <= SYMPY_TOL
        and r.kl_inverse <= KL_INV_TOL
        and r.kl_inverse_edges <= KL_INV_TOL
        and r.kl_le_mcallester
        and r.jit <= JIT_TOL
        and tv_err <= TEST_TOL
    )
    ctl = {k: abs(v - CLAIMS_TEST_VALUES[_CONTROL_TARGET[k]]) for k, v in r.controls.items()}
    return Verdict(
        "P1",
        "holds" if ok else "fails",
        predicted="sympy forms; test values 0.419857 / 0.756392 / 1.276249, Maurer 0.0779191",
        measured=f"derivations = CLAIMS forms ({sum(forms.values())}/{len(forms)}); "
        f"max rel. err {sym_err:.1e} vs sympy, kl-inverse {r.kl_inverse:.1e} vs brentq, "
        f"test values within {tv_err:.1e} (total {r.test_values['total']:.6f}, "
        f"Maurer {r.test_values['maurer']:.7f})",
        tolerance=f"{SYMPY_TOL:g} sympy, {KL_INV_TOL:g} kl-inverse, {TEST_TOL:g} test values",
        control=f"wrong forms (ln(1/δ) for ln(2nm/δ), no √, m for m−1, no √m) miss the test "
        f"values by ≥ {min(ctl.values()):.2g}; sympy rejects ln(1/δ): {bool(sym_control)}",
        control_rejected=bool(min(ctl.values()) > TEST_TOL and sym_control),
        numbers={
            "symerr": sym_err,
            "klinverr": r.kl_inverse,
            "jiterr": r.jit,
            "tverr": tv_err,
            # as text with the digits CLAIMS.md quotes (the macros round to 4 otherwise)
            "task": f"{r.test_values['task']:.6f}",
            "meta": f"{r.test_values['meta']:.6f}",
            "total": f"{r.test_values['total']:.6f}",
            "maurer": f"{r.test_values['maurer']:.7f}",
            "klinv": f"{r.test_values['klinv']:.7f}",
            "control": min(ctl.values()),
        },
        evidence=r,
    )


@renders("P1")
def render_p1(v: Verdict, outdir):
    from metatheory import report
    from metatheory.symbolic.pac_bayes import latex_equations

    for name, tex in latex_equations().items():
        report.write_equation(outdir, name, tex)
    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(4.6, 3.0))
    ax.plot(r.curve_emp, r.curve_emp, "k:", lw=0.8, label="empirical risk")
    ax.plot(r.curve_emp, r.curve_mcallester, label="McAllester/Maurer")
    ax.plot(r.curve_emp, r.curve_kl_inverse, label="kl-inverse")
    ax.set_xlabel(r"empirical risk $\hat{er}$")
    ax.set_ylabel("bound on $er$")
    ax.set_ylim(0, 1.12)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(r"KL $=5$, $m=1000$, $\delta=0.05$", fontsize=8)
    report.savefig(fig, outdir, "p1-single-task")


@claim(
    "P2",
    stem="pac_bayes_regimes",
    statement="Meta term → 0 as n → ∞, task term → 0 as m → ∞; bounds increase in KL and "
    "decrease in δ; few-shot → task term dominates, many-shot → meta term.",
    source="Amit & Meir 2018, Thm 2 (sympy limits and derivative signs)",
)
def check_p2(preset: str) -> Verdict:
    from metatheory.symbolic import pac_bayes as sym

    lim = sym.derive_limits()
    mono = sym.derive_monotonicity()
    reg = sym.derive_regimes()
    r = ex.regimes(ex.REGIMES)
    symbolic_ok = (
        lim["meta_n_inf"] == 0
        and lim["task_m_inf"] == 0
        and lim["pl_meta_n_inf"] == 0
        and lim["pl_task_m_inf"] == 0
        and all(mono["signs"].values())
        and reg["few_shot"] == sp.oo
        and reg["many_shot"] == 0
    )
    numeric_ok = (
        r.task_decreasing_m
        and r.meta_decreasing_n
        and r.increasing_kl
        and r.decreasing_delta
        and r.few_shot_ratio > 1
        and r.many_shot_ratio < 1
    )
    # control: "more tasks alone drive the whole bound to 0", i.e. the task term -> 0 in n
    control_rejected = lim["task_n_inf"] != 0 and r.task_increasing_n
    return Verdict(
        "P2",
        "holds" if symbolic_ok and numeric_ok else "fails",
        predicted="limits 0; signs +KL, −δ, −m (task), −n (meta); task/meta → ∞ (few-shot), "
        "→ 0 (many-shot)",
        measured=f"sympy: limits {lim['meta_n_inf']}, {lim['task_m_inf']}; "
        f"{sum(mono['signs'].values())}/{len(mono['signs'])} signs proved; ratio limits "
        f"{reg['few_shot']}, {reg['many_shot']}; grid: task/meta = {r.few_shot_ratio:.3g} at "
        f"(n, m) = (1e4, 5), {r.many_shot_ratio:.3g} at (5, 1e4)",
        tolerance="exact (sympy); strict signs on 40×40 and 50-point grids",
        control=f"'task term → 0 as n → ∞' rejected: its limit is {lim['task_n_inf']} "
        "(ln(2nm/δ) grows) and it increases along n on the grid",
        control_rejected=bool(control_rejected),
        numbers={
            "fewratio": r.few_shot_ratio,
            "manyratio": r.many_shot_ratio,
            "signs": sum(mono["signs"].values()),
            "crossn": float(r.n[np.argmin(np.abs(r.n - 100))]),
            "crossm": float(r.crossover_m[np.argmin(np.abs(r.n - 100))]),
        },
        note="finding: at fixed m the Amit–Meir task term grows like sqrt(ln n) (the union "
        "bound over tasks), so more tasks alone do not make the bound vanish.",
        evidence=r,
    )


@renders("P2")
def render_p2(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    fig, (a1, a2) = report.plt.subplots(1, 2, figsize=(7.2, 2.9), sharey=True)
    for m_val, ls in ((5, "-"), (100, "--")):
        j = int(np.argmin(np.abs(r.m - m_val)))
        a1.loglog(r.n, r.task[:, j], ls, color="C0", label=f"task term, m = {r.m[j]:g}")
    a1.loglog(r.n, r.meta[:, 0], color="C1", label="meta term (any m)")
    a1.set_xlabel("tasks $n$")
    a1.set_ylabel("term")
    a1.legend(fontsize=7, loc="lower left")
    for n_val, ls in ((10, "-"), (1000, "--")):
        i = int(np.argmin(np.abs(r.n - n_val)))
        a2.loglog(r.m, r.task[i], ls, color="C0", label=f"task term, n = {r.n[i]:g}")
        a2.loglog(r.m, r.meta[i], ls, color="C1", label=f"meta term, n = {r.n[i]:g}")
    a2.set_xlabel("samples per task $m$")
    a2.legend(fontsize=7, loc="lower left")
    fig.suptitle(
        r"Amit–Meir terms, KL$(\mathcal{Q}\|\mathcal{P}) = 5$, task KL $= 20$, "
        r"$\delta = 0.1$",
        fontsize=8,
    )
    report.savefig(fig, outdir, "p2-regimes")


@claim(
    "P3",
    stem="pac_bayes_coverage",
    statement="The Amit–Meir bound exceeds the transfer risk in ≥ 1−δ of draws of the observed "
    "tasks.",
    source="Amit & Meir 2018, Thm 2",
)
def check_p3(preset: str) -> Verdict:
    cfg = _q(preset, ex.COVERAGE_QUICK, ex.COVERAGE_FULL)
    r = ex.coverage(cfg, jax.random.key(11))
    n = r.bound.size
    k = int(np.sum(r.bound >= r.transfer))
    lo, _ = stats.clopper_pearson(k, n, level=CP_LEVEL)
    k_ctl = int(np.sum(r.emp >= r.transfer))
    _, hi_ctl = stats.clopper_pearson(k_ctl, n, level=CP_LEVEL)
    k_pl = int(np.sum(r.pl_bound >= r.transfer))
    k_nometa = int(np.sum(r.emp + r.task >= r.transfer))
    slack = r.bound - r.transfer
    exact, mc, se = r.mc_check
    mc_ok = abs(exact - mc) <= MC_SIGMAS * se
    target = 1 - r.delta
    return Verdict(
        "P3",
        "holds" if lo >= target and mc_ok else "fails",
        predicted=f"coverage ≥ 1−δ = {target:g}",
        measured=f"coverage {k}/{n} (CP lower {lo:.4f}); slack mean {slack.mean():.3f}, "
        f"min {slack.min():.3f}; bound {r.bound.mean():.3f} vs transfer risk "
        f"{r.transfer.mean():.3f}",
        tolerance=f"Clopper–Pearson {CP_LEVEL:g} lower limit ≥ {target:g}",
        control=f"empirical risk alone: coverage {k_ctl}/{n} (CP upper {hi_ctl:.3f} < {target:g})",
        control_rejected=bool(hi_ctl < target),
        numbers={
            "draws": n,
            "ntasks": r.n_tasks,
            "m": r.m,
            "delta": r.delta,
            "coverage": k / n,
            "covered": k,
            "cilow": lo,
            "slackmean": float(slack.mean()),
            "slackmin": float(slack.min()),
            "bound": float(r.bound.mean()),
            "transfer": float(r.transfer.mean()),
            "emp": float(r.emp.mean()),
            "task": float(r.task.mean()),
            "meta": float(r.meta.mean()),
            "klhyper": float(r.kl_hyper.mean()),
            "kltask": float(r.kl_task.mean()),
            "controlcov": k_ctl / n,
            "controlhigh": hi_ctl,
            "plcoverage": k_pl / n,
            "plbound": float(r.pl_bound.mean()),
            "nometacov": k_nometa / n,
            "mcexact": exact,
            "mc": mc,
            "mcse": se,
        },
        evidence=r,
    )


@renders("P3")
def render_p3(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(5.2, 3.0))
    lo = min(r.emp.min(), r.transfer.min())
    hi = max(r.bound.max(), r.pl_bound.max())
    bins = np.linspace(lo, hi, 80)
    ax.hist(r.emp, bins, alpha=0.6, label="empirical risk (control)")
    ax.hist(r.transfer, bins, alpha=0.8, label="transfer risk (exact)")
    ax.hist(r.bound, bins, alpha=0.6, label="Amit–Meir bound")
    ax.hist(r.pl_bound, bins, alpha=0.5, label="Pentina–Lampert bound")
    ax.set_xlabel(f"risk over {r.bound.size} draws of {r.n_tasks} tasks × {r.m} samples")
    ax.set_ylabel("draws")
    ax.legend(fontsize=7, loc="upper center")
    report.savefig(fig, outdir, "p3-coverage")


@claim(
    "P4",
    stem="softened_maml_posterior",
    statement="A point-mass MAML posterior has infinite KL (vacuous bound); a Gaussian at the "
    "adapted parameters gives a finite bound with KL = ‖φ−θ‖²/(2σ²).",
    source="Dziugaite & Roy 2017; Amit & Meir 2018",
)
def check_p4(preset: str) -> Verdict:
    r = ex.softened_posterior(_q(preset, ex.SOFT_QUICK, ex.SOFT_FULL), jax.random.key(13))
    kl_err = float(np.max(np.abs(r.kl - r.kl_formula) / r.kl_formula))
    wrong = r.kl_formula * 2  # the 1/2 dropped: ||phi - theta||^2 / sigma^2
    wrong_err = float(np.min(np.abs(r.kl - wrong) / wrong))
    per_decade = np.diff(r.shrink_kl) / (r.d * np.log(10.0))
    slope_err = float(abs(per_decade[-1] - 1.0))
    vacuous = bool(np.all(np.isinf(r.point_mcallester)) and np.all(r.point_kl_inverse >= 1.0))
    finite = bool(np.all(r.best_bound < 1.0))
    covers = float(np.mean(r.best_bound >= r.true_risk))
    ok = kl_err <= KL_TOL and slope_err <= SLOPE_TOL and vacuous and finite
    return Verdict(
        "P4",
        "holds" if ok else "fails",
        predicted="point mass: KL = ∞, bound vacuous; Gaussian: KL = ‖φ−θ‖²/(2σ²), bound < 1",
        measured=f"point mass: McAllester ∞, kl-inverse 1 on {r.best_bound.size} tasks; Gaussian: "
        f"bound {r.best_bound.mean():.3f} (max {r.best_bound.max():.3f}) vs true risk "
        f"{r.true_risk.mean():.3f}; KL rel. err {kl_err:.1e}",
        tolerance=f"{KL_TOL:g} KL identity, {SLOPE_TOL:g} on the divergence rate d ln 10/decade",
        control=f"KL = ‖φ−θ‖²/σ² (½ dropped): rel. err ≥ {wrong_err:.2g}",
        control_rejected=bool(wrong_err > KL_TOL),
        numbers={
            "klerr": kl_err,
            "slopeerr": slope_err,
            "bound": float(r.best_bound.mean()),
            "boundmax": float(r.best_bound.max()),
            "truerisk": float(r.true_risk.mean()),
            "emp": float(np.mean(r.emp[np.arange(r.emp.shape[0]), np.argmin(r.bound, 1)])),
            "pointemp": float(r.point_emp.mean()),
            "pointtrue": float(r.point_true.mean()),
            "covers": covers,
            "tasks": r.best_bound.size,
            "d": r.d,
            "m": r.m,
            "dist": float(np.sqrt(r.dist2).mean()),
            "sigma": float(np.median(r.best_sigma)),
            "control": wrong_err,
        },
        evidence=r,
    )


@renders("P4")
def render_p4(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    fig, (a1, a2) = report.plt.subplots(1, 2, figsize=(7.2, 2.9))
    b, e = r.bound.mean(0), r.emp.mean(0)
    a1.semilogx(r.sigmas, b, "o-", ms=3, label="kl-inverse bound, Gaussian $Q$")
    a1.semilogx(r.sigmas, e, "s-", ms=3, label=r"empirical risk of $Q$")
    a1.axhline(1.0, color="k", ls="--", lw=1, label="point mass: vacuous")
    a1.axhline(r.true_risk.mean(), color="C2", ls=":", label="true risk (best $\\sigma$)")
    a1.set_xlabel(r"posterior = prior scale $\sigma$")
    a1.set_ylabel("risk / bound")
    a1.set_ylim(0, 1.08)
    a1.legend(fontsize=6.5, loc="center right")
    a2.semilogx(r.shrink, r.shrink_kl, "o-", ms=3, label=r"KL$(N(\phi,s^2 I)\|N(\theta, I))$")
    a2.set_xlabel(r"$s$ (→ 0: point mass)")
    a2.set_ylabel("KL")
    a2.invert_xaxis()
    a2.legend(fontsize=7, loc="upper left")
    report.savefig(fig, outdir, "p4-softened")


@claim(
    "P5",
    stem="learned_prior",
    statement="Learning the prior (hyperposterior) by minimizing the Amit–Meir bound lowers it "
    "versus a fixed prior.",
    source="Amit & Meir 2018, Sec. 4; Pentina & Lampert 2014",
)
def check_p5(preset: str) -> Verdict:
    r = ex.learned_prior(_q(preset, ex.PRIOR_QUICK, ex.PRIOR_FULL), jax.random.key(17))
    diff = stats.mean_ci(r.learned_bound - r.fixed_bound, level=PRIOR_LEVEL)
    diff_ctl = stats.mean_ci(r.ascent_bound - r.fixed_bound, level=PRIOR_LEVEL)
    ok = diff.high < 0 and bool(np.all(r.learned_bound < r.fixed_bound))
    return Verdict(
        "P5",
        "holds" if ok else "fails",
        predicted="learned bound < fixed-prior bound",
        measured=f"bound {r.fixed_bound.mean():.3f} (fixed) → {r.learned_bound.mean():.3f} "
        f"(learned), difference {diff}; transfer risk {r.fixed_transfer.mean():.3f} → "
        f"{r.learned_transfer.mean():.3f}",
        tolerance=f"{PRIOR_LEVEL:g} t-interval of the difference below 0; every draw lower",
        control=f"the same Adam run ascending the bound: difference {diff_ctl.mean:.3g} "
        f"(lower limit {diff_ctl.low:.3g})",
        control_rejected=bool(not (diff_ctl.high < 0)),
        numbers={
            "fixed": float(r.fixed_bound.mean()),
            "learned": float(r.learned_bound.mean()),
            "diff": diff.mean,
            "difflow": diff.low,
            "diffhigh": diff.high,
            "fixedrisk": float(r.fixed_transfer.mean()),
            "learnedrisk": float(r.learned_transfer.mean()),
            "nu": float(r.nu.mean()),
            "kappa": float(r.kappa.mean()),
            "mu": r.mu0,
            "draws": r.fixed_bound.size,
            "ntasks": r.n_tasks,
            "fixedemp": float(r.fixed_terms[0]),
            "fixedtask": float(r.fixed_terms[1]),
            "fixedmeta": float(r.fixed_terms[2]),
            "learnedemp": float(r.learned_terms[0]),
            "learnedtask": float(r.learned_terms[1]),
            "learnedmeta": float(r.learned_terms[2]),
        },
        evidence=r,
    )


@renders("P5")
def render_p5(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(4.6, 3.0))
    ax.plot(np.arange(1, r.curve.size + 1), r.curve, label="bound during Adam (draw 0)")
    ax.axhline(r.fixed_bound[0], color="k", ls="--", lw=1, label="fixed prior (draw 0)")
    ax.set_xscale("log")
    ax.set_xlabel("Adam step")
    ax.set_ylabel("Amit–Meir bound")
    ax.legend(fontsize=7, loc="upper right")
    report.savefig(fig, outdir, "p5-learned-prior")
