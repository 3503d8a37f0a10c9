"""Figures of the Bayesian lens (B1, B2), drawn from the stored evidence."""

from __future__ import annotations

import numpy as np

from metatheory import report
from metatheory.claims.neural_process import GAP_FRACTION, ORACLE_TOL

_COLORS = {"gp": "k", "cnp": "C0", "lnp": "C1", "anp": "C2"}
_LABELS = {"gp": "exact GP", "cnp": "CNP", "lnp": "latent NP", "anp": "attentive CNP"}


def render_b1(v, outdir):
    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(5, 3.0))
    n = r.context_sizes
    floor = 1e-17
    for arr, lab, mk in (
        (r.err_mean, "mean vs dense inverse", "o-"),
        (r.err_var, "variance vs dense inverse", "s-"),
        (r.err_logpdf, "log density", "^-"),
        (r.err_solve, "mean vs scipy solve", "d-"),
    ):
        ax.loglog(n, np.maximum(arr, floor), mk, label=lab)
    ax.loglog(n, r.control_err, "x--", label=r"control: $\sigma_n^2$ left out")
    ax.axhline(ORACLE_TOL, color="k", ls=":", lw=0.8, label="tolerance")
    ax.set_xlabel("context size $n$")
    ax.set_ylabel("max relative error")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    report.savefig(fig, outdir, "b1-gp-oracle")


def render_b2(v, outdir):
    r = v.evidence
    models = list(r.nll)

    # closed share of the prior-to-oracle gap against training steps
    fig, ax = report.plt.subplots(figsize=(5, 3.0))
    for m in models:
        ax.plot(r.checkpoints, r.closed[m], "o-", ms=3, color=_COLORS[m], label=_LABELS[m])
    ax.axhline(GAP_FRACTION, color="0.5", ls="--", lw=0.8, label="half of the gap (criterion)")
    ax.axhline(0.0, color="0.5", ls=":", lw=0.8)
    ax.xaxis.set_major_locator(report.plt.MaxNLocator(6, integer=True))
    ax.set_xlim(0, 1.03 * max(r.checkpoints))
    ax.set_xlabel("training steps")
    ax.set_ylabel("closed share of the NLL gap")
    ax.set_ylim(min(0.0, min(r.closed[m].min() for m in models)) - 0.05, 1.0)
    ax.legend(fontsize=7, loc="lower right")
    report.savefig(fig, outdir, "b2-closed-share")

    # NLL against context size at the last checkpoint
    fig, ax = report.plt.subplots(figsize=(5, 3.4))
    n = r.context_sizes
    ax.plot(n, r.gp_nll.mean(0), "k-o", ms=3, label="exact GP (oracle)")
    for m in models:
        ax.plot(n, r.nll[m][-1].mean(0), "-o", ms=3, color=_COLORS[m], label=_LABELS[m])
    ax.axhline(r.prior_nll.mean(), color="0.5", ls=":", label="GP prior (no context)")
    half = 0.5 * (r.prior_nll.mean() + r.gp_nll.mean(0))
    ax.plot(n, half, color="0.5", ls="--", lw=0.8, label="half-way: prior → oracle")
    ax.plot(n, r.untrained_nll.mean(0), "x:", color="C3", ms=3, label="control: untrained CNP")
    top = max(r.prior_nll.mean(), r.untrained_nll.mean()) + 0.3
    ax.set_ylim(r.gp_nll.mean(0).min() - 0.2, top)
    ax.set_xlabel("context size $n$")
    ax.set_ylabel("held-out NLL per target (nats)")
    ax.legend(fontsize=7, loc="upper right")
    report.savefig(fig, outdir, "b2-nll-context")

    # training losses and the LNP's estimators against the closed forms
    fig, (ax, ax2) = report.plt.subplots(1, 2, figsize=(7.5, 2.8), layout="constrained")
    for m in models:
        ax.semilogx(r.loss_steps, r.loss[m], color=_COLORS[m], label=_LABELS[m])
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss per target")
    ax.set_title("NLL (CNPs) / −ELBO (latent NP), window means", fontsize=8)
    ax.legend(fontsize=7)
    b = r.bounds
    gap = b.loglik_exact - b.elbo_exact
    err = b.iwae - b.loglik_exact[None]
    mean = err.mean(1)
    half = 3.3 * err.std(1, ddof=1) / np.sqrt(err.shape[1])
    ax2.errorbar(b.ks, mean, yerr=half, fmt="o-", color="C1", ms=3, label="IWAE(K) − log p")
    ax2.axhline(0.0, color="k", lw=0.8, label="exact log-likelihood")
    ax2.axhline(-gap.mean(), color="0.5", ls="--", lw=0.8, label="exact ELBO − log p")
    ax2.set_xscale("log")
    ax2.set_xlabel("importance samples $K$")
    ax2.set_ylabel("nats per target")
    ax2.set_title("linear-Gaussian LNP: estimators vs closed forms", fontsize=8)
    ax2.legend(fontsize=7, loc="lower right")
    report.savefig(fig, outdir, "b2-training")

    if not r.band:
        return
    nt, nb = r.band["gp"].shape[:2]
    fig, axes = report.plt.subplots(nb, nt, figsize=(3.2 * nt, 2.5 * nb), sharex=True)
    axes = np.atleast_2d(axes)
    for j in range(nb):
        for t in range(nt):
            ax = axes[j, t]
            g = r.band["gp"][t, j]
            ax.fill_between(
                r.band_x, g[0] - 2 * g[1], g[0] + 2 * g[1], color="0.85", label="GP ±2σ"
            )
            ax.plot(r.band_x, g[0], "k-", lw=1.2, label="GP mean")
            for m in models:
                bm = r.band[m][t, j]
                ax.plot(r.band_x, bm[0], color=_COLORS[m], lw=1, label=_LABELS[m])
                ax.plot(r.band_x, bm[0] + 2 * bm[1], color=_COLORS[m], lw=0.6, ls="--")
                ax.plot(r.band_x, bm[0] - 2 * bm[1], color=_COLORS[m], lw=0.6, ls="--")
            k = int(r.band_n[j])
            ax.plot(r.band_ctx[t, :k, 0], r.band_ctx[t, :k, 1], "ko", ms=3.5, label="context")
            ax.plot(r.band_tgt[t, :, 0], r.band_tgt[t, :, 1], "r+", ms=4, label="held-out targets")
            ax.set_title(f"task {t + 1}, {k} context points", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(1.6, 1.45), ncol=4)
    report.savefig(fig, outdir, "b2-np-bands")
