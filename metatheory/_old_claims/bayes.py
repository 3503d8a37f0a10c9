"""Ledger rows H1 (early stopping is a Gaussian prior) and H2 (MAML as empirical Bayes)."""

from __future__ import annotations

import jax
import numpy as np

from metatheory import stats
from metatheory.bounds import grant_prior_precision
from metatheory.claims import Verdict, claim, renders
from metatheory.experiments import bayes as ex

EXACT_TOL = 1e-12
"""GD iterate vs MAP in float64, relative to ||theta_hat|| + ||theta_0||: at most 40 steps of
O(eps) rounding plus one small solve with cond(Q) <~ 1e3 (see PriorConfig) stay below ~1e-13."""
SLOPE_BAND = 0.1
"""Series orders: the fitted log-log slope of a truncation error may differ from its order by
the next term's relative size, (h/2) alpha <= 0.05 on the grid; 0.1 leaves margin, and the
wrong orders it must reject differ by 1."""
LEVEL = 0.999
"""Confidence level of the slope intervals (a deterministic grid, so this only widens them)."""
EB_TOL = 1e-8
"""The MAML minimizer by one Newton step with the autodiff Hessian M H M, M = (I - alpha H)^N:
with alpha lambda_max up to 0.9 its condition number reaches ~1e6, so float64 solves are good
to ~1e-10; 1e-8 leaves margin and still rejects the O(1e-2) gaps of the control."""


def _band(fit: stats.SlopeFit, order: float) -> bool:
    """The slope's CI overlaps ``order ± SLOPE_BAND``."""
    return fit.ci_low <= order + SLOPE_BAND and fit.ci_high >= order - SLOPE_BAND


def _series(r):
    """Truncation errors of the derived series and their predicted next terms."""
    from metatheory.symbolic import grant as sg

    cs = sg.series_coefficients(3)
    val = {k: float(v.subs({sg.h: r.series_h, sg.N: r.series_n})) for k, v in cs.items()}
    a, lam = r.series_alphas, r.series_lambda
    two = val[-1] / a + val[0]
    e1 = np.abs(lam - two)
    e2 = np.abs(lam - two - val[1] * a)
    wrong = np.abs(lam - (val[-1] / a - r.series_h / 2))  # control: c_0 = -h/2 (no (N+1)/N)
    return val, e1, e2, wrong


@claim(
    "H1",
    stem="grant_implicit_prior",
    statement="N GD steps on a quadratic equal the MAP under N(θ0, 1/λ), "
    "λ = h(1−αh)^N/(1−(1−αh)^N); matrix form Q = OΛ^{-1}((I−αΛ)^{-N}−I)Oᵀ; "
    "λ = 1/(αN) − (N+1)h/(2N) + O(α).",
    source="Grant et al. 2018, Sec. 3.1 (after Santos 1996)",
)
def check_h1(preset: str) -> Verdict:
    cfg = ex.PRIOR_FULL if preset == "full" else ex.PRIOR_QUICK
    r = ex.implicit_prior(cfg, jax.random.key(30))
    worst = max(r.scalar_err.max(), r.matrix_err.max(), r.regression_err.max())
    val, e1, e2, wrong = _series(r)
    f1 = stats.loglog_slope(r.series_alphas, e1, level=LEVEL)
    f2 = stats.loglog_slope(r.series_alphas, e2, level=LEVEL)
    fw = stats.loglog_slope(r.series_alphas, wrong, level=LEVEL)
    # the next term predicts the error: e1 / (c_1 alpha) -> 1 as alpha -> 0
    ratio = e1[0] / (val[1] * r.series_alphas[0])
    ok = worst <= EXACT_TOL and _band(f1, 1) and _band(f2, 2)
    ctl_min = min(r.scalar_control.min(), r.matrix_control.min())
    rejected = ctl_min > EXACT_TOL and not _band(fw, 1)
    test_lam = float(grant_prior_precision(2.0, 0.01, 5))
    return Verdict(
        "H1",
        "holds" if ok else "fails",
        predicted="GD = MAP exactly; truncation errors O(α) and O(α²)",
        measured=f"max rel. err {worst:.1e} ({r.scalar_err.size} 1-D, {r.matrix_err.size} "
        f"d={cfg.d}, {r.regression_err.size} regression); error slopes {f1} and {f2}; "
        f"error / next term = {ratio:.5f} at α={r.series_alphas[0]:g}",
        tolerance=f"{EXACT_TOL:g}; slope CI ({LEVEL:g}) within ±{SLOPE_BAND:g} of the order",
        control=f"leading-order prior λ=1/(αN) (Q=αN·I): rel. err ≥ {ctl_min:.2g}; "
        f"c_0 = −h/2: error slope {fw} (not 1)",
        control_rejected=bool(rejected),
        numbers={
            "scalar": r.scalar_err.max(),
            "matrix": r.matrix_err.max(),
            "regression": r.regression_err.max(),
            "nscalar": r.scalar_err.size,
            "nmatrix": r.matrix_err.size,
            "nregression": r.regression_err.size,
            "control": ctl_min,
            "slopeone": f1.slope,
            "slopeonelow": f1.ci_low,
            "slopeonehigh": f1.ci_high,
            "slopetwo": f2.slope,
            "slopetwolow": f2.ci_low,
            "slopetwohigh": f2.ci_high,
            "slopewrong": fw.slope,
            "ratio": ratio,
            "testlambda": test_lam,
        },
        evidence=r,
    )


