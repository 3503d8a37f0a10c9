"""Figures of the PAC-Bayes family (P1–P5), drawn from the stored evidence (no fitting here)."""

from __future__ import annotations

import numpy as np

from metatheory import report


def render_p1(v, outdir):
    from metatheory.symbolic.pac_bayes import latex_equations

    for name, tex in latex_equations().items():
        report.write_equation(outdir, name, tex)
    r = v.evidence
    fig, ax = report.plt.subplots(figsize=(4.6, 3.0))
    ax.plot(r.curve_emp, r.curve_emp, "k:", lw=0.8, label="empirical risk")
    ax.plot(r.curve_emp, r.curve_mcallester, label="McAllester/Maurer")
    ax.plot(r.curve_emp, r.curve_kl_inverse, label="kl-inverse")
    ax.set_xlabel(r"empirical risk $\hat{er}$")
    ax.set_ylabel("bound on $er$")
    ax.set_ylim(0, 1.12)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(r"KL $=5$, $m=1000$, $\delta=0.05$", fontsize=8)
    report.savefig(fig, outdir, "p1-single-task")


def render_p2(v, outdir):
    r = v.evidence
    fig, (a1, a2) = report.plt.subplots(1, 2, figsize=(7.2, 2.9), sharey=True)
    for m_val, ls in ((5, "-"), (100, "--")):
        j = int(np.argmin(np.abs(r.m - m_val)))
        a1.loglog(r.n, r.task[:, j], ls, color="C0", label=f"task term, m = {r.m[j]:g}")
    a1.loglog(r.n, r.meta[:, 0], color="C1", label="meta term (any m)")
    a1.set_xlabel("tasks $n$")
    a1.set_ylabel("term")
    a1.legend(fontsize=7, loc="lower left")
    for n_val, ls in ((10, "-"), (1000, "--")):
        i = int(np.argmin(np.abs(r.n - n_val)))
        a2.loglog(r.m, r.task[i], ls, color="C0", label=f"task term, n = {r.n[i]:g}")
        a2.loglog(r.m, r.meta[i], ls, color="C1", label=f"meta term, n = {r.n[i]:g}")
    a2.set_xlabel("samples per task $m$")
    a2.legend(fontsize=7, loc="lower left")
    fig.suptitle(
        r"Amit–Meir terms, KL$(\mathcal{Q}\|\mathcal{P}) = 5$, task KL $= 20$, "
        r"$\delta = 0.1$",
        fontsize=8,
    )
    report.savefig(fig, outdir, "p2-regimes")


def _running(hit):
    hit = np.asarray(hit, dtype=float)
    return np.cumsum(hit) / np.arange(1, hit.size + 1)


def render_p3(v, outdir):
    r = v.evidence
    d = np.arange(1, r.bound.size + 1)
    fig, (a1, a2) = report.plt.subplots(1, 2, figsize=(7.4, 3.0))
    a1.plot(d, _running(r.bound >= r.transfer), label="Amit–Meir bound")
    a1.plot(d, _running(r.task_events), label=f"all {r.n_tasks} task events")
    a1.plot(d, _running(r.env_event), label="environment event")
    a1.plot(d, _running(r.emp + r.task >= r.transfer), "--", label="bound without meta term")
    a1.plot(d, _running(r.emp >= r.transfer), ":", label="empirical risk (control)")
    a1.axhline(1 - r.delta, color="k", lw=0.8, ls="--")
    a1.axhline(1 - r.delta / 2, color="k", lw=0.8, ls=":")
    a1.text(d[-1], 1 - r.delta, r"$1-\delta$", fontsize=7, ha="right", va="top")
    a1.set_xlabel("draw")
    a1.set_ylabel("running coverage")
    a1.set_ylim(0.0, 1.05)
    a1.legend(fontsize=7, loc="lower right")
    a2.plot(d, r.task_used, ".", ms=2, label=r"task: $\max_i (er_i-\hat{er}_i)/\mathrm{task}_i$")
    a2.plot(d, r.env_used, ".", ms=2, label=r"environment: $(er-\overline{er_i})/\mathrm{meta}$")
    a2.axhline(1.0, color="k", lw=0.8, ls="--")
    a2.axhline(0.0, color="k", lw=0.5)
    a2.set_xlabel("draw")
    a2.set_ylabel("fraction of the radius used")
    a2.set_ylim(-0.1, 1.1)
    a2.legend(fontsize=7, loc="upper right")
    report.savefig(fig, outdir, "p3-coverage")


def render_p4(v, outdir):
    r = v.evidence
    fig, (a1, a2) = report.plt.subplots(1, 2, figsize=(7.6, 2.9), layout="constrained")
    b, e = r.bound.mean(0), r.emp.mean(0)
    a1.semilogx(r.sigmas, b, "o-", ms=3, label="kl-inverse bound, Gaussian $Q$")
    a1.semilogx(r.sigmas, e, "s-", ms=3, label=r"empirical risk of $Q$")
    a1.axhline(1.0, color="k", ls="--", lw=1, label="point mass: vacuous")
    a1.axhline(r.true_risk.mean(), color="C2", ls=":", label="true risk (best $\\sigma$)")
    a1.set_xlabel(r"posterior = prior scale $\sigma$")
    a1.set_ylabel("risk / bound")
    a1.set_ylim(0, 1.08)
    a1.legend(fontsize=7, loc="upper center")
    lx = np.log(1.0 / r.shrink)
    a2.plot(lx, r.shrink_kl[0], "o", ms=3, label=r"KL$(N(\phi,s^2 I)\|N(\theta, I))$")
    a2.plot(
        lx,
        r.growth_slope[0] * lx + r.growth_intercept[0],
        "k-",
        lw=0.8,
        label=f"fit: slope {r.growth_slope[0]:.6f} (d = {r.d})",
    )
    a2.set_xlabel(r"$\ln(1/s)$ ($s \to 0$: point mass)")
    a2.set_ylabel("KL")
    a3 = a2.twinx()
    a3.plot(lx, r.shrink_bound[0], "C3-", lw=1, label="kl-inverse bound")
    a3.set_ylim(0, 1.05)
    a3.set_ylabel("bound", color="C3")
    a2.legend(fontsize=7, loc="upper left")
    report.savefig(fig, outdir, "p4-softened")


def render_p5(v, outdir):
    r = v.evidence
    fig, (a1, a2) = report.plt.subplots(1, 2, figsize=(7.6, 3.0), layout="constrained")
    lo = min(r.learned_transfer.min(), r.tuned_transfer.min())
    hi = max(r.learned_transfer.max(), r.tuned_transfer.max())
    a1.plot([lo, hi], [lo, hi], "k:", lw=0.8)
    a1.scatter(r.tuned_transfer, r.learned_transfer, s=8, c=np.abs(r.mu0), cmap="viridis")
    a1.set_xlabel("transfer risk, tuned fixed prior")
    a1.set_ylabel("transfer risk, learned prior")
    lo = min(r.learned_bound.min(), r.tuned_bound.min())
    hi = max(r.learned_bound.max(), r.tuned_bound.max())
    a2.plot([lo, hi], [lo, hi], "k:", lw=0.8)
    sc = a2.scatter(r.tuned_bound, r.learned_bound, s=8, c=np.abs(r.mu0), cmap="viridis")
    a2.set_xlabel("Amit–Meir bound, tuned fixed prior")
    a2.set_ylabel("Amit–Meir bound, learned prior")
    fig.colorbar(sc, ax=a2, label=r"$|\mu_0|$ of the target environment")
    report.savefig(fig, outdir, "p5-learned-prior")
