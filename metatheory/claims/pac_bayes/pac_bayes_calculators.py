"""Ledger row P1 ``pac_bayes_calculators``: the PAC-Bayes calculators equal their derivations
and the published forms (McAllester 1999; Maurer 2004, Thm 5; Amit & Meir 2018, Thm 2;
Pentina & Lampert 2014, Thm 1)."""

from __future__ import annotations

from metatheory.claims import Check, Summary, Verdict, claim
from metatheory.claims.pac_bayes._common import (
    _am_m_for_m_minus_1,
    _am_meta_dropped,
    _am_task_delta_n,
    _gaussian_kl_scales_swapped,
    _kl_inverse_pinsker,
    _mcallester_no_sqrt_m,
)
from metatheory.experiments import pac_bayes as ex

SYMPY_TOL = 1e-12
"""Calculators vs ``sympy.lambdify`` of the derivations, float64: the same few logs and a
square root in a different order, ~1e-15 relative; 1e-12 leaves margin and still rejects any
changed term (the smallest control differs by ~1e-3)."""
KL_INV_TOL = 1e-9
"""Accuracy asked of the kl inversion, against ``scipy.optimize.brentq`` at ``xtol = 1e-15``
(80 bisection steps reach 2^-80)."""
JIT_TOL = 1e-10
"""jit vs eager, both float64: XLA may fuse and reorder the same operations (~1e-13 seen)."""
TEST_TOL = 5e-7
"""The published test values are quoted to 6 decimals: half a unit in the last place."""
TEST_VALUES = {"task": 0.419857, "meta": 0.756392, "total": 1.276249, "maurer": 0.0779191}
"""Test values (hyper-KL 5, task-KL 20, n = 10, m = 100, delta = 0.1, er = 0.1; Maurer with
KL = 5, m = 1000, delta = 0.05, er = 0), computed by hand from Amit & Meir (2018, Thm 2) and
Maurer (2004, Thm 5) and quoted to 6 significant digits."""
_CONTROL_TARGET = {
    "task_log_one_over_delta": "task",
    "task_m_not_m_minus_1": "task",
    "meta_no_sqrt": "meta",
    "maurer_no_sqrt_m": "maurer",
}


@claim(
    "P1",
    name="pac_bayes_calculators",
    statement="The calculators equal the Gaussian KL, McAllester/Maurer, kl-inverse, "
    "Amit–Meir and Pentina–Lampert forms; published test values reproduced.",
    latex=r"$er(\mathcal Q) \le \hat{er} + \sqrt{\frac{KL(\mathcal Q\|\mathcal P) + "
    r"E_P KL(Q_i\|P) + \ln(2nm/\delta)}{2(m-1)}} + \sqrt{\frac{KL(\mathcal Q\|\mathcal P) + "
    r"\ln(2n/\delta)}{2(n-1)}}$",
    source="McAllester 1999; Maurer 2004, Thm 5; Amit & Meir 2018, Thm 2; "
    "Pentina & Lampert 2014, Thm 1 (ICML camera-ready)",
    evidence="identity",
    cites=["mcallester1999averaging", "maurer2004note", "amit2018meta", "pentina2014lifelong"],
    experiment=ex.exactness,
    presets=ex.PAC_BAYES_CALCULATORS_PRESETS,
    seed=50,
    mutants=[
        _am_meta_dropped(),
        _am_task_delta_n(),
        _am_m_for_m_minus_1(),
        _gaussian_kl_scales_swapped(),
        _mcallester_no_sqrt_m(),
        _kl_inverse_pinsker(),
    ],
)
def check_p1(r: ex.PacBayesCalculatorsResult) -> Verdict:
    """Exact: rounding-error tolerances (float64), no statistics."""
    sym_err = max(r.mcallester, r.amit_meir, r.pentina_lampert, r.gaussian_kl)
    tv_err = max(abs(r.test_values[k] - v) for k, v in TEST_VALUES.items())
    ctl = {k: abs(v - TEST_VALUES[_CONTROL_TARGET[k]]) for k, v in r.controls.items()}
    return Verdict.of(
        [
            Check(
                "derivations = published forms",
                all(r.forms.values()),
                f"{sum(r.forms.values())}/{len(r.forms)} (sympy)",
                "difference simplifies to 0",
            ),
            Check.at_most(
                "calculators = sympy", sym_err, SYMPY_TOL, what="max rel. err ", digits=2
            ),
            Check.at_most(
                "kl-inverse = brentq", max(r.kl_inverse, r.kl_inverse_edges), KL_INV_TOL, digits=2
            ),
            Check("kl-inverse ≤ McAllester", r.kl_le_mcallester, str(r.kl_le_mcallester)),
            Check.at_most("jit = eager", r.jit, JIT_TOL, digits=2),
            Check.at_most(
                "test values",
                tv_err,
                TEST_TOL,
                what=f"total {r.test_values['total']:.6f}, Maurer "
                f"{r.test_values['maurer']:.7f}; max error ",
                digits=2,
            ),
            Check(
                "control: wrong forms",
                min(ctl.values()) > TEST_TOL and r.sym_control,
                f"ln(1/δ) for ln(2nm/δ), no √, m for m−1, no √m miss the test values by "
                f"≥ {min(ctl.values()):.2g}; sympy rejects ln(1/δ): {r.sym_control}",
                control=True,
            ),
        ],
        predicted="sympy forms; test values 0.419857 / 0.756392 / 1.276249, Maurer 0.0779191",
        numbers={
            "symerr": sym_err,
            "klinverr": r.kl_inverse,
            "jiterr": r.jit,
            "tverr": tv_err,
            "task": f"{r.test_values['task']:.6f}",
            "meta": f"{r.test_values['meta']:.6f}",
            "total": f"{r.test_values['total']:.6f}",
            "maurer": f"{r.test_values['maurer']:.7f}",
            "klinv": f"{r.test_values['klinv']:.7f}",
            "control": min(ctl.values()),
        },
        evidence=r,
        summary=Summary.identity(
            max(sym_err, r.kl_inverse, r.kl_inverse_edges, r.jit),
            r.n_points,
            what="random points (and the published test values)",
        ),
    )
