"""M1 (prototypes are linear classifiers), M2 (the mean is the Bregman centre), M3 (clusters)."""

import numpy as np
import pytest

from metatheory import stats
from metatheory.claims import get, mutant_pairs
from metatheory.claims.protonet import ACC_MARGIN, LEVEL, MIN_TOL, NLL_MARGIN, PROB_TOL


def test_m1_linear_equivalence(verdict):
    v = verdict("M1")
    r = v.evidence
    exact = np.array([1 / (1 + np.exp(-4.0)), 1 / (1 + np.exp(4.0))])  # softmax(-1, -5)
    assert np.allclose(r.p_test_dist, exact, atol=PROB_TOL, rtol=0)
    assert np.allclose(r.p_test_linear, exact, atol=PROB_TOL, rtol=0)
    assert r.err_prob <= PROB_TOL and r.err_shift <= PROB_TOL
    assert v.verdict == get("M1").expected == "holds", v.failed


def test_m1_control_rejected(verdict):
    """The wrong bias b_k = +‖c_k‖² gives other probabilities."""
    v = verdict("M1")
    assert v.evidence.err_control > PROB_TOL
    assert v.control_rejected


def test_m2_mean_is_bregman_optimal(verdict):
    v = verdict("M2")
    r = v.evidence
    assert set(r.names) == {"sqeuclid", "genkl", "itakurasaito"}
    assert np.all(r.err_min <= MIN_TOL), r.err_min
    assert v.verdict == get("M2").expected == "holds", v.failed


def test_m2_controls(verdict):
    """L1 is minimized by the median; Σ D(μ, x_i) by other means for KL and Itakura–Saito."""
    r = verdict("M2").evidence
    assert r.l1_vs_median <= MIN_TOL < r.l1_vs_centre
    assert np.all(r.err_reverse[1:] > MIN_TOL)


def test_m3_matches_nearest_centroid(verdict):
    v = verdict("M3")
    r = v.evidence
    for name in ("proto", "matching"):
        d = stats.mean_ci(r.acc[name] - r.acc["centroid"], level=LEVEL)
        assert d.low > -ACC_MARGIN, (name, d)
        assert r.loss[name][-1] < r.loss[name][0]  # the episodic loss went down
    excess = stats.mean_ci(r.nll["proto"] - r.nll["predictive"], level=LEVEL)
    assert excess.high < NLL_MARGIN
    assert r.ci["control"].low <= 0.2 <= r.ci["control"].high  # chance
    assert v.verdict == get("M3").expected == "holds", v.failed


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("M1", "M2", "M3"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
