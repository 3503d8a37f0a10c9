"""H1 (early stopping is a Gaussian prior) and H2 (MAML's outer loop as empirical Bayes)."""

import numpy as np

from metatheory.claims import get
from metatheory.claims.bayes import EB_TOL, EXACT_TOL, SLOPE_BAND


def test_h1_gd_iterate_is_map(verdict):
    v = verdict("H1")
    r = v.evidence
    assert r.scalar_err.max() <= EXACT_TOL
    assert r.matrix_err.max() <= EXACT_TOL
    assert r.regression_err.max() <= EXACT_TOL
    assert v.verdict == get("H1").expected == "holds"


def test_h1_series_orders(verdict):
    """The truncated series' errors shrink like alpha and alpha^2, and match the next term."""
    n = verdict("H1").numbers
    assert n["slopeonelow"] <= 1 + SLOPE_BAND and n["slopeonehigh"] >= 1 - SLOPE_BAND
    assert n["slopetwolow"] <= 2 + SLOPE_BAND and n["slopetwohigh"] >= 2 - SLOPE_BAND
    assert abs(n["ratio"] - 1) < 0.01
    assert np.isclose(n["testlambda"], 18.816159, atol=1e-6)


def test_h1_negative_control_rejected(verdict):
    """A wrong lambda (the leading-order 1/(alpha N)) gives a different estimate (the 'iff'),
    and a wrong constant term leaves an O(1) series error (slope 0, not 1)."""
    v = verdict("H1")
    assert v.evidence.scalar_control.min() > EXACT_TOL
    assert v.evidence.matrix_control.min() > EXACT_TOL
    assert abs(v.numbers["slopewrong"] - 1) > SLOPE_BAND
    assert v.control_rejected


def test_h2_minimizer_is_mean_of_optima(verdict):
    v = verdict("H2")
    assert v.evidence.err.max() <= EB_TOL
    assert v.verdict == get("H2").expected == "holds"


def test_h2_negative_control_rejected(verdict):
    """Without a shared Hessian the MAML minimizer is not the mean of the optima."""
    v = verdict("H2")
    assert v.evidence.control.min() > EB_TOL
    assert v.control_rejected
