"""Figures of the MAML family (G1, G2), drawn from the stored evidence."""

from __future__ import annotations

import numpy as np

from metatheory import report
from metatheory.claims.maml import EXACT_TOL, FD_TOL
from metatheory.symbolic.maml import latex_product_formula


def render_g1(v, outdir):
    report.write_equation(outdir, "g1", latex_product_formula())
    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(5.5, 3.4))
    floor = 1e-17  # exact zeros shown at the bottom of the log axis
    n = r.n_inner
    ax.semilogy(n, np.maximum(r.closed, floor), "o-", label="autodiff vs closed form")
    ax.semilogy(n, np.maximum(r.fd, floor), "s-", label="autodiff vs finite differences (MLP)")
    ax.semilogy(n, r.closed_control, "x--", label="control: Hessian factor dropped")
    ax.semilogy(n, r.fd_control, "+--", label="control: first-order vs FD (MLP)")
    ax.axhline(EXACT_TOL, color="k", lw=0.8, ls=":", label="tolerances")
    ax.axhline(FD_TOL, color="k", lw=0.8, ls=":")
    ax.set_xlabel("inner steps $N$")
    ax.set_ylabel("relative error")
    ax.set_xticks(n)
    ax.set_ylim(1e-17, 1e2)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    report.savefig(fig, outdir, "g1-product-formula")
