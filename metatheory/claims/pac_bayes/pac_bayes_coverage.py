"""Ledger row P3 ``pac_bayes_coverage``: the Amit–Meir bound (Amit & Meir 2018, Thm 2) covers
the transfer risk in ≥ 1−δ of draws, and each of its union-bound events holds at its level."""

from __future__ import annotations

import numpy as np

from metatheory import stats
from metatheory.claims import Check, Summary, Verdict, claim
from metatheory.claims.pac_bayes._common import (
    MC_LEVEL,
    MC_SIGMAS,
    _am_meta_dropped,
    _am_no_sqrt,
    _am_task_quartered,
    _transfer_no_task_spread,
)
from metatheory.experiments import pac_bayes as ex

CP_LEVEL = 1 - 0.9994
"""Tail probability (6e-4) of the two-sided Clopper–Pearson interval of each coverage sub-check
(a 99.94% interval): its lower limit is a one-sided 99.97% bound, so a true coverage of exactly
its target passes by chance with probability ≤ 3e-4 (designed false alarm 3e-4 per sub-check,
0.96e-3 for the claim with the Monte Carlo check; claims.CLAIM_LEVEL)."""


def _cp_low(k, n):
    return stats.clopper_pearson(int(k), int(n), level=CP_LEVEL)[0]


@claim(
    "P3",
    name="pac_bayes_coverage",
    statement="The Amit–Meir bound exceeds the transfer risk in ≥ 1−δ of draws of the observed "
    "tasks; its two union-bound events (every task at δ/(2n), the environment at δ/2) each "
    "hold at their level.",
    latex=r"$\Pr[er(\mathcal Q) \le \text{bound}] \ge 1-\delta$; task events at "
    r"$\delta/(2n)$, environment event at $\delta/2$",
    source="Amit & Meir 2018, Thm 2",
    evidence="bound",
    cites=["amit2018meta", "pentina2014lifelong"],
    experiment=ex.coverage,
    presets=ex.PAC_BAYES_COVERAGE_PRESETS,
    seed=52,
    statistical=True,
    mutants=[_am_meta_dropped(), _am_task_quartered(), _am_no_sqrt(), _transfer_no_task_spread()],
)
def check_p3(r: ex.PacBayesCoverageResult) -> Verdict:
    """Statistical: three Clopper–Pearson sub-checks (level 3e-4 each) and the Monte Carlo
    check of the closed-form transfer risk (6e-5).

    What coverage cannot see: the measured per-event radius fractions (``task_used``,
    ``env_used``) stay far below 1, because McAllester's ln(N/δ') carries a factor N that
    Hoeffding's inequality does not need, so each event fails with probability ≤ δ'/N. A bound
    that is too small by a union-bound factor (δ/n for δ/(2n): the task radius × ~0.98; δ for
    δ/2: the environment radius × ~0.96) or by m for m−1 (× 0.995) still covers every draw;
    those mutants are P1's and P2's to catch.
    """
    n = r.bound.size
    k = int(np.sum(r.bound >= r.transfer))
    k_task = int(np.sum(r.task_events))
    k_env = int(np.sum(r.env_event))
    lo, lo_task, lo_env = _cp_low(k, n), _cp_low(k_task, n), _cp_low(k_env, n)
    k_ctl = int(np.sum(r.emp >= r.transfer))
    _, hi_ctl = stats.clopper_pearson(k_ctl, n, level=CP_LEVEL)
    k_pl = int(np.sum(r.pl_bound >= r.transfer))
    k_nometa = int(np.sum(r.emp + r.task >= r.transfer))
    slack = r.bound - r.transfer
    target = 1 - r.delta
    return Verdict.of(
        [
            Check.at_least(
                "coverage",
                lo,
                target,
                what=f"{k}/{n}; Clopper–Pearson lower limit ",
                level=CP_LEVEL / 2,
                digits=4,
            ),
            Check.at_least(
                "task-level events",
                lo_task,
                1 - r.delta / 2,
                what=f"all {r.n_tasks} task events hold in {k_task}/{n}; radius used ≤ "
                f"{r.task_used.max():.2f}; Clopper–Pearson lower limit ",
                level=CP_LEVEL / 2,
                digits=4,
            ),
            Check.at_least(
                "environment event",
                lo_env,
                1 - r.delta / 2,
                what=f"{k_env}/{n}; radius used ≤ {r.env_used.max():.3f}; Clopper–Pearson "
                "lower limit ",
                level=CP_LEVEL / 2,
                digits=4,
            ),
            Check.at_most(
                "closed-form transfer risk",
                abs(r.mc_exact - r.mc),
                MC_SIGMAS * r.mc_se,
                what=f"{r.mc_exact:.5f} vs Monte Carlo {r.mc:.5f} ± {r.mc_se:.1e}: |difference| ",
                level=MC_LEVEL,
            ),
            Check(
                "control: empirical risk alone",
                hi_ctl < target,
                f"coverage {k_ctl}/{n} (CP upper {hi_ctl:.3f} < {target:g})",
                control=True,
            ),
        ],
        predicted=f"coverage ≥ 1−δ = {target:g}; each union-bound event at its level",
        measured=f"coverage {k}/{n} (CP lower {lo:.4f}); task events {k_task}/{n}, environment "
        f"event {k_env}/{n}; slack mean {slack.mean():.3f}, min {slack.min():.3f}",
        numbers={
            "draws": n,
            "ntasks": r.n_tasks,
            "m": r.m,
            "delta": r.delta,
            "coverage": k / n,
            "covered": k,
            "cilow": lo,
            "taskcovered": k_task,
            "taskcilow": lo_task,
            "envcovered": k_env,
            "envcilow": lo_env,
            "taskused": float(r.task_used.max()),
            "envused": float(r.env_used.max()),
            "slackmean": float(slack.mean()),
            "slackmin": float(slack.min()),
            "bound": float(r.bound.mean()),
            "transfer": float(r.transfer.mean()),
            "emp": float(r.emp.mean()),
            "task": float(r.task.mean()),
            "meta": float(r.meta.mean()),
            "klhyper": float(r.kl_hyper.mean()),
            "kltask": float(r.kl_task.mean()),
            "controlcov": k_ctl / n,
            "controlhigh": hi_ctl,
            "plcoverage": k_pl / n,
            "plbound": float(r.pl_bound.mean()),
            "nometacov": k_nometa / n,
            "mcexact": r.mc_exact,
            "mc": r.mc,
            "mcse": r.mc_se,
        },
        note="coverage cannot discriminate near-miss bounds: each union-bound event uses at "
        f"most {r.task_used.max():.2f} (task) and {r.env_used.max():.3f} (environment) of its "
        "radius, so a union-bound factor (radius × ~0.96–0.98) or m for m−1 (× 0.995) cannot fail "
        "it; P1/P2 catch those.",
        evidence=r,
        summary=Summary.bound(
            k,
            float(np.max((r.transfer / r.bound)[r.bound >= r.transfer])) if k else np.nan,
            what="draws" if k == n else f"of {n:,} draws (≥ 1−δ = {target:g} required)",
        ),
    )
