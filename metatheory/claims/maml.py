"""Ledger rows G1 (MAML product formula) and G2 (first-order and truncated MAML)."""

from __future__ import annotations

import jax
import numpy as np

from metatheory.claims import Verdict, claim, renders
from metatheory.experiments import maml as ex

EXACT_TOL = 1e-10
"""Float64 closed-form agreement: ~30 flops of rounding per entry times N <= 10 inner steps
stays below 1e-13; 1e-10 leaves three orders of margin and still rejects any missing term."""
FD_TOL = 1e-6
"""Central differences with h = 1e-5: truncation O(h^2 |f'''|) ~ 1e-10, rounding
O(eps |f| / h) ~ 1e-11; 1e-6 is safe against both, while a dropped Hessian term is O(alpha)."""
LOOP_TOL = 1e-12
"""vmap vs a plain loop compute the same float64 sums in a different order."""


def _preset(preset):
    return ex.FULL if preset == "full" else ex.QUICK


@claim(
    "G1",
    stem="maml_product_formula",
    statement="The MAML meta-gradient is (I−αH_0)…(I−αH_{N−1})∇L_Q(θ_N).",
    source="Finn et al. 2017, Sec. 2.2; chain rule",
)
def check_g1(preset: str) -> Verdict:
    r = ex.product_formula(_preset(preset), jax.random.key(0))
    ok = r.closed.max() <= EXACT_TOL and r.fd.max() <= FD_TOL and r.loop <= LOOP_TOL
    rejected = r.closed_control.min() > EXACT_TOL and r.fd_control.min() > FD_TOL
    return Verdict(
        "G1",
        "holds" if ok else "fails",
        predicted="autodiff = product formula (closed form, FD, plain loop)",
        measured=f"max rel. err {r.closed.max():.1e} (closed form, N=1..10), "
        f"{r.fd.max():.1e} (MLP vs FD), {r.loop:.1e} (vs loop)",
        tolerance=f"{EXACT_TOL:g} exact, {FD_TOL:g} FD, {LOOP_TOL:g} loop",
        control=f"no Hessian factor: rel. err ≥ {r.closed_control.min():.2g} (closed form), "
        f"≥ {r.fd_control.min():.2g} (FD)",
        control_rejected=bool(rejected),
        numbers={
            "closed": r.closed.max(),
            "fd": r.fd.max(),
            "loop": r.loop,
            "control": r.closed_control.min(),
            "fdcontrol": r.fd_control.min(),
        },
        evidence=r,
    )


@renders("G1")
def render_g1(v: Verdict, outdir):
    from metatheory import report
    from metatheory.symbolic.maml import latex_product_formula

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
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    report.savefig(fig, outdir, "g1-product-formula")


@claim(
    "G2",
    stem="fomaml_truncated",
    statement="First-order MAML is ∇L_Q(θ_N); truncation to the last k steps keeps the last "
    "k factors.",
    source="Finn et al. 2017, Sec. 5.2; Nichol et al. 2018",
)
def check_g2(preset: str) -> Verdict:
    r = ex.truncated_products(_preset(preset), jax.random.key(1))
    ok = r.err.max() <= EXACT_TOL
    rejected = r.err_control.min() > EXACT_TOL
    return Verdict(
        "G2",
        "holds" if ok else "fails",
        predicted="autodiff = product of the last k factors, k = 0..N",
        measured=f"max rel. err {r.err.max():.1e} over {len(r.cases)} (task, N, k) cases",
        tolerance=f"{EXACT_TOL:g} (float64)",
        control=f"all N factors kept: rel. err ≥ {r.err_control.min():.2g}",
        control_rejected=bool(rejected),
        numbers={"err": r.err.max(), "control": r.err_control.min(), "cases": len(r.cases)},
        evidence=r,
    )
