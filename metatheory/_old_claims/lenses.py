"""Ledger rows of the Bayesian lens (B1 GP oracle, B2 neural processes) and the metric lens
(M1 prototypes are linear classifiers, M2 Bregman centres, M3 5-way 5-shot clusters)."""

from __future__ import annotations

import jax
import numpy as np

from metatheory import stats
from metatheory.claims import Verdict, claim, renders
from metatheory.experiments import neural_process as npx
from metatheory.experiments import protonet as pnx

# --------------------------------------------------------------------------- tolerances

ORACLE_TOL = 1e-9
"""B1, float64: κ(K_CC + σ_n²I) ≤ 1 + n s²/σ_n² ≈ 6e3 at n = 60, so a backward-stable solve is
accurate to ~κε ≈ 1e-12; the variance s² − k_*ᵀ(K+σ²I)⁻¹k_* cancels down to ≥ σ_n², which
amplifies relative errors by ≤ (s² + σ_n²)/σ_n² = 101: ~1e-10. 1e-9 keeps a margin and is far
below the control (σ_n² left out of the variance: ≥ 1e-2)."""
CALIBRATION_LEVEL = 0.999
"""B1: the 99.9% t-interval of E[z²] over held-out targets must contain 1 (false alarm 0.1% for
a fresh key; the key is fixed)."""
GAP_FRACTION = 0.5
"""B2: an NP's held-out NLL must close at least half of the distance from the context-blind GP
prior to the exact GP posterior (averaged over context sizes 1..25): nearer the oracle than the
prior. A model that ignores the context scores 0, the oracle 1. Tested per task with a paired
99.9% interval (false alarm 0.1%)."""
PLATEAU_FRACTION = 0.2
"""B2: the NLL's fitted slope per added context point for n ≥ 15 must be flatter than a fifth
of the slope for n ≤ 4 (CI bound): diminishing returns once the context covers the input range
(≈ 4/0.6 ≈ 7 lengthscales). The exact GP's own ratio here is ≈ 0.05."""
LEVEL = 0.999
"""Confidence level of the B2/M3 intervals: 0.1% false alarm per interval with a fresh key."""
TREND_LEVEL = 0.95
"""B2/M3 training trends: 95% slope interval of the window-mean loss against log(step). The
windows are serially correlated, so the interval is indicative (it only has to exclude 0)."""
PROB_TOL = 1e-12
"""M1, float64: two softmaxes of logits that differ by a per-row constant agree to rounding
(~1e-16 per logit of size ≤ 1e2); 1e-12 is generous; the control's error is O(1)."""
TEST_TOL = 5e-7
"""M1: the test value is quoted to six decimals in CLAIMS.md (half a unit in the last digit)."""
MIN_TOL = 1e-6
"""M2: L-BFGS-B with gtol 1e-12 on an objective of curvature ~n/μ² stops within ~1e-8 relative
of the stationary point; 1e-6 leaves a margin and is far below the mean–median gap of skewed
data (control)."""
GRAD_TOL = 1e-12
"""M2: the gradient of Σ D_φ(x_i, μ) at the mean is −∇²φ(μ) Σ(x_i − μ), zero up to float64
rounding of the sum (relative to the gradient at the start point)."""
ACC_MARGIN = 0.05
"""M3: a trained network must classify held-out queries no more than 5 points worse than the
nearest-centroid rule in input space, which for isotropic Gaussian classes of equal variance is
the plug-in Bayes rule (M1: prototypes are its linear discriminants). Paired 99.9% interval."""


def _quick(preset):
    return preset != "full"


# --------------------------------------------------------------------------- B1