@renders("H1")
def render_h1(v: Verdict, outdir):
    from metatheory import report
    from metatheory.symbolic import grant as sg

    report.write_equation(outdir, "h1-precision", sg.latex_precision())
    report.write_equation(outdir, "h1-series", sg.latex_series())
    report.write_equation(outdir, "h1-covariance", sg.latex_covariance())
    r = v.evidence
    val, e1, e2, wrong = _series(r)
    a = r.series_alphas
    fig, (ax, bx) = report.plt.subplots(1, 2, figsize=(9, 3.4))
    ax.loglog(a, r.series_lambda, "k-", lw=2, label=r"exact $\lambda$")
    ax.loglog(a, val[-1] / a, "--", label=r"$1/(\alpha N)$")
    ax.loglog(a, val[-1] / a + val[0], "-.", label="two terms")
    ax.loglog(a, val[-1] / a + val[0] + val[1] * a, ":", lw=2, label="three terms")
    ax.set_xlabel(r"inner step $\alpha$")
    ax.set_ylabel(r"prior precision $\lambda$")
    ax.set_title(f"h = {r.series_h:g}, N = {r.series_n}", fontsize=9)
    ax.legend(fontsize=7)
    bx.loglog(a, e1, "o", label="error of two terms")
    bx.loglog(a, abs(val[1]) * a, "-", color="C0", lw=0.8, label=r"next term $c_1\alpha$")
    bx.loglog(a, e2, "s", label="error of three terms")
    bx.loglog(a, abs(val[2]) * a**2, "-", color="C1", lw=0.8, label=r"next term $c_2\alpha^2$")
    bx.loglog(a, wrong, "x--", color="C3", label=r"control: $c_0=-h/2$")
    bx.set_xlabel(r"inner step $\alpha$")
    bx.set_ylabel("truncation error")
    bx.legend(fontsize=7)
    fig.tight_layout()
    report.savefig(fig, outdir, "h1-grant-prior")


@claim(
    "H2",
    stem="maml_empirical_bayes",
    statement="On quadratic tasks sharing H, the MAML objective is minimized at the mean of the "
    "task optima (the hyperprior mean).",
    source="Grant et al. 2018, Sec. 3",
)
def check_h2(preset: str) -> Verdict:
    cfg = ex.EB_FULL if preset == "full" else ex.EB_QUICK
    r = ex.empirical_bayes(cfg, jax.random.key(31))
    ok = r.err.max() <= EB_TOL
    return Verdict(
        "H2",
        "holds" if ok else "fails",
        predicted="argmin MAML objective = mean of task optima",
        measured=f"max rel. distance {r.err.max():.1e} over {len(r.err)} (αλ_max, N) settings, "
        f"{r.optima.shape[0]} tasks",
        tolerance=f"{EB_TOL:g} (float64 Newton step)",
        control=f"tasks with their own Hessians: distance ≥ {r.control.min():.2g}",
        control_rejected=bool(r.control.min() > EB_TOL),
        numbers={
            "err": r.err.max(),
            "control": r.control.min(),
            "settings": len(r.err),
            "tasks": r.optima.shape[0],
        },
        evidence=r,
    )


@renders("H2")
def render_h2(v: Verdict, outdir):
    from metatheory import report

    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(5, 4))
    ax.contour(r.grid_x, r.grid_y, np.log(r.grid_loss), levels=15, cmap="Greys", linewidths=0.6)
    ax.plot(r.optima[:, 0], r.optima[:, 1], "o", ms=4, color="C0", label="task optima")
    ax.plot(r.trajectory[:, 0], r.trajectory[:, 1], "-", color="C2", lw=1, label="Adam on MAML")
    ax.plot(*r.mean, "*", ms=16, color="C1", label="mean of optima")
    ax.plot(*r.minimizer, "x", ms=10, mew=2, color="k", label="MAML minimizer")
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
    a, n = r.settings[0]
    ax.set_title(
        rf"level sets of the MAML objective, $\alpha\lambda_{{max}}={a:g}$, $N={int(n)}$",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="best")
    report.savefig(fig, outdir, "h2-empirical-bayes")
