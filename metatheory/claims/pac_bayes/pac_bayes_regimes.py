"""Ledger row P2 ``pac_bayes_regimes``: limits, monotonicity and regimes of the Amit–Meir terms
(Amit & Meir 2018, Thm 2), decided by sympy and checked on the calculator."""

from __future__ import annotations

import numpy as np

from metatheory.claims import Check, Summary, Verdict, claim
from metatheory.claims.pac_bayes._common import (
    _am_m_for_m_minus_1,
    _am_meta_delta,
    _am_meta_dropped,
    _am_task_no_sqrt,
)
from metatheory.experiments import pac_bayes as ex

DERIV_TOL = 1e-10
"""Forward-mode autodiff of the calculator (float64) vs ``sympy.diff`` lambdified, relative:
a few logs, a square root and a quotient, ~1e-15 each; 1e-10 leaves five orders of margin,
while any changed constant or dropped term changes a derivative by ≥ 1e-3 relative."""


@claim(
    "P2",
    name="pac_bayes_regimes",
    statement="Meta term → 0 as n → ∞, task term → 0 as m → ∞; bounds increase in KL and "
    "decrease in δ; few-shot → task term dominates, many-shot → meta term.",
    latex=r"$\lim_{n\to\infty}\text{meta} = 0$, $\lim_{m\to\infty}\text{task} = 0$; "
    r"$\partial_{KL} > 0$, $\partial_\delta < 0$",
    source="Amit & Meir 2018, Thm 2 (sympy limits and derivative signs)",
    evidence="identity",
    cites=["amit2018meta"],
    experiment=ex.regimes,
    presets=ex.PAC_BAYES_REGIMES_PRESETS,
    seed=51,
    mutants=[_am_meta_dropped(), _am_m_for_m_minus_1(), _am_meta_delta(), _am_task_no_sqrt()],
)
def check_p2(r: ex.PacBayesRegimesResult) -> Verdict:
    """Exact: sympy decides limits and signs on the whole domain; the calculator's own
    partial derivatives (autodiff) must equal sympy's at random points (rounding tolerance)
    and carry the proved signs; the grid checks are strict inequalities."""
    worst = max(r.deriv_err.values())
    return Verdict.of(
        [
            Check(
                "sympy limits",
                r.limits_ok,
                f"meta(n→∞) = {r.symbolic_limits['meta_n_inf']}, "
                f"task(m→∞) = {r.symbolic_limits['task_m_inf']}",
                "= 0",
            ),
            Check(
                "sympy signs",
                all(r.signs.values()),
                f"{sum(r.signs.values())}/{len(r.signs)} proved",
                "all",
            ),
            Check("sympy regimes", r.regimes_ok, "task/meta → ∞ (few-shot), → 0 (many-shot)"),
            Check.at_most(
                "calculator derivatives = sympy",
                worst,
                DERIV_TOL,
                what=f"max rel. err over {len(r.deriv_err)} partials ",
                digits=2,
            ),
            Check("calculator derivative signs", r.deriv_signs_ok, str(r.deriv_signs_ok)),
            Check(
                "grid monotonicity",
                r.task_decreasing_m
                and r.meta_decreasing_n
                and r.increasing_kl
                and r.decreasing_delta,
                "task ↓ m, meta ↓ n, ↑ KL, ↓ δ",
            ),
            Check(
                "grid regimes",
                r.few_shot_ratio > 1 > r.many_shot_ratio,
                f"task/meta = {r.few_shot_ratio:.3g} at (n, m) = (1e4, 5), "
                f"{r.many_shot_ratio:.3g} at (5, 1e4)",
                "> 1, < 1",
            ),
            Check(
                "control: task term → 0 as n → ∞",
                r.task_n_inf_nonzero and r.task_increasing_n,
                f"rejected: its limit is {r.task_n_inf} (ln(2nm/δ) grows) and it increases "
                "along n on the grid",
                control=True,
            ),
        ],
        predicted="limits 0; signs +KL, −δ, −m (task), −n (meta); task/meta → ∞ (few-shot), "
        "→ 0 (many-shot)",
        numbers={
            "fewratio": r.few_shot_ratio,
            "manyratio": r.many_shot_ratio,
            "signs": sum(r.signs.values()),
            "deriverr": worst,
            "crossn": float(r.n[np.argmin(np.abs(r.n - 100))]),
            "crossm": float(r.crossover_m[np.argmin(np.abs(r.n - 100))]),
        },
        note="finding: at fixed m the Amit–Meir task term grows like sqrt(ln n) (the union "
        "bound over tasks), so more tasks alone do not make the bound vanish.",
        evidence=r,
        summary=Summary.identity(worst, r.n_points, what="random points (sympy: every point)"),
    )
