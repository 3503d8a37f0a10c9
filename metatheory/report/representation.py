"""Figure of the representation family (R1), drawn from the stored evidence and verdict numbers
(no fitting here: the intercepts are the experiment's)."""

from __future__ import annotations

import numpy as np

from metatheory import report


def render_r1(v, outdir):
    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(5.2, 3.2), layout="constrained")
    t = r.steps
    for i in range(r.dist.shape[0]):
        lab = "ANIL (α > 0)" if i == 0 else None
        ax.semilogy(t, r.dist[i], color="C0", lw=0.8, alpha=0.7, label=lab)
        lab = "no head adaptation (α = 0)" if i == 0 else None
        ax.semilogy(t, r.dist_control[i], color="C3", lw=0.8, ls="--", alpha=0.7, label=lab)
    win = t[r.window_start :]
    pred = np.exp(r.intercepts[0] + r.log_rho * win)
    ax.semilogy(win, pred, "k:", lw=1.5, label=rf"slope $\ln\rho = {v.numbers['logrho']:.4f}$")
    ax.axvline(r.window_start, color="0.6", lw=0.6)
    ax.set_xlabel("outer step $t$")
    ax.set_ylabel(r"$\mathrm{dist}(B_t, B_*)$")
    ax.set_title(
        rf"$d$ = {r.d}, $k$ = {r.k}, $\alpha$ = {r.alpha:g}, $\beta$ = {r.beta:g}, "
        rf"$\lambda_{{\min}}$ = {v.numbers['sigmamin']:g}; fit from step {r.window_start}",
        fontsize=8,
    )
    ax.legend(fontsize=7, loc="lower left")
    report.savefig(fig, outdir, "r1-anil-representation")
