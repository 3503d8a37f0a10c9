"""G3 (FOMAML bias), G4 (Reptile's expected update), G8 (learned step sizes)."""

import numpy as np

from metatheory.claims import get
from metatheory.claims.first_order import EXACT_TOL, LINEAR_TOL, SLOPE_BAND


def test_g3_exact_on_quadratics_and_bounded_on_mlp(verdict):
    v = verdict("G3")
    r = v.evidence
    assert r.quad_err.max() <= EXACT_TOL  # the PSD bound is attained in 1-D
    assert r.linear_err.max() <= LINEAR_TOL
    assert r.linear_ratio.max() <= 1 + LINEAR_TOL
    assert np.all(r.bias <= r.bound)
    assert v.verdict == get("G3").expected == "holds"


def test_g3_slope_one(verdict):
    n = verdict("G3").numbers
    for w in ("one", "five"):
        assert n[f"slope{w}low"] <= 1 + SLOPE_BAND and n[f"slope{w}high"] >= 1 - SLOPE_BAND


def test_g3_negative_control_rejected(verdict):
    """A bias quadratic in alpha (slope 2) is rejected by the same interval check."""
    v = verdict("G3")
    for w in ("one", "five"):
        assert v.numbers[f"slope{w}high"] < 2 - SLOPE_BAND
    assert v.control_rejected


def test_g4_residual_is_second_order(verdict):
    v = verdict("G4")
    n = v.numbers
    assert n["slopemin"] >= 2 - SLOPE_BAND and n["slopemax"] <= 2 + SLOPE_BAND
    assert n["kone"] <= EXACT_TOL
    assert np.isclose(n["exact"], 9.607920, atol=1e-6) and np.isclose(n["lead"], 9.6)
    assert v.verdict == get("G4").expected == "holds"


def test_g4_negative_control_rejected(verdict):
    """Slope 1 is rejected, and dropping the AvgGradInner term leaves a first-order residual."""
    v = verdict("G4")
    assert v.numbers["cilow"] > 1 + SLOPE_BAND
    assert v.numbers["controlmax"] < 2 - SLOPE_BAND
    assert v.control_rejected


def test_g8_step_size_gradient_and_learned_alpha(verdict):
    v = verdict("G8")
    r = v.evidence
    assert r.err_scalar.max() <= LINEAR_TOL and r.err_vector.max() <= LINEAR_TOL
    assert v.numbers["difflow"] > 0  # learned step sizes beat the fixed alpha
    assert v.numbers["moved"] > 0.5  # the step sizes did train
    assert v.verdict == get("G8").expected == "holds"


def test_g8_negative_control_rejected(verdict):
    """Dropping the (I - H A) factors of later steps from the closed form is rejected."""
    v = verdict("G8")
    assert v.numbers["control"] > LINEAR_TOL
    assert v.control_rejected