@claim(
    "B1",
    stem="gp_oracle",
    statement="The exact GP posterior predictive (RBF kernel, Cholesky) is the reference "
    "predictive of the GP task family.",
    source="Rasmussen & Williams 2006, Eq. 2.23-2.24; Garnelo et al. 2018",
)
def check_b1(preset: str) -> Verdict:
    cfg = npx.ORACLE_QUICK if _quick(preset) else npx.ORACLE_FULL
    r = npx.gp_oracle(cfg, jax.random.key(80))
    worst = max(
        r.err_mean.max(),
        r.err_var.max(),
        r.err_logpdf.max(),
        r.err_solve.max(),
        r.err_mask,
        r.err_joint,
    )
    calibrated = r.z2.low <= 1.0 <= r.z2.high
    ok = worst <= ORACLE_TOL and calibrated
    rejected = r.control_err.min() > ORACLE_TOL and not (r.z2_control.low <= 1 <= r.z2_control.high)
    return Verdict(
        "B1",
        "holds" if ok else "fails",
        predicted="Cholesky = dense inverse = solve (float64); E[z²] = 1 on held-out targets",
        measured=f"max rel. err {worst:.1e} (mean, var, log density, joint, mask; "
        f"n ≤ {r.context_sizes.max()}); E[z²] = {r.z2}",
        tolerance=f"{ORACLE_TOL:g}; 99.9% CI contains 1",
        control=f"σ_n² left out: rel. err ≥ {r.control_err.min():.2g}; noise/"
        f"{cfg.wrong_noise_factor:g}: E[z²] = {r.z2_control}",
        control_rejected=bool(rejected),
        numbers={
            "err": worst,
            "errmean": r.err_mean.max(),
            "errvar": r.err_var.max(),
            "errjoint": r.err_joint,
            "nmax": int(r.context_sizes.max()),
            "ztwo": r.z2.mean,
            "ztwolow": r.z2.low,
            "ztwohigh": r.z2.high,
            "control": r.control_err.min(),
            "ztwocontrol": r.z2_control.mean,
        },
        evidence=r,
    )


@renders("B1")
def render_b1(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(5, 3.0))
    n = r.context_sizes
    floor = 1e-17
    for arr, lab, mk in (
        (r.err_mean, "mean vs dense inverse", "o-"),
        (r.err_var, "variance vs dense inverse", "s-"),
        (r.err_logpdf, "log density", "^-"),
        (r.err_solve, "mean vs scipy solve", "d-"),
    ):
        ax.loglog(n, np.maximum(arr, floor), mk, label=lab)
    ax.loglog(n, r.control_err, "x--", label=r"control: $\sigma_n^2$ left out")
    ax.axhline(ORACLE_TOL, color="k", ls=":", lw=0.8, label="tolerance")
    ax.set_xlabel("context size $n$")
    ax.set_ylabel("max relative error")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    report.savefig(fig, outdir, "b1-gp-oracle")


# --------------------------------------------------------------------------- B2


def _gap_stat(nll, r, sel):
    """Per task: ½(prior + oracle) − model NLL, averaged over the selected context sizes (> 0
    iff the model closes more than half of the prior-to-oracle distance)."""
    return (0.5 * (r.prior_nll[:, None] + r.gp_nll) - nll)[:, sel].mean(1)


def _recovery(nll, r, sel):
    prior = r.prior_nll[:, None]
    return float((prior - nll)[:, sel].mean() / (prior - r.gp_nll)[:, sel].mean())


def _segments(nll, sizes, first, last):
    t = nll.shape[0]
    f, g = sizes <= first, sizes >= last
    a = stats.linear_fit(np.tile(sizes[f], t), nll[:, f].ravel(), level=TREND_LEVEL)
    b = stats.linear_fit(np.tile(sizes[g], t), nll[:, g].ravel(), level=TREND_LEVEL)
    return a, b


def _decreases_and_plateaus(a, b):
    return a.ci_high < 0 and b.ci_low >= PLATEAU_FRACTION * a.slope


