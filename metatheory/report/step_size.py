"""Figure of the step-size family (C6), drawn from the stored evidence and verdict numbers."""

from __future__ import annotations

import numpy as np
import sympy as sp

from metatheory import report
from metatheory.symbolic import step_size as sym


def render_c6(v, outdir):
    lim = sym.derive_limit()["limit"]
    report.write_equation(outdir, "c6", r"L_\infty = " + sp.latex(sp.expand(lim)))
    r = v.evidence
    fig, axes = report.plt.subplots(1, 2, figsize=(9, 3.3))
    fig.subplots_adjust(wspace=0.3)
    ax = axes[0]
    ax.semilogy(r.n_fixed, r.bound_fixed, "k-", label=r"$L_N$ at $\alpha=c/L$")
    ax.semilogy(r.n_fixed, r.emp_fixed, "o", label="max quotient")
    q = (1 + r.c) ** (2 * r.n_fixed) * r.L
    ax.semilogy(r.n_fixed, q, ":", label=r"$(1+c)^{2N}L$")
    ax.axhline(r.limit, color="C2", ls="--", lw=1, label=r"$L_\infty$")
    ax.set_xlabel("inner steps $N$")
    ax.set_ylabel("smoothness constant")
    ax.set_title(
        rf"fixed step $\alpha = {r.c:g}/L$: slope {v.numbers['slope']:.3f} "
        rf"(derived $\leq${v.numbers['slopederived']:.3f})",
        fontsize=8,
    )
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[1]
    ax.semilogx(r.n_inverse, r.bound_inverse, "k-", label=r"$L_N$ at $\alpha=c/(NL)$")
    ax.semilogx(r.n_inverse, r.emp_inverse, "o", label="max quotient")
    ax.semilogx(
        r.n_inverse,
        (1 + r.c / r.n_inverse) ** (2 * r.n_inverse) * r.L,
        ":",
        label=r"$(1+c/N)^{2N}L$",
    )
    ax.axhline(r.limit, color="C2", ls="--", lw=1, label=r"$L_\infty$")
    ax.axhline(np.exp(2 * r.c) * r.L, color="C3", ls="-.", lw=1, label=r"$e^{2c}L$")
    ax.set_xlabel("inner steps $N$")
    ax.set_title(rf"step $\alpha = {r.c:g}/(NL)$: bounded by $L_\infty$", fontsize=8)
    ax.legend(fontsize=7, loc="center right")
    report.savefig(fig, outdir, "c6-step-size")
