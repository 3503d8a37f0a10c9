"""C1–C5: smoothness, task-batch variance and rate of MAML (Fallah, Mokhtari, Ozdaglar 2020)."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs
from metatheory.claims.fmo._common import BOUND_RTOL
from metatheory.claims.fmo.maml_rate import FLOOR_TOL, STATIONARY_TOL
from metatheory.claims.fmo.task_batch_variance import Z_BIAS


@pytest.mark.parametrize("cid", ["C1", "C2", "C3", "C4", "C5"])
def test_verdict(verdict, cid):
    v = verdict(cid)
    assert v.verdict == get(cid).expected == "holds", v.failed


def test_c1_bounds_and_control(verdict):
    v = verdict("C1")
    r = v.evidence
    emp = np.maximum(r.hess, r.hess_dense)
    assert np.all(emp <= r.bound_general * (1 + BOUND_RTOL))
    assert np.all(emp <= r.bound_fmo * (1 + BOUND_RTOL))
    assert v.numbers["tight"] > 0.5  # the general bound is not vacuous on this family
    assert v.numbers["control"] > 1 + BOUND_RTOL and v.control_rejected


def test_c2_bound_grows_exponentially(verdict):
    r = verdict("C2").evidence
    assert np.all(r.empirical <= r.bound * (1 + BOUND_RTOL))
    assert r.growth > 1.5  # the empirical constant grows like (1 + αL)^2 = 4 per step here
    assert np.any(r.empirical > r.linearized * (1 + BOUND_RTOL))


def test_c3_slope_and_bias(verdict):
    v = verdict("C3")
    r = v.evidence
    assert r.slope.low <= -1 <= r.slope.high and not r.slope.low <= -0.5 <= r.slope.high
    assert np.all(np.abs(r.z_indep) <= Z_BIAS)
    # the shared-batch bias is resolved at every B, and its size does not depend on B
    assert np.all(np.max(np.abs(r.z_shared_vs_indep), axis=1) > Z_BIAS)


def test_c4_rate_and_floors(verdict):
    v = verdict("C4")
    r = v.evidence
    assert r.slope.low <= -0.5 <= r.slope.high
    assert r.avg_sq.shape[0] >= 32 and r.horizons.max() >= 8000
    assert abs(r.fo_exponent - 2) <= FLOOR_TOL
    assert r.maml_floor <= STATIONARY_TOL < r.fo_floor.min()  # MAML: no floor; FO-MAML: one
    assert v.control_rejected


def test_c5_theorem_and_batch_scaling(verdict):
    v = verdict("C5")
    r = v.evidence
    assert all(ok for _, _, ok in r.conditions.values()), r.conditions
    assert np.all([c.high for c in r.norm_ci] <= r.accuracy)
    assert r.ratio.low >= np.sqrt(r.batch_sizes[-1] / r.batch_sizes[0])


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("C1", "C2", "C3", "C4", "C5"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
