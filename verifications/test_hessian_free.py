"""C7: Hessian-free MAML's central-difference meta-gradient against MAML's."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs


def test_c7_hf_maml_holds(verdict):
    v = verdict("C7")
    r = v.evidence
    assert v.verdict == get("C7").expected == "holds", v.failed
    assert np.all(r.excess_lip <= 1.0) and np.all(r.excess_smooth <= 1.0)
    # the bounds are attained on the extremal tasks and slack on random ones
    a = r.attaining
    assert np.allclose(r.ratio_lip[a], 1.0, rtol=1e-8)
    assert np.allclose(r.ratio_smooth[a], 1.0, rtol=1e-6)
    assert r.ratio_lip[~a].max() < 1.0
    assert v.summary.kind == "bound"


def test_c7_control_rejected(verdict):
    """The one-sided difference is first order: slope 1, and it exceeds the δ² bound."""
    v = verdict("C7")
    assert v.control_rejected
    assert abs(v.evidence.onesided_slope - 1.0) < 0.05


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("C7"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