@claim(
    "B2",
    stem="neural_processes",
    statement="CNP and latent NP trained on GP tasks: the training loss decreases, held-out NLL "
    "is within a stated gap of the GP oracle, NLL falls with context size and plateaus; "
    "ELBO ≤ log-likelihood.",
    source="Garnelo et al. 2018a,b; Kim et al. 2019",
    expected="holds-with-correction",
)
def check_b2(preset: str) -> Verdict:
    cfg = npx.QUICK if _quick(preset) else npx.FULL
    r = npx.neural_processes(cfg, jax.random.key(81))
    sizes = r.context_sizes
    sel = sizes >= 1
    rows, numbers = {}, {}
    for m in cfg.models:
        gap = stats.mean_ci(_gap_stat(r.nll[m], r, sel), level=LEVEL)
        a, b = _segments(r.nll[m], sizes, cfg.first_segment, cfg.last_segment)
        rows[m] = {
            "trend": r.trend[m].ci_high < 0,
            "gap": gap.low > 0,
            "shape": _decreases_and_plateaus(a, b),
        }
        numbers |= {
            f"{m}slope": r.trend[m].slope,
            f"{m}slopehigh": r.trend[m].ci_high,
            f"{m}recovery": _recovery(r.nll[m], r, sel),
            f"{m}excess": float((r.nll[m] - r.gp_nll)[:, sel].mean()),
            f"{m}first": a.slope,
            f"{m}last": b.slope,
            f"{m}ratio": b.slope / a.slope,
            f"{m}final": float(r.nll[m][:, -1].mean()),
        }
    elbo_gap = stats.mean_ci(r.loglik_is - r.elbo, level=LEVEL)
    leaky_gap = stats.mean_ci(r.loglik_is - r.leaky, level=LEVEL)
    ga, gb = _segments(r.gp_nll, sizes, cfg.first_segment, cfg.last_segment)
    numbers |= {
        "gpfinal": float(r.gp_nll[:, -1].mean()),
        "priornll": float(r.prior_nll.mean()),
        "gpratio": gb.slope / ga.slope,
        "elbo": float(r.elbo.mean()),
        "loglik": float(r.loglik_is.mean()),
        "elbogap": elbo_gap.mean,
        "elbogaplow": elbo_gap.low,
        "leakygap": leaky_gap.mean,
        "gpjoint": float(r.gp_joint.mean()),
        "steps": cfg.steps,
        "ncmax": int(sizes.max()),
        "tasks": cfg.n_eval_tasks,
    }

    # negative controls, each through the same test as the claim
    asc_rejected = not (r.ascent_trend.ci_high < 0)
    ua, ub = _segments(r.untrained_nll, sizes, cfg.first_segment, cfg.last_segment)
    untrained_gap = stats.mean_ci(_gap_stat(r.untrained_nll, r, sel), level=LEVEL)
    wrong_gap = stats.mean_ci(_gap_stat(r.wrong_gp_nll, r, sel), level=LEVEL)
    rejected = (
        asc_rejected
        and not untrained_gap.low > 0
        and not wrong_gap.low > 0
        and not _decreases_and_plateaus(ua, ub)
        and not leaky_gap.low > 0
    )
    numbers |= {
        "ascentslope": r.ascent_trend.slope,
        "untrainedrecovery": _recovery(r.untrained_nll, r, sel),
        "wrongrecovery": _recovery(r.wrong_gp_nll, r, sel),
        "wrongfactor": cfg.wrong_lengthscale_factor,
    }

    trains = all(rows[m]["trend"] and rows[m]["shape"] for m in cfg.models)
    elbo_ok = elbo_gap.low > 0
    pooled = [m for m in cfg.models if m != "anp"]
    if not (trains and elbo_ok and rows.get("anp", {"gap": True})["gap"]):
        verdict = "fails"
    elif all(rows[m]["gap"] for m in pooled):
        verdict = "holds"
    else:
        verdict = "holds-with-correction"
    rec = ", ".join(f"{m.upper()} {numbers[f'{m}recovery']:.2f}" for m in cfg.models)
    short = [m.upper() for m in pooled if not rows[m]["gap"]]
    note = ""
    if short:
        note = (
            f"Mean-pooled {' and '.join(short)} train (loss falls) and improve with context, but "
            f"plateau far above the GP oracle. Fractions of the prior-to-oracle NLL gap closed: "
            f"{rec} (required ≥ {GAP_FRACTION}); only attention meets the stated gap "
            f"(the underfitting of Kim et al. 2019), after {cfg.steps} Adam steps."
        )
    return Verdict(
        "B2",
        verdict,
        predicted=f"loss slope < 0; NLL closes ≥ {GAP_FRACTION} of the prior-to-oracle gap; "
        "NLL falls and plateaus; ELBO < log-lik.",
        measured=f"fraction closed: {rec}; loss slopes "
        + ", ".join(f"{r.trend[m].slope:.3f}" for m in cfg.models)
        + f"; log-lik − ELBO = {elbo_gap} nats/target",
        tolerance=f"{LEVEL:.1%} CIs; plateau slope ≤ {PLATEAU_FRACTION} × initial",
        control=f"sign-flipped training slope {r.ascent_trend.slope:+.2g}; untrained CNP closes "
        f"{numbers['untrainedrecovery']:.2f}; GP with ℓ×{cfg.wrong_lengthscale_factor:g} closes "
        f"{numbers['wrongrecovery']:.2f}; targets leaked into r: log-lik − bound = {leaky_gap}",
        control_rejected=bool(rejected),
        numbers=numbers,
        note=note,
        evidence=r,
    )


