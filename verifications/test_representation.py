"""R1: ANIL recovers the ground-truth representation at the derived rate ln(1 − αβλ_min)."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs
from metatheory.claims.representation import EXPONENT_RTOL, RECOVERY_MAX


def test_r1_anil_representation_holds(verdict):
    v = verdict("R1")
    r = v.evidence
    assert v.verdict == get("R1").expected == "holds", v.failed
    assert v.summary.kind == "rate" and v.design_level == 0.0
    rho = 1 - r.alpha * r.beta * r.sigma.min()
    assert r.log_rho == pytest.approx(np.log(rho), rel=1e-14)
    np.testing.assert_allclose(r.exponents, np.log(rho), rtol=EXPONENT_RTOL)
    assert np.all(r.dist[:, -1] <= RECOVERY_MAX * r.dist[:, 0])
    # the distance falls monotonically over the fitted window and stays above its float floor
    win = r.dist[:, r.window_start :]
    assert np.all(np.diff(win, axis=1) < 0) and np.all(win > 1e-12)
    # E w_* = 0 keeps the meta-learned head initialisation at 0 (up to rounding)
    assert np.all(r.head_norm < 1e-12)


def test_r1_control_rejected(verdict):
    """Without head adaptation the column space of B does not move: the distance stays put."""
    v = verdict("R1")
    assert v.control_rejected
    r = v.evidence
    np.testing.assert_allclose(r.dist_control[:, -1], r.dist_control[:, 0], rtol=1e-6)


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("R1"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
