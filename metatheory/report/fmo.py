"""Figures of the FMO family (C1–C5), drawn from the stored evidence and verdict numbers
(slopes, intervals and bounds are computed once in the experiments and checks)."""

from __future__ import annotations

import numpy as np

from metatheory import report
from metatheory.bounds.fmo import fo_maml_floor
from metatheory.symbolic import fmo as sym


def _anchored(ax, x, y, slope, **kw):
    """A line of the stored ``slope`` through the geometric mean of the points ``(x, y)``."""
    lx, ly = np.log(x), np.log(y)
    xs = np.linspace(lx.min(), lx.max(), 50)
    ax.plot(np.exp(xs), np.exp(ly.mean() + slope * (xs - lx.mean())), **kw)


def render_c1(v, outdir):
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
        hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([0, hi], [0, hi], "k-", lw=0.8, label="bound")
        ax.axhline(r.L, color="r", ls=":", lw=0.8, label=r"control: $L$")
        ax.set_xlabel("bound at $w$: " + title)
        ax.set_ylabel(r"$\|\nabla^2 F(w)\|$ (HVP power iteration)")
        ax.legend(fontsize=7, loc="upper left")
    report.savefig(fig, outdir, "c1-smoothness")


def render_c2(v, outdir):
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


def render_c3(v, outdir):
    r = v.evidence
    fig, axes = report.plt.subplots(1, 2, figsize=(9, 3.4))
    fig.subplots_adjust(wspace=0.35)
    ax = axes[0]
    b = r.batch_sizes
    s = r.slope
    ax.loglog(
        b,
        r.var_indep,
        "o",
        color="C0",
        label=f"independent: slope {s.estimate:.3f} [{s.low:.3f}, {s.high:.3f}]",
    )
    _anchored(ax, b, r.var_indep, s.estimate, color="C0", lw=1)
    ax.loglog(b, r.var_shared, "o", color="C1", label=f"shared: slope {r.slope_shared:.3f}")
    _anchored(ax, b, r.var_shared, r.slope_shared, color="C1", lw=1)
    ax.loglog(b, r.var_indep[0] / b**0.5, "k:", label="control $B^{-1/2}$")
    ax.set_xlabel("task batch $B$")
    ax.set_ylabel(r"$\mathrm{tr\,Cov}$ of the $B$-task mean")
    ax.legend(fontsize=7)
    ax = axes[1]
    se_s = np.linalg.norm(r.se_shared, axis=1)
    bias_s = np.linalg.norm(r.mean_shared - r.exact_indep, axis=1)
    bias_i = np.linalg.norm(r.mean_indep - r.exact_indep, axis=1)
    ax.errorbar(b, bias_s, yerr=2 * se_s, fmt="o-", color="C1", label="shared batches")
    ax.plot(b, bias_i, "s-", color="C0", label="independent batches")
    ax.axhline(
        np.linalg.norm(r.exact_shared - r.exact_indep),
        color="C1",
        ls=":",
        label="exact shared bias",
    )
    ax.plot(b, np.linalg.norm(r.se_indep, axis=1), "k:", lw=0.8, label="Monte Carlo s.e.")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("task batch $B$")
    ax.set_ylabel(r"$\|\mathrm{mean}\,\hat g_B - E\,\hat g\|$")
    ax.legend(fontsize=7, loc="center right")
    report.savefig(fig, outdir, "c3-variance")


def render_c4(v, outdir):
    r = v.evidence
    n = v.numbers
    a = r.avg_sq
    means = a.mean(0)
    se = a.std(0, ddof=1) / np.sqrt(a.shape[0])
    fig, axes = report.plt.subplots(1, 2, figsize=(9, 3.4))
    fig.subplots_adjust(wspace=0.35)
    ax = axes[0]
    ax.errorbar(
        r.horizons, means, yerr=2 * se, fmt="o", color="C0", label=f"MAML, {a.shape[0]} seeds"
    )
    _anchored(
        ax,
        r.horizons,
        means,
        n["slope"],
        color="C0",
        lw=1,
        label=f"slope {n['slope']:.3f} [{n['cilow']:.3f}, {n['cihigh']:.3f}]",
    )
    ax.loglog(r.horizons, r.bound, "k-", lw=0.8, label="bound (measured constants)")
    for s, st in ((-1.0, "--"), (-0.25, "-.")):
        ax.loglog(r.horizons, means[0] * (r.horizons / r.horizons[0]) ** s, "r" + st, lw=0.8)
    ax.plot([], [], "r--", lw=0.8, label=r"controls $T^{-1}$, $T^{-1/4}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"horizon $T$ ($\beta = c/\sqrt{T}$)")
    ax.set_ylabel(r"$T^{-1}\sum_t\|\nabla F(w_t)\|^2$")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1]
    ax.loglog(r.fo_alpha, r.fo_floor, "s", color="C1", label="FO-MAML fixed point")
    _anchored(
        ax,
        r.fo_alpha,
        r.fo_floor,
        r.fo_exponent,
        color="C1",
        lw=1,
        label=f"exponent {r.fo_exponent:.3f}",
    )
    ax.loglog(
        r.fo_alpha,
        fo_maml_floor(r.fo_alpha, r.L, r.fo_task_var),
        "k-",
        lw=0.8,
        label=r"Thm 4.7: $20\alpha^2L^2\sigma^2$",
    )
    ax.loglog(
        r.fo_alpha,
        r.fo_floor[0] * (r.fo_alpha / r.fo_alpha[0]),
        "r--",
        lw=0.8,
        label=r"control $\propto\alpha$",
    )
    ax.set_xlabel(r"inner step $\alpha$")
    ax.set_ylabel(r"$\|\nabla F(w_{FO})\|^2$")
    for a_ in axes:
        a_.xaxis.set_minor_formatter(report.plt.NullFormatter())
    ax.legend(fontsize=7, loc="upper left")
    report.savefig(fig, outdir, "c4-rate")


def render_c5(v, outdir):
    r = v.evidence
    b = r.batch_sizes
    fig, axes = report.plt.subplots(1, 2, figsize=(9, 3.2))
    fig.subplots_adjust(wspace=0.35)
    ax = axes[0]
    m = np.array([c.estimate for c in r.norm_ci])
    lo = np.array([c.low for c in r.norm_ci])
    hi = np.array([c.high for c in r.norm_ci])
    ax.errorbar(
        b,
        m,
        yerr=[m - lo, hi - m],
        fmt="o",
        color="C0",
        label=r"measured $E\|\nabla F(w_\epsilon)\|$",
    )
    ax.plot(b, r.accuracy, "k-s", label="Theorem 4.5 (exact constants)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("task batch $B$")
    ax.set_ylabel("gradient norm")
    ax.legend(fontsize=7)
    ax = axes[1]
    sq = r.grad_sq.mean(0)
    ax.loglog(b, sq, "o-", color="C0", label=r"measured $E\|\nabla F\|^2$ floor")
    ax.loglog(b, sq[0] * b[0] / b, "k:", label=r"$\propto 1/B$ (noise floor)")
    ax.loglog(b, sq[0] * np.ones(b.size), "r--", lw=0.8, label="control: no shrinkage (bias)")
    ax.set_xlabel("task batch $B$")
    ax.set_ylabel("squared gradient norm")
    for a_ in axes:
        a_.xaxis.set_minor_formatter(report.plt.NullFormatter())
        a_.set_xticks(b, [str(x) for x in b])
    ax.legend(fontsize=7)
    report.savefig(fig, outdir, "c5-fmo-rule")