_COLORS = {"gp": "k", "cnp": "C0", "lnp": "C1", "anp": "C2"}
_LABELS = {"gp": "exact GP", "cnp": "CNP", "lnp": "latent NP", "anp": "attentive CNP"}


@renders("B2")
def render_b2(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    models = list(r.nll)
    # predictive bands against the GP posterior
    nt, nb = r.band["gp"].shape[:2]
    fig, axes = report.plt.subplots(nb, nt, figsize=(3.2 * nt, 2.5 * nb), sharex=True)
    axes = np.atleast_2d(axes)
    for j in range(nb):
        for t in range(nt):
            ax = axes[j, t]
            g = r.band["gp"][t, j]
            ax.fill_between(
                r.band_x, g[0] - 2 * g[1], g[0] + 2 * g[1], color="0.85", label="GP ±2σ"
            )
            ax.plot(r.band_x, g[0], "k-", lw=1.2, label="GP mean")
            for m in models:
                b = r.band[m][t, j]
                ax.plot(r.band_x, b[0], color=_COLORS[m], lw=1, label=_LABELS[m])
                ax.plot(r.band_x, b[0] + 2 * b[1], color=_COLORS[m], lw=0.6, ls="--")
                ax.plot(r.band_x, b[0] - 2 * b[1], color=_COLORS[m], lw=0.6, ls="--")
            n = int(r.band_n[j])
            ax.plot(r.band_ctx[t, :n, 0], r.band_ctx[t, :n, 1], "ko", ms=3.5, label="context")
            ax.plot(r.band_tgt[t, :, 0], r.band_tgt[t, :, 1], "r+", ms=4, label="held-out targets")
            ax.set_title(f"task {t + 1}, {n} context points", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=6, loc="upper center", bbox_to_anchor=(1.6, 1.45), ncol=4)
    report.savefig(fig, outdir, "b2-np-bands")

    # NLL against context size
    fig, ax = report.plt.subplots(figsize=(5, 3.4))
    n = r.context_sizes
    ax.plot(n, r.gp_nll.mean(0), "k-o", ms=3, label="exact GP (oracle)")
    for m in models:
        ax.plot(n, r.nll[m].mean(0), "-o", ms=3, color=_COLORS[m], label=_LABELS[m])
    ax.axhline(r.prior_nll.mean(), color="0.5", ls=":", label="GP prior (no context)")
    half = 0.5 * (r.prior_nll.mean() + r.gp_nll.mean(0))
    ax.plot(n, half, color="0.5", ls="--", lw=0.8, label="half-way: prior → oracle")
    ax.plot(n, r.untrained_nll.mean(0), "x:", color="C3", ms=3, label="control: untrained CNP")
    ax.set_ylim(r.gp_nll.mean(0).min() - 0.2, max(r.prior_nll.mean(), r.untrained_nll.mean()) + 0.3)
    ax.set_xlabel("context size $n$")
    ax.set_ylabel("held-out NLL per target (nats)")
    ax.legend(fontsize=6.5, loc="upper right")
    report.savefig(fig, outdir, "b2-nll-context")

    # training losses
    fig, (ax, ax2) = report.plt.subplots(1, 2, figsize=(7.5, 2.8))
    for m in models:
        ax.semilogx(r.steps, r.loss[m], color=_COLORS[m], label=_LABELS[m])
        fit = r.trend[m]
        s = r.steps[1:]
        ax.semilogx(s, fit.intercept + fit.slope * np.log(s), color=_COLORS[m], ls=":", lw=0.8)
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss per target")
    ax.set_title("NLL (CNPs) / −ELBO (latent NP); dotted: fits", fontsize=8)
    ax.set_ylim(min(r.loss[m].min() for m in models) - 0.1, 2.0)
    ax.legend(fontsize=7)
    ax2.semilogy(np.arange(1, len(r.ascent_loss) + 1), r.ascent_loss, "C3x-", ms=3)
    ax2.set_xlabel("window (10 steps)")
    ax2.set_title("control: CNP with the sign flipped", fontsize=8)
    report.savefig(fig, outdir, "b2-training")


# --------------------------------------------------------------------------- M1


@claim(
    "M1",
    stem="protonet_linear",
    statement="Softmax over −‖f(x) − c_k‖² equals a linear classifier with w_k = 2c_k, "
    "b_k = −‖c_k‖².",
    source="Snell et al. 2017, Sec. 2.4",
)
def check_m1(preset: str) -> Verdict:
    import sympy as sp

    from metatheory.symbolic.protonet import derive_linear, test_value

    cfg = pnx.LINEAR_QUICK if _quick(preset) else pnx.LINEAR_FULL
    r = pnx.linear_equivalence(cfg, jax.random.key(82))
    exact = np.array([float(sp.N(p, 17)) for p in test_value()])
    expansion, softmax_res = derive_linear(2, 2)
    symbolic_ok = expansion == 0 and softmax_res == 0
    test_err = float(np.max(np.abs(r.p_test_dist - exact)))
    lin_err = float(np.max(np.abs(r.p_test_linear - exact)))
    ok = (
        symbolic_ok
        and test_err <= TEST_TOL
        and lin_err <= TEST_TOL
        and r.err_prob <= PROB_TOL
        and r.err_shift <= PROB_TOL
    )
    ctl_test = float(np.max(np.abs(r.p_test_control - exact)))
    rejected = r.err_control > PROB_TOL and ctl_test > TEST_TOL
    return Verdict(
        "M1",
        "holds" if ok else "fails",
        predicted="p = (0.982014, 0.017986) both ways; equal softmaxes",
        measured=f"p = ({r.p_test_dist[0]:.6f}, {r.p_test_dist[1]:.6f}) distance, "
        f"({r.p_test_linear[0]:.6f}, {r.p_test_linear[1]:.6f}) linear; max |Δp| {r.err_prob:.1e} "
        f"over {cfg.n_episodes} MLP episodes; sympy residual 0",
        tolerance=f"{PROB_TOL:g} (float64); test value {TEST_TOL:g}",
        control=f"b_k = +‖c_k‖²: p_0 = {r.p_test_control[0]:.2g}, max |Δp| {r.err_control:.2g}",
        control_rejected=bool(rejected),
        numbers={
            "pzero": r.p_test_dist[0],
            "pone": r.p_test_dist[1],
            "linpzero": r.p_test_linear[0],
            "err": r.err_prob,
            "shift": r.err_shift,
            "controlpzero": r.p_test_control[0],
            "control": r.err_control,
            "episodes": cfg.n_episodes,
        },
        evidence=r,
    )


@renders("M1")
def render_m1(v: Verdict, outdir):
    from metatheory import report
    from metatheory.symbolic.protonet import latex_linear

    report.write_equation(outdir, "m1", latex_linear())


# --------------------------------------------------------------------------- M2


@claim(
    "M2",
    stem="bregman_mean",
    statement="The mean minimizes Σ_i D_φ(x_i, μ) for squared Euclidean, generalized KL and "
    "Itakura–Saito; for L1 the minimizer is the median.",
    source="Banerjee et al. 2005, Prop. 1; Snell et al. 2017, Sec. 2.3",
)
def check_m2(preset: str) -> Verdict:
    import sympy as sp

    from metatheory.symbolic.protonet import GENERATORS, derive_bregman_condition, derive_centre

    cfg = pnx.BREGMAN_QUICK if _quick(preset) else pnx.BREGMAN_FULL
    r = pnx.bregman_centres(cfg, jax.random.key(83))
    grad, factored = derive_bregman_condition()
    symbolic_ok = sp.simplify(grad - factored) == 0 and all(
        (lambda s: len(s[0]) == 1 and sp.simplify(s[0][0] - s[1]) == 0)(derive_centre(n))
        for n in GENERATORS
    )
    ok = symbolic_ok and r.err_min.max() <= MIN_TOL and r.grad_at_mean.max() <= GRAD_TOL
    # control: L1 (not a Bregman divergence): the minimizer is the median, not the mean
    rejected = r.l1_vs_mean > MIN_TOL and r.l1_vs_median <= MIN_TOL and r.l1_subgrad_at_mean >= 1
    names = dict(zip(r.names, range(len(r.names)), strict=True))
    return Verdict(
        "M2",
        "holds" if ok else "fails",
        predicted="argmin_μ Σ D_φ(x_i, μ) = mean; ∇ = 0 at the mean",
        measured=f"max rel. |argmin − mean| {r.err_min.max():.1e} over {cfg.n_datasets} "
        f"datasets × 3 divergences; max ∇ at mean {r.grad_at_mean.max():.1e}",
        tolerance=f"{MIN_TOL:g} (L-BFGS-B), {GRAD_TOL:g} (float64)",
        control=f"L1: argmin vs median {r.l1_vs_median:.1e}, vs mean ≥ {r.l1_vs_mean:.2f}",
        control_rejected=bool(rejected),
        numbers={
            "err": r.err_min.max(),
            "errsq": r.err_min[names["sqeuclid"]],
            "errkl": r.err_min[names["genkl"]],
            "erris": r.err_min[names["itakurasaito"]],
            "grad": r.grad_at_mean.max(),
            "revkl": r.err_reverse[names["genkl"]],
            "revis": r.err_reverse[names["itakurasaito"]],
            "lmedian": r.l1_vs_median,
            "lmean": r.l1_vs_mean,
            "subgrad": r.l1_subgrad_at_mean,
            "datasets": cfg.n_datasets,
            "points": cfg.n_points,
        },
        evidence=r,
    )


@renders("M2")
def render_m2(v: Verdict, outdir):
    from metatheory import report
    from metatheory.symbolic.protonet import latex_bregman_condition

    report.write_equation(outdir, "m2", latex_bregman_condition())
    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(5, 3.0))
    labels = {
        "sqeuclid": "squared Euclidean",
        "genkl": "generalized KL",
        "itakurasaito": "Itakura–Saito",
        "l1": "L1 (control)",
    }
    for name, (g, f) in r.example_curves.items():
        f = (f - f.min()) / (f.max() - f.min())
        ax.plot(g, f, ls="--" if name == "l1" else "-", label=labels[name])
    ax.axvline(r.example.mean(), color="k", lw=1, label="mean")
    ax.axvline(np.median(r.example), color="k", lw=1, ls=":", label="median")
    g = r.example_curves["l1"][0]
    inside = r.example[(r.example >= g[0]) & (r.example <= g[-1])]
    ax.plot(inside, np.zeros_like(inside) - 0.03, "k|", ms=8)
    ax.set_xlim(g[0], g[-1])
    ax.set_xlabel(r"centre $\mu$ (one coordinate; ticks: data)")
    ax.set_ylabel(r"$\sum_i D(x_i,\mu)$, rescaled to [0, 1]")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    report.savefig(fig, outdir, "m2-bregman")


