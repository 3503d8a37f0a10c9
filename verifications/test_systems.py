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


def test_s2_sharded_equals_single_device(verdict):
    from metatheory.claims.systems import SHARD_TOL

    v = verdict("S2")
    assert v.evidence.n_devices >= 4
    assert "tasks" in v.evidence.placement
    assert v.evidence.rel_err <= SHARD_TOL
    assert v.verdict == "holds"


def test_s2_negative_control_rejected(verdict):
    """A gradient missing the other shards' tasks is rejected by the same tolerance."""
    from metatheory.claims.systems import SHARD_TOL

    assert verdict("S2").evidence.rel_err_control > SHARD_TOL
