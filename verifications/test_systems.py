"""S1 and S2: Hessian-vector products in every mode; a sharded task batch."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs
from metatheory.claims.systems import HVP_TOL, SHARD_TOL


def test_s1_hvp_modes_agree(verdict):
    v = verdict("S1")
    r = v.evidence
    assert np.all(r.fwd_rev <= HVP_TOL) and np.all(r.rev_rev <= HVP_TOL)
    assert v.verdict == get("S1").expected == "holds", v.failed


def test_s1_control_rejected(verdict):
    """The diagonal shortcut diag(H) v is rejected by the same tolerance."""
    assert np.all(verdict("S1").evidence.control > HVP_TOL)


def test_s2_sharded_equals_single_device(verdict):
    v = verdict("S2")
    assert v.evidence.n_devices >= 4
    assert "tasks" in v.evidence.placement
    assert v.evidence.rel_err <= SHARD_TOL
    assert v.verdict == "holds", v.failed


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("S1", "S2"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