# --------------------------------------------------------------------------- M3


@claim(
    "M3",
    stem="protonet_clusters",
    statement="On 5-way 5-shot 2-D Gaussian clusters, prototypical and matching networks trained "
    "over tasks classify held-out queries as well as the nearest-centroid (plug-in Bayes) rule.",
    source="Snell et al. 2017; Vinyals et al. 2016",
)
def check_m3(preset: str) -> Verdict:
    cfg = pnx.QUICK if _quick(preset) else pnx.FULL
    r = pnx.clusters(cfg, jax.random.key(84))
    diffs = {
        n: stats.mean_ci(r.acc[n] - r.acc["centroid"], level=LEVEL)
        for n in ("proto", "matching", "control")
    }
    passes = {n: d.low > -ACC_MARGIN for n, d in diffs.items()}
    ok = passes["proto"] and passes["matching"]
    chance = 1.0 / cfg.n_way
    rejected = not passes["control"]
    ci = r.ci
    return Verdict(
        "M3",
        "holds" if ok else "fails",
        predicted=f"accuracy ≥ nearest centroid − {ACC_MARGIN} (paired)",
        measured=f"proto {ci['proto']}, matching {ci['matching']}, centroid "
        f"{ci['centroid'].mean:.3f}, Bayes {ci['bayes'].mean:.3f} ({cfg.n_eval} tasks)",
        tolerance=f"{ACC_MARGIN} below centroid, {LEVEL:.1%} CI",
        control=f"support labels permuted: {ci['control']} (chance {chance:.2f})",
        control_rejected=bool(rejected),
        numbers={
            "proto": ci["proto"].mean,
            "protolow": ci["proto"].low,
            "protohigh": ci["proto"].high,
            "matching": ci["matching"].mean,
            "matchinglow": ci["matching"].low,
            "matchinghigh": ci["matching"].high,
            "centroid": ci["centroid"].mean,
            "bayes": ci["bayes"].mean,
            "control": ci["control"].mean,
            "controlhigh": ci["control"].high,
            "diffproto": diffs["proto"].mean,
            "diffprotolow": diffs["proto"].low,
            "diffmatching": diffs["matching"].mean,
            "diffmatchinglow": diffs["matching"].low,
            "tasks": cfg.n_eval,
            "steps": cfg.steps,
        },
        evidence=r,
    )


