"""P1–P5: PAC-Bayes calculators, symbolic regimes, coverage of the Amit–Meir bound and of its
union-bound events, the softened MAML posterior, the learned prior against a tuned fixed one;
each declared mutant of the calculators must make its check fail."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs
from metatheory.claims.pac_bayes import (
    DERIV_TOL,
    GROWTH_TOL,
    KL_TOL,
    SYMPY_TOL,
    TEST_TOL,
    TEST_VALUES,
    VACUOUS,
)


def test_p1_calculators_equal_derivations(verdict):
    v = verdict("P1")
    r = v.evidence
    assert max(r.mcallester, r.amit_meir, r.pentina_lampert, r.gaussian_kl) <= SYMPY_TOL
    for k, want in TEST_VALUES.items():
        assert abs(r.test_values[k] - want) <= TEST_TOL, k
    assert v.verdict == get("P1").expected == "holds", v.failed
    assert v.control_rejected


def test_p2_limits_signs_regimes(verdict):
    v = verdict("P2")
    r = v.evidence
    assert max(r.deriv_err.values()) <= DERIV_TOL
    assert r.few_shot_ratio > 1 > r.many_shot_ratio
    assert v.numbers["signs"] == 7
    assert r.task_increasing_n and v.control_rejected  # more tasks alone do not help
    assert v.verdict == get("P2").expected == "holds", v.failed


def test_p3_coverage_and_union_bound_events(verdict):
    v = verdict("P3")
    r = v.evidence
    assert np.all(r.bound >= r.transfer)
    assert np.all(r.task_events) and np.all(r.env_event)
    # the radii are far from used up: the reason near-miss bounds cannot fail coverage
    assert r.task_used.max() < 1 and r.env_used.max() < 1
    assert v.control_rejected
    assert v.verdict == get("P3").expected == "holds", v.failed


def test_p4_point_mass_diverges_gaussian_finite(verdict):
    v = verdict("P4")
    r = v.evidence
    assert np.all(np.isfinite(r.shrink_kl))  # computed, never a literal inf
    assert np.max(np.abs(r.growth_slope - r.d)) <= GROWTH_TOL
    assert np.all(r.shrink_bound[:, -1] >= VACUOUS)
    assert np.max(np.abs(r.kl - r.kl_formula) / r.kl_formula) <= KL_TOL
    assert np.all(r.best_bound < 1.0)
    assert v.verdict == get("P4").expected == "holds", v.failed


def test_p5_learned_prior_beats_tuned_prior(verdict):
    v = verdict("P5")
    r = v.evidence
    assert r.bound_diff.high < 0 and r.risk_diff.high < 0
    assert v.verdict == get("P5").expected == "holds", v.failed


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("P1", "P2", "P3", "P4", "P5"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
