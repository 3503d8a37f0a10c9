"""P1–P5: PAC-Bayes calculators, symbolic regimes, coverage, softened MAML posterior, learned
prior; each with its negative control."""

import numpy as np

from metatheory import stats
from metatheory.claims import get
from metatheory.claims.pac_bayes import (
    CLAIMS_TEST_VALUES,
    CP_LEVEL,
    JIT_TOL,
    KL_INV_TOL,
    KL_TOL,
    MC_SIGMAS,
    PRIOR_LEVEL,
    SLOPE_TOL,
    SYMPY_TOL,
    TEST_TOL,
)


def test_p1_calculators_equal_derivations(verdict):
    v = verdict("P1")
    r = v.evidence
    assert max(r.mcallester, r.amit_meir, r.pentina_lampert, r.gaussian_kl) <= SYMPY_TOL
    assert r.kl_inverse <= KL_INV_TOL and r.kl_inverse_edges <= KL_INV_TOL
    assert r.kl_le_mcallester and r.jit <= JIT_TOL
    for k, want in CLAIMS_TEST_VALUES.items():
        assert abs(r.test_values[k] - want) <= TEST_TOL, k
    assert v.verdict == get("P1").expected == "holds"


def test_p1_negative_control_wrong_forms_rejected(verdict):
    """ln(1/δ) for ln(2nm/δ), a dropped √, m for m−1, a dropped √m: all miss the values."""
    v = verdict("P1")
    assert v.numbers["control"] > TEST_TOL
    assert v.control_rejected


def test_p2_limits_signs_regimes(verdict):
    v = verdict("P2")
    r = v.evidence
    assert r.task_decreasing_m and r.meta_decreasing_n
    assert r.increasing_kl and r.decreasing_delta
    assert r.few_shot_ratio > 1 > r.many_shot_ratio
    assert v.numbers["signs"] == 7
    assert v.verdict == get("P2").expected == "holds"


def test_p2_negative_control_task_term_does_not_vanish_in_n(verdict):
    """'More tasks alone make the bound vanish' is rejected: the task term grows with n."""
    v = verdict("P2")
    assert v.evidence.task_increasing_n
    assert v.control_rejected


def test_p3_coverage(verdict):
    v = verdict("P3")
    r = v.evidence
    n = r.bound.size
    assert n >= 1000
    k = int(np.sum(r.bound >= r.transfer))
    lo, _ = stats.clopper_pearson(k, n, level=CP_LEVEL)
    assert lo >= 1 - r.delta
    exact, mc, se = r.mc_check
    assert abs(exact - mc) <= MC_SIGMAS * se  # the closed-form transfer risk is right
    assert v.numbers["slackmin"] > 0 or k < n
    assert v.verdict == get("P3").expected == "holds"


def test_p3_negative_control_empirical_risk_alone_fails(verdict):
    r = verdict("P3").evidence
    k = int(np.sum(r.emp >= r.transfer))
    _, hi = stats.clopper_pearson(k, r.emp.size, level=CP_LEVEL)
    assert hi < 1 - r.delta
    assert verdict("P3").control_rejected


def test_p4_point_mass_vacuous_gaussian_finite(verdict):
    v = verdict("P4")
    r = v.evidence
    assert np.all(np.isinf(r.point_mcallester)) and np.all(r.point_kl_inverse == 1.0)
    assert np.all(r.best_bound < 1.0)
    assert np.max(np.abs(r.kl - r.kl_formula) / r.kl_formula) <= KL_TOL
    per_decade = np.diff(r.shrink_kl) / (r.d * np.log(10.0))
    assert abs(per_decade[-1] - 1) <= SLOPE_TOL  # KL -> inf like d ln(1/s) as s -> 0
    assert v.verdict == get("P4").expected == "holds"


def test_p4_negative_control_wrong_kl_scaling(verdict):
    """KL = ||phi - theta||^2 / sigma^2 (the 1/2 dropped) is rejected by the same tolerance."""
    r = verdict("P4").evidence
    wrong = 2 * r.kl_formula
    assert np.min(np.abs(r.kl - wrong) / wrong) > KL_TOL
    assert verdict("P4").control_rejected


def test_p5_learned_prior_lowers_bound(verdict):
    v = verdict("P5")
    r = v.evidence
    ci = stats.mean_ci(r.learned_bound - r.fixed_bound, level=PRIOR_LEVEL)
    assert ci.high < 0
    assert np.all(r.learned_bound < r.fixed_bound)
    assert v.verdict == get("P5").expected == "holds"


def test_p5_negative_control_ascent_rejected(verdict):
    """The same optimizer ascending the bound does not pass the 'lower than fixed' check."""
    r = verdict("P5").evidence
    ci = stats.mean_ci(r.ascent_bound - r.fixed_bound, level=PRIOR_LEVEL)
    assert not ci.high < 0
    assert verdict("P5").control_rejected
