"""Figures of the hierarchical-Bayes family (H1, H2), drawn from the stored evidence."""

from __future__ import annotations

import numpy as np

from metatheory import report
from metatheory.claims.grant import series_errors


def render_h1(v, outdir):
    from metatheory.symbolic import grant as sg

    report.write_equation(outdir, "h1-precision", sg.latex_precision())
    report.write_equation(outdir, "h1-series", sg.latex_series())
    report.write_equation(outdir, "h1-covariance", sg.latex_covariance())
    r = v.evidence
    c, two, e1, bound, wrong = series_errors(r)
    a = r.series_alphas
    fig, (ax, bx) = report.plt.subplots(1, 2, figsize=(9, 3.4))
    ax.loglog(a, r.series_lambda, "k-", lw=2, label=r"exact $\lambda$")
    ax.loglog(a, c[-1] / a, "--", label=r"$1/(\alpha N)$")
    ax.loglog(a, two, "-.", label="two terms")
    ax.loglog(a, two + c[1] * a, ":", lw=2, label="three terms")
    ax.set_xlabel(r"inner step $\alpha$")
    ax.set_ylabel(r"prior precision $\lambda$")
    ax.set_title(f"h = {r.series_h:.3g}, N = {r.series_n}", fontsize=9)
    ax.legend(fontsize=7)
    bx.loglog(a, np.abs(e1), "o", label="error of two terms")
    bx.loglog(a, abs(c[1]) * a, "-", color="C0", lw=0.8, label=r"next term $c_1\alpha$")
    bx.loglog(a, np.abs(e1 - c[1] * a), "s", label="error of three terms")
    bx.loglog(a, bound, "-", color="C1", lw=0.8, label=r"bound $2|c_2|\alpha^2$")
    bx.loglog(a, np.abs(wrong), "x--", color="C3", label=r"control: $c_0=-h/2$")
    bx.set_xlabel(r"inner step $\alpha$")
    bx.set_ylabel("truncation error")
    bx.legend(fontsize=7)
    fig.tight_layout()
    report.savefig(fig, outdir, "h1-grant-prior")


def render_h2(v, outdir):
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
