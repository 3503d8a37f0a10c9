"""Ledger row C1 ``fmo_smoothness``: smoothness of the one-step MAML objective (Fallah,
Mokhtari, Ozdaglar 2020, Lemma 4.2), on the circular task family whose constants are exact.

Decision rule: float64 quantities compared with the bounds (tolerance: rounding).
"""

from __future__ import annotations

import numpy as np

from metatheory.claims import Check, Summary, Verdict, claim
from metatheory.claims.fmo._common import (
    BOUND_RTOL,
    _fs_rho_dropped,
    _fs_single_factor,
    _ms_exponent_n,
)
from metatheory.experiments import fmo as ex

POWER_RTOL = 1e-3
"""HVP power iteration (2000 steps; best of 2 random starts) vs the dense
Hessian's largest |eigenvalue|: convergence is geometric in |λ2/λ1|, close to 1 at a few
sampled points; 1e-3 relative."""
TEST_TOL = 1e-12
"""The claim's test value L(w) = 5.2 at (L, ρ, α, E‖∇f‖) = (1, 2, 0.1, 3), so FMO's step is
1/(12·5.2) = 0.0160256: three float64 operations, rounding ~1e-15."""


@claim(
    "C1",
    name="fmo_smoothness",
    statement="‖∇F(w)−∇F(u)‖ ≤ ((1+αL)²L + αρG')‖w−u‖ ≤ (4L + 2ραE‖∇f_i(w)‖)‖w−u‖ for α ≤ 1/L.",
    latex=r"$\|\nabla F(w)-\nabla F(u)\|\le\bigl((1+\alpha L)^2L+\alpha\rho G'\bigr)\|w-u\|"
    r"\le\bigl(4L+2\rho\alpha E_i\|\nabla f_i(w)\|\bigr)\|w-u\|$",
    source="Fallah, Mokhtari, Ozdaglar 2020, Lemma 4.2",
    experiment=ex.smoothness,
    presets=ex.FMO_SMOOTHNESS_PRESETS,
    evidence="bound",
    cites=["fallah2020convergence"],
    seed=10,
    mutants=[_ms_exponent_n(), _fs_rho_dropped(), _fs_single_factor()],
)
def check_c1(r: ex.FmoSmoothnessResult) -> Verdict:
    emp = np.maximum(r.hess, r.hess_dense)
    tight_g = float(np.max(emp / r.bound_general))
    tight_f = float(np.max(emp / r.bound_fmo))
    pair_g = float(np.max(r.pair_quot / r.pair_general))
    pair_f = float(np.max(r.pair_quot / r.pair_fmo))
    power = float(np.max(np.abs(r.hess - r.hess_dense) / r.hess_dense))
    control = float(np.max(emp / r.L))  # "F is L-smooth like its tasks"
    lim = 1 + BOUND_RTOL
    return Verdict.of(
        [
            Check.at_most("general-bound", tight_g, lim, what="max ‖∇²F‖/bound "),
            Check.at_most("fmo-bound", tight_f, lim, what="max ‖∇²F‖/L(w) "),
            Check.at_most(
                "pairs",
                max(pair_g, pair_f),
                lim,
                what=f"difference quotients/bound: {pair_g:.3f} (general), {pair_f:.3f} (FMO); "
                "max ",
            ),
            Check.at_most("power-vs-dense", power, POWER_RTOL, digits=2),
            Check.at_most(
                "test-value",
                abs(r.test_value - 5.2),
                TEST_TOL,
                what=f"fmo_smoothness(1, 2, 0.1, 3) = {r.test_value:.12g} (5.2; step "
                "1/(12·5.2) = 0.0160256), off by ",
                digits=2,
            ),
            Check(
                "control: ∇F L-smooth like the tasks",
                control > lim,
                f"max ‖∇²F‖/L = {control:.3f}",
                control=True,
            ),
        ],
        predicted="local and pairwise Lipschitz constants of ∇F ≤ both bounds",
        measured=f"max empirical/bound {tight_g:.3f} (general), {tight_f:.3f} (4L+2ραE‖∇f‖); "
        f"pairs {pair_g:.3f}, {pair_f:.3f}; αL ∈ {{{', '.join(f'{a:g}' for a in r.alpha)}}}",
        tolerance=f"ratio ≤ 1 + {BOUND_RTOL:g}; HVP vs dense {POWER_RTOL:g}; test value exact",
        numbers={
            "tight": tight_g,
            "tightfmo": tight_f,
            "pair": pair_g,
            "pairfmo": pair_f,
            "power": power,
            "control": control,
            "testvalue": r.test_value,
            "teststep": 1 / (12 * r.test_value),
            "points": int(r.hess.shape[1]),
        },
        evidence=r,
        summary=Summary.bound(emp.size, max(tight_g, tight_f), what="sampled (α, point) pairs"),
    )
