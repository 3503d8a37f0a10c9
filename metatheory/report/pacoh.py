"""Figure of the PACOH family (P6), drawn from the stored evidence (no fitting here): the
closed-form errors, the complexity terms, and the bounds at Q* against the transfer risk."""

from __future__ import annotations

import numpy as np

from metatheory import report


def render_p6(v, outdir):
    r = v.evidence
    fig, (a1, a2, a3) = report.plt.subplots(1, 3, figsize=(9.6, 3.0), layout="constrained")
    floor = 1e-17  # exact zeros drawn at the bottom of the log axis
    for d, mk in ((1, "o"), (2, "s")):
        sel = r.d == d
        a1.semilogy(
            np.flatnonzero(sel),
            np.maximum(np.maximum(r.mean_err, r.cov_err)[sel], floor),
            mk,
            ms=3,
            label=f"closed form vs grid, d = {d}",
        )
    a1.semilogy(np.maximum(r.dv_err, floor), "x", ms=3, color="C2", label="bound vs DV minimum")
    a1.semilogy(
        np.arange(r.control_err.size), r.control_err, "v", ms=3, color="C3", label="control: κ = 1"
    )
    a1.axhline(1e-9, color="k", lw=0.8, ls="--", label="tolerance")
    a1.set_xlabel("instance")
    a1.set_ylabel("error")
    a1.legend(fontsize=6, loc="center right")
    order = np.argsort(r.pacoh_terms)
    a2.semilogy(r.pacoh_terms[order], ".", ms=3, label="PACOH (no confidence term)")
    a2.semilogy(r.am_terms[order], ".", ms=3, label=f"Amit–Meir, δ = {r.delta:g}")
    a2.semilogy(r.pl_terms[order], ".", ms=3, label=f"Pentina–Lampert, δ = {r.delta:g}")
    a2.set_xlabel("instance (sorted by the PACOH term)")
    a2.set_ylabel("complexity terms at $\\mathcal{Q}^*$")
    a2.legend(fontsize=6, loc="upper left")
    order = np.argsort(r.transfer)
    a3.plot(r.transfer[order], ".", ms=2, color="k", label="transfer risk of $\\mathcal{Q}^*$")
    a3.plot(r.am_bound[order], ".", ms=2, color="C1", label="Amit–Meir bound")
    a3.plot(r.pl_bound[order], ".", ms=2, color="C2", label="Pentina–Lampert bound")
    a3.plot(r.emp[order], ".", ms=2, color="C7", label="empirical risk (control)")
    a3.set_xlabel("draw of the observed tasks (sorted by transfer risk)")
    a3.set_ylabel("bounded loss")
    a3.set_ylim(0, 1)
    a3.legend(fontsize=6, loc="center right")
    report.savefig(fig, outdir, "p6-pacoh")
