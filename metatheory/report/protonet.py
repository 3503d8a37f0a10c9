"""Figures of the metric lens (M1, M2, M3), drawn from the stored evidence."""

from __future__ import annotations

import numpy as np

from metatheory import report
from metatheory.symbolic.protonet import latex_bregman_condition, latex_linear


def render_m1(v, outdir):
    report.write_equation(outdir, "m1", latex_linear())


def render_m2(v, outdir):
    report.write_equation(outdir, "m2", latex_bregman_condition())
    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(5, 3.0))
    labels = {
        "sqeuclid": "squared Euclidean",
        "genkl": "generalized KL",
        "itakurasaito": "Itakura–Saito",
        "l1": "L1 (control)",
    }
    for name, (g, f) in r.example_curves.items():
        f = (f - f.min()) / (f.max() - f.min())
        ax.plot(g, f, ls="--" if name == "l1" else "-", label=labels[name])
    ax.axvline(r.example.mean(), color="k", lw=1, label="mean")
    ax.axvline(np.median(r.example), color="k", lw=1, ls=":", label="median")
    g = r.example_curves["l1"][0]
    inside = r.example[(r.example >= g[0]) & (r.example <= g[-1])]
    ax.plot(inside, np.zeros_like(inside) - 0.03, "k|", ms=8)
    ax.set_xlim(g[0], g[-1])
    ax.set_xlabel(r"centre $\mu$ (one coordinate; ticks: data)")
    ax.set_ylabel(r"$\sum_i D(x_i,\mu)$, rescaled to [0, 1]")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    report.savefig(fig, outdir, "m2-bregman")


def render_m3(v, outdir):
    from matplotlib.colors import ListedColormap

    r = v.evidence
    xs, ys, xq, yq, centres = r.example
    cmap = ListedColormap(["#c6dbef", "#fdd0a2", "#c7e9c0", "#dadaeb", "#fcbba1"])
    pcols = ["#08519c", "#d94801", "#238b45", "#54278f", "#cb181d"]
    titles = {
        "proto": "prototypical network",
        "matching": "matching network",
        "centroid": "nearest centroid (input space)",
    }
    fig, axes = report.plt.subplots(1, 3, figsize=(10, 3.5), sharey=True)
    g = r.grid_x
    for ax, name in zip(axes, titles, strict=True):
        ax.pcolormesh(g, g, r.regions[name], cmap=cmap, shading="auto", vmin=-0.5, vmax=4.5)
        for k in range(len(pcols)):
            ax.scatter(*xs[ys == k].T, s=14, color=pcols[k], edgecolor="k", lw=0.4)
            ax.scatter(*xq[yq == k].T, s=5, color=pcols[k], alpha=0.5)
        ax.scatter(*r.prototypes.T, marker="*", s=120, color="w", edgecolor="k", lw=0.8)
        ax.scatter(*centres.T, marker="x", s=40, color="k")
        ax.set_title(f"{titles[name]}: acc {r.acc[name][0]:.2f}", fontsize=8)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    report.savefig(fig, outdir, "m3-regions")

    fig, ax = report.plt.subplots(figsize=(5, 2.6))
    names = ["bayes", "centroid", "proto", "matching", "control"]
    lab = [
        "Bayes\n(true centres)",
        "nearest\ncentroid",
        "prototypical",
        "matching",
        "control:\npermuted",
    ]
    means = [r.ci[n].estimate for n in names]
    err = [
        [r.ci[n].estimate - r.ci[n].low for n in names],
        [r.ci[n].high - r.ci[n].estimate for n in names],
    ]
    ax.bar(lab, means, yerr=err, color=["0.6", "0.75", "C0", "C1", "C3"], capsize=3)
    ax.axhline(1.0 / r.n_way, color="k", ls=":", lw=0.8, label="chance")
    ax.set_ylabel("held-out query accuracy")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    report.savefig(fig, outdir, "m3-accuracy")
