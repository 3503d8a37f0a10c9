"""G3 (FOMAML bias), G4 (expected updates of MAML, FOMAML, Reptile), G8 (learned step sizes)."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs
from metatheory.claims.fomaml._common import COEF_TOL, LINEAR_TOL
from metatheory.claims.fomaml.fomaml_bias import EXACT_TOL, bias_bounds


def test_g3_bounds_attained_and_mlp_bounded(verdict):
    v = verdict("G3")
    r = v.evidence
    b = bias_bounds(r)
    assert np.all(np.abs(np.abs(r.quad_bias[0]) - b["psd"]) <= EXACT_TOL * b["psd"])
    assert np.all(np.abs(np.abs(r.quad_bias[1]) - b["general"]) <= EXACT_TOL * b["general"])
    assert np.all(r.mlp_bias <= b["mlp"])
    assert r.slope_err.max() <= COEF_TOL
    assert v.numbers["gap"] > 1.5  # (1 + aL)^N - 1 is far from N aL in the tested range
    assert v.verdict == get("G3").expected == "holds", v.failed


def test_g4_coefficients(verdict):
    v = verdict("G4")
    for k in ("maml", "fomaml", "reptile", "mlp"):
        assert v.numbers[k] <= COEF_TOL, (k, v.numbers[k])
    assert np.isclose(v.numbers["exact"], 9.607920, atol=1e-6) and np.isclose(
        v.numbers["lead"], 9.6
    )
    assert v.verdict == get("G4").expected == "holds", v.failed


def test_g8_step_size_gradient_and_learned_alpha(verdict):
    v = verdict("G8")
    assert v.numbers["err"] <= LINEAR_TOL
    assert v.numbers["sharelow"] > 0.5  # learned steps better on most held-out tasks
    assert v.numbers["share"] > 0.5 and v.numbers["sharezero"] > 0.5
    assert v.numbers["learned"] < v.numbers["zero"]  # adaptation beats predicting 0
    assert v.numbers["moved"] > 0.5  # the step sizes did train
    assert v.verdict == get("G8").expected == "holds", v.failed


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("G3", "G4", "G8"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
