"""Figures of the first-order family (G3, G4, G8), drawn from the stored evidence."""

from __future__ import annotations

import numpy as np

from metatheory import report, stats
from metatheory.claims.fomaml.fomaml_bias import bias_bounds
from metatheory.claims.fomaml.learned_step_sizes import LEVEL
from metatheory.claims.fomaml.reptile_expected_update import coefficient_errors

DIVERGED_AL = 1e4
"""On the sinusoid MLP, a measured alpha*L above this along the inner trajectory means the inner
loop diverged (the Hessian norm grew by orders of magnitude from theta_0); such runs are counted
in the legend of the G3 figure, not plotted."""


def render_g3(v, outdir):
    from metatheory.symbolic.fomaml import latex_bounds

    report.write_equation(outdir, "g3-bounds", latex_bounds())
    r = v.evidence
    b = bias_bounds(r)
    fig, (ax, bx) = report.plt.subplots(1, 2, figsize=(9.5, 3.5))
    al = r.quad_alpha * r.quad_curv
    for i, n in enumerate(r.n_inner):
        ax.plot(
            al[0, i],
            np.abs(r.quad_bias[0, i]) / np.abs(r.quad_gfo[0, i]),
            "o",
            ms=3,
            color=f"C{i}",
            label=f"convex, N = {n}",
        )
        ax.plot(
            al[1, i],
            np.abs(r.quad_bias[1, i]) / np.abs(r.quad_gfo[1, i]),
            "^",
            ms=3,
            color=f"C{i}",
            label=f"concave, N = {n}",
        )
        x = np.linspace(0.05, 1, 50)
        ax.plot(x, (1 + x) ** n - 1, "-", color=f"C{i}", lw=0.8)
        ax.plot(x, 1 - (1 - x) ** n, "--", color=f"C{i}", lw=0.8)
        ax.plot(x, n * x, ":", color="grey", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel(r"$\alpha L$")
    ax.set_ylabel(r"$\|b\|/G$ on 1-D quadratics")
    ax.set_title(
        "solid: $(1+\\alpha L)^N-1$, dashed: $1-(1-\\alpha L)^N$, dotted: $N\\alpha L$", fontsize=8
    )
    ax.legend(fontsize=7)
    ratio = r.mlp_bias / b["mlp"]
    x = r.mlp_alpha[None] * r.mlp_l
    # an inner loop that diverged drives the Hessian norm along it, hence alpha*L, off any scale
    diverged = x > DIVERGED_AL
    for i, n in enumerate(r.mlp_n_inner):
        keep = ~diverged[i]
        bx.loglog(
            x[i, :, :-1][keep[:, :-1]],
            ratio[i, :, :-1][keep[:, :-1]],
            "o",
            ms=4,
            color=f"C{i}",
            label=f"N = {n}, α = u/‖H(θ₀)‖",
        )
        nd = int(diverged[i, :, -1].sum())
        extra = f"; {nd} diverged, not shown" if nd else ""
        bx.loglog(
            x[i, :, -1][keep[:, -1]],
            ratio[i, :, -1][keep[:, -1]],
            "x",
            ms=6,
            color=f"C{i}",
            label=f"N = {n}, α = {r.finn_alpha:g} (Finn){extra}",
        )
    shown = ratio[~diverged & (ratio > 0)]
    bx.set_ylim(10 ** np.floor(np.log10(shown.min())) / 3, 3)
    bx.set_xlim(10 ** np.floor(np.log10(x[~diverged].min())), 3 * x[~diverged].max())
    bx.axhline(1, color="k", lw=0.8)
    bx.set_xlabel(r"$\alpha L$ (L measured along the inner trajectory)")
    bx.set_ylabel(r"$\|b\|$ / bound, sinusoid MLP")
    bx.legend(fontsize=7)
    fig.tight_layout()
    report.savefig(fig, outdir, "g3-fomaml-bias")


def render_g4(v, outdir):
    from metatheory.symbolic.fomaml import latex_updates

    report.write_equation(outdir, "g4-updates", latex_updates())
    e = coefficient_errors(v.evidence)
    fig, ax = report.plt.subplots(figsize=(5, 3))
    names = ["maml", "fomaml", "reptile", "mlp"]
    ax.bar(range(4), [max(e[k], 1e-17) for k in names], color=["C0", "C1", "C2", "C3"])
    ax.set_yscale("log")
    ax.set_xticks(range(4), ["MAML", "FOMAML", "Reptile", "MLP (MAML, FO)"])
    ax.set_ylabel("rel. error of $(c_0, c_1)$")
    ax.set_ylim(1e-17, 1)
    report.savefig(fig, outdir, "g4-reptile-coefficients")


def render_g8(v, outdir):
    from metatheory.symbolic.fomaml import latex_step_size_gradient

    report.write_equation(outdir, "g8-step-gradient", latex_step_size_gradient())
    r = v.evidence
    fig, (ax, bx, cx) = report.plt.subplots(1, 3, figsize=(11, 3.3))
    steps = np.arange(1, r.curves.shape[2] + 1)
    w = max(1, len(steps) // 50)
    kern = np.ones(w) / w
    for i, lab in enumerate((f"fixed α = {r.alpha_fixed:g}", "learned α (Meta-SGD)")):
        for s in range(r.curves.shape[1]):
            sm = np.convolve(r.curves[i, s], kern, mode="valid")
            ax.semilogy(steps[: sm.size], sm, color=f"C{i}", lw=0.8, label=lab if s == 0 else None)
    ax.set_xlabel("meta-step")
    ax.set_ylabel("meta-batch query MSE")
    ax.legend(fontsize=7)
    cis = [stats.mean_ci(x, level=LEVEL) for x in (r.mse_zero, r.mse_fixed, r.mse_learned)]
    means = [c.estimate for c in cis]
    errs = np.array([[c.estimate - c.low for c in cis], [c.high - c.estimate for c in cis]])
    bx.bar([0, 1, 2], means, yerr=errs, color=["grey", "C0", "C1"], capsize=6)
    bx.set_xticks([0, 1, 2], ["predict 0", "fixed α", "learned α"])
    bx.set_ylabel(f"post-adaptation MSE ({1 - LEVEL:g} CI)")
    a = np.asarray(r.alpha_learned).ravel()
    lo, hi = np.percentile(a, [2.5, 97.5])
    lo, hi = min(lo, 0.0, r.alpha_fixed), max(hi, r.alpha_fixed)
    inside = (a >= lo) & (a <= hi)
    cx.hist(a[inside], bins=40, color="C1")
    cx.axvline(r.alpha_fixed, color="C0", ls="--", label="initial / fixed α")
    cx.axvline(0, color="k", lw=0.8)
    cx.set_xlim(lo, hi)
    cx.set_title(f"{int((~inside).sum())} of {a.size} outside [{lo:.2f}, {hi:.2f}]", fontsize=9)
    cx.set_xlabel("learned per-parameter α")
    cx.set_ylabel("count")
    cx.legend(fontsize=7)
    fig.tight_layout()
    report.savefig(fig, outdir, "g8-learned-step-sizes")
