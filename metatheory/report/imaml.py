"""Figure of implicit MAML (G7), drawn from the stored evidence."""

from __future__ import annotations

import numpy as np

from metatheory import report
from metatheory.bounds.imaml import cg_error_bound
from metatheory.claims.imaml import LIMIT_TOL, cg_bound_ratios
from metatheory.symbolic.imaml import latex_imaml


def render_g7(v, outdir):
    report.write_equation(outdir, "g7", latex_imaml())
    r = v.evidence
    un, cg, mem = r.unrolled, r.cg, r.memory
    fig, axes = report.plt.subplots(1, 3, figsize=(11, 3.3))
    ax = axes[0]
    # predicted rho^N lines, anchored where the error first falls below 1e-6
    for n, e, rho, sty, lab in (
        (un.n, un.err, un.rho, ":", "quadratic"),
        (un.mlp_n, un.mlp_err, un.mlp_rho, "--", "tanh MLP"),
    ):
        i = int(np.argmax(e < 1e-6))
        line = ax.semilogy(n, e, "-", label=lab)[0]
        ax.semilogy(n, e[i] * rho ** (n - n[i]), sty, lw=0.8, color=line.get_color(), alpha=0.7)
    ax.semilogy([], [], "k:", lw=0.8, label=r"predicted $\propto\rho^N$")
    ax.axhline(LIMIT_TOL, color="0.5", lw=0.6, ls="-.", label="tolerance")
    ax.set_xscale("log")
    ax.set_xlabel("unrolled inner steps $N$")
    ax.set_ylabel("rel. error vs iMAML")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    ax = axes[1]
    kappa, _ = cg_bound_ratios(cg)
    for i, (name, e, k) in enumerate(zip(cg.names, cg.errors, kappa, strict=True)):
        ks = np.arange(len(e))
        ax.semilogy(
            ks, np.maximum(e, 1e-17), "o-", ms=3, color=f"C{i}", label=f"{name} (κ={k:.3g})"
        )
        ax.semilogy(ks, cg_error_bound(k, ks), ":", color=f"C{i}", lw=1)
    ax.semilogy([], [], "k:", label=r"bound $2\,((\sqrt{\kappa}-1)/(\sqrt{\kappa}+1))^k$")
    ax.set_ylim(1e-17, 10)
    ax.set_xlabel("CG iteration $k$")
    ax.set_ylabel(r"$\|x_k-x^*\|_A / \|x_0-x^*\|_A$")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    ax = axes[2]
    ax.plot(mem.n_inner, mem.copies, "k*-", label="iMAML (one compiled program per $N$)")
    ax.set_xlabel("inner (L-BFGS) steps $N$")
    ax.set_ylabel("XLA temp memory (parameter copies)")
    ax.set_xticks(mem.n_inner)
    ax.set_ylim(0, 1.3 * mem.copies.max())
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    report.savefig(fig, outdir, "g7-imaml")
