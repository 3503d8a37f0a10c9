"""H1 (early stopping is a Gaussian prior) and H2 (MAML's outer loop as empirical Bayes)."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs
from metatheory.claims.grant import CURV_TOL, EB_TOL, EXACT_TOL, series_errors


def test_h1_gd_iterate_is_map(verdict):
    v = verdict("H1")
    r = v.evidence
    assert r.scalar_err.max() <= EXACT_TOL
    assert r.matrix_err.max() <= EXACT_TOL
    assert r.regression_err.max() <= EXACT_TOL
    assert v.verdict == get("H1").expected == "holds", v.failed


def test_h1_series_next_term(verdict):
    """The two-term error is the sympy coefficient c_1 times alpha, up to the bounded
    remainder; at the smallest alpha their ratio is 1 to O(alpha)."""
    v = verdict("H1")
    c, _, e1, bound, _ = series_errors(v.evidence)
    assert np.all(np.abs(e1 - c[1] * v.evidence.series_alphas) <= bound)
    assert abs(v.numbers["ratio"] - 1) < 0.01
    assert np.isclose(v.numbers["testlambda"], 18.816159, atol=1e-6)
    assert v.control_rejected


def test_h2_minimizer_is_mean_of_optima(verdict):
    v = verdict("H2")
    assert v.evidence.err.max() <= EB_TOL
    assert v.evidence.curvature_err.max() <= CURV_TOL
    assert v.evidence.control.min() > EB_TOL
    assert v.verdict == get("H2").expected == "holds", v.failed


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("H1", "H2"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
