"""Figure of the negative-rates family (G10), drawn from the stored evidence (no fitting here)."""

from __future__ import annotations

import numpy as np

from metatheory import report


def render_g10(v, outdir):
    r = v.evidence
    fig, (a1, a2) = report.plt.subplots(1, 2, figsize=(7.4, 3.0), layout="constrained")
    a = r.curve_alpha
    keep = (a >= -1.2) & (a <= 1.2)
    for j, st in enumerate(r.settings):
        lab = f"p={st.p}, $n_t$={st.n_t}, $n_v$={st.n_v}, ν={st.nu:g}, σ={st.sigma:g}"
        ln = a1.plot(a[keep], r.curve_train[j][keep], lw=1, label=lab)[0]
        a1.axvline(r.alpha_t_star[j], color=ln.get_color(), lw=0.6, ls=":")
        a2.plot(a[keep], r.curve_test[j][keep], lw=1, color=ln.get_color())
        a2.axvline(r.alpha_r_star[j], color=ln.get_color(), lw=0.6, ls=":")
    a1.axvline(0, color="k", lw=0.6)
    a2.axvline(0, color="k", lw=0.6)
    a1.set_xlabel(r"training rate $\alpha_t$ (at $\alpha_r^*$)")
    a1.set_ylabel(r"meta-test loss $\mathcal{L}$, first order in $1/m$")
    a1.legend(fontsize=6, loc="upper left")
    a2.set_xlabel(r"adaptation rate $\alpha_r$ (at $\alpha_t^*$)")
    lo = min(float(np.min(c[keep])) for c in r.curve_test)
    a2.set_ylim(lo * 0.95, lo * 3)
    a1.set_ylim(min(float(np.min(c[keep])) for c in r.curve_train) * 0.98, None)
    report.savefig(fig, outdir, "g10-negative-rates")
