"""S1: Hessian-vector products in every mode equal the explicit product."""

import numpy as np

from metatheory.claims.systems import HVP_TOL


def test_s1_hvp_modes_agree(verdict):
    v = verdict("S1")
    r = v.evidence
    assert np.all(r.fwd_rev <= HVP_TOL) and np.all(r.rev_rev <= HVP_TOL)
    assert np.all(r.fwd_vs_rev <= HVP_TOL)
    assert v.verdict == "holds"


def test_s1_negative_control_rejected(verdict):
    """The diagonal shortcut diag(H) v is rejected by the same tolerance."""
    assert np.all(verdict("S1").evidence.control > HVP_TOL)