@renders("M3")
def render_m3(v: Verdict, outdir):
    from matplotlib.colors import ListedColormap

    from metatheory import report

    r = v.evidence
    xs, ys, xq, yq, centres = r.example
    cmap = ListedColormap(["#c6dbef", "#fdd0a2", "#c7e9c0", "#dadaeb", "#fcbba1"])
    pcols = ["#08519c", "#d94801", "#238b45", "#54278f", "#cb181d"]
    titles = {
        "proto": "prototypical network",
        "matching": "matching network",
        "centroid": "nearest centroid (input space)",
    }
    fig, axes = report.plt.subplots(1, 3, figsize=(10, 3.5), sharey=True)
    g = r.grid_x
    for ax, name in zip(axes, titles, strict=True):
        ax.pcolormesh(g, g, r.regions[name], cmap=cmap, shading="auto", vmin=-0.5, vmax=4.5)
        for k in range(len(pcols)):
            ax.scatter(*xs[ys == k].T, s=14, color=pcols[k], edgecolor="k", lw=0.4)
            ax.scatter(*xq[yq == k].T, s=5, color=pcols[k], alpha=0.5)
        ax.scatter(*r.prototypes.T, marker="*", s=120, color="w", edgecolor="k", lw=0.8)
        ax.scatter(*centres.T, marker="x", s=40, color="k")
        ax.set_title(f"{titles[name]}: acc {r.acc[name][0]:.2f}", fontsize=8)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    report.savefig(fig, outdir, "m3-regions")

    fig, ax = report.plt.subplots(figsize=(5, 2.6))
    names = ["bayes", "centroid", "proto", "matching", "control"]
    lab = [
        "Bayes\n(true centres)",
        "nearest\ncentroid",
        "prototypical",
        "matching",
        "control:\npermuted",
    ]
    means = [r.ci[n].mean for n in names]
    err = [
        [r.ci[n].mean - r.ci[n].low for n in names],
        [r.ci[n].high - r.ci[n].mean for n in names],
    ]
    ax.bar(lab, means, yerr=err, color=["0.6", "0.75", "C0", "C1", "C3"], capsize=3)
    ax.axhline(0.2, color="k", ls=":", lw=0.8, label="chance")
    ax.set_ylabel("held-out query accuracy")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    report.savefig(fig, outdir, "m3-accuracy")
