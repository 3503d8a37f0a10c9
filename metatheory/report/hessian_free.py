"""Figure of the Hessian-free family (C7), drawn from the stored evidence and verdict numbers."""

from __future__ import annotations

import numpy as np
import sympy as sp

from metatheory import report
from metatheory.symbolic import hessian_free as sym


def render_c7(v, outdir):
    lip = sym.derive_lipschitz_hessian_bound()["central"]
    smooth = sym.derive_smooth_bound()["central"]
    report.write_equation(
        outdir,
        "c7",
        r"\|d_\delta - \nabla^2 f(w)v\| \le " + sp.latex(lip) + r",\qquad \le " + sp.latex(smooth),
    )
    r = v.evidence
    a = r.attaining
    fig, axes = report.plt.subplots(1, 2, figsize=(9, 3.3))
    fig.subplots_adjust(wspace=0.3)
    ax = axes[0]
    bins = np.linspace(0, 1.05, 43)
    ax.hist(r.ratio_lip[~a], bins, alpha=0.6, label=r"random, $\rho\delta\|v\|^2/2$")
    ax.hist(r.ratio_smooth[~a], bins, alpha=0.6, label=r"random, $\rho_3\delta^2\|v\|^3/6$")
    ax.hist(
        np.concatenate([r.ratio_lip[a], r.ratio_smooth[a]]),
        bins,
        color="k",
        label="extremal tasks",
    )
    ax.axvline(1.0, color="k", lw=0.8, ls=":")
    ax.set_xlabel(r"$\|g_{\mathrm{HF}}-g_{\mathrm{MAML}}\|$ / ($\alpha\times$bound)")
    ax.set_ylabel("tasks")
    ax.legend(fontsize=7, loc="upper center")
    ax = axes[1]
    for i, e in enumerate(r.order_err):
        ax.loglog(
            r.deltas, e, "-", color="C0", lw=0.8, label="HF-MAML (central)" if i == 0 else None
        )
    ax.loglog(
        r.deltas,
        r.order_err.sum(0) / len(r.order_err),
        "o",
        color="C0",
        label=f"mean: slope {v.numbers['slope']:.4f}",
    )
    ax.minorticks_off()
    ax.set_xticks(r.deltas, [f"{d:g}" for d in r.deltas])
    ax.set_xlabel(r"difference step $\delta$")
    ax.set_ylabel(r"$\|g_{\mathrm{HF}}-g_{\mathrm{MAML}}\|$")
    ax.set_title(f"control: one-sided slope {v.numbers['onesidedslope']:.3f}", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    report.savefig(fig, outdir, "c7-hf-maml")
