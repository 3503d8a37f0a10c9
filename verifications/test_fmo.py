"""C1–C5: smoothness, task-batch variance and rate of MAML (Fallah, Mokhtari, Ozdaglar 2020)."""

import numpy as np

from metatheory.claims import get
from metatheory.claims.fmo import (
    BOUND_RTOL,
    FLOOR_TOL,
    LEVEL,
    POWER_RTOL,
    SLOPE_SYS,
    Z_BIAS,
)
from metatheory.stats import loglog_slope


def test_c1_smoothness_bounds_hold(verdict):
    v = verdict("C1")
    r = v.evidence
    emp = np.maximum(r.hess, r.hess_dense)
    assert np.all(emp <= r.bound_general * (1 + BOUND_RTOL))
    assert np.all(emp <= r.bound_fmo * (1 + BOUND_RTOL))
    assert np.all(r.pair_ratio <= 1 + BOUND_RTOL) and np.all(r.pair_ratio_fmo <= 1 + BOUND_RTOL)
    assert np.all(np.abs(r.hess - r.hess_dense) <= POWER_RTOL * r.hess_dense)
    assert v.numbers["tight"] > 0.5  # the bound is not vacuous on this family
    assert v.verdict == get("C1").expected == "holds"


def test_c1_negative_control_rejected(verdict):
    """'∇F is L-smooth like the task losses' is violated: the MAML factor is needed."""
    assert verdict("C1").numbers["control"] > 1 + BOUND_RTOL
    assert verdict("C1").control_rejected


def test_c2_multistep_within_bound(verdict):
    v = verdict("C2")
    r = v.evidence
    assert np.all(r.empirical <= r.bound * (1 + BOUND_RTOL))
    assert r.growth > 1.2  # the empirical constant does grow exponentially in N
    assert v.verdict == "holds"


def test_c2_negative_control_rejected(verdict):
    """A bound without the exponential factor (linear in N) is exceeded."""
    r = verdict("C2").evidence
    assert np.any(r.empirical > r.linearized * (1 + BOUND_RTOL))
    assert verdict("C2").control_rejected


def test_c3_variance_slope_and_bias(verdict):
    v = verdict("C3")
    r = v.evidence
    fit = loglog_slope(r.batch_sizes, r.var_indep, level=LEVEL)
    assert fit.contains(-1.0), fit
    assert np.all(np.abs(r.mean_indep - r.exact_indep) <= Z_BIAS * r.se_indep)
    assert np.all(np.abs(r.mean_shared - r.exact_indep).max(axis=1) > Z_BIAS * r.se_shared.max())
    assert loglog_slope(r.batch_sizes, r.bias_shared, level=LEVEL).contains(0.0)
    assert v.verdict == "holds"


def test_c3_negative_control_rejected(verdict):
    """Slope −½ (variance) and a bias shrinking like B^{-1/2} are both rejected."""
    r = verdict("C3").evidence
    assert not loglog_slope(r.batch_sizes, r.var_indep, level=LEVEL).contains(-0.5)
    assert not loglog_slope(r.batch_sizes, r.bias_shared, level=LEVEL).contains(-0.5)
    assert verdict("C3").control_rejected


def test_c4_rate_slope_and_first_order_floor(verdict):
    v = verdict("C4")
    n = v.numbers
    assert n["cilow"] - SLOPE_SYS <= -0.5 <= n["cihigh"] + SLOPE_SYS
    assert v.evidence.avg_sq.shape[1] >= 64 and v.evidence.horizons.max() >= 1e5
    assert abs(n["foslope"] - 2) <= FLOOR_TOL
    assert n["mamlfloor"] < 1e-12 < n["fofloor"]  # MAML has no floor, FO-MAML has one
    assert v.verdict == "holds"


def test_c4_negative_controls_rejected(verdict):
    """Slopes −1 and −¼ lie outside the interval; a floor ∝ α is rejected."""
    n = verdict("C4").numbers
    lo, hi = n["cilow"] - SLOPE_SYS, n["cihigh"] + SLOPE_SYS
    assert not lo <= -1 <= hi and not lo <= -0.25 <= hi
    assert abs(n["foslope"] - 1) > FLOOR_TOL
    assert verdict("C4").control_rejected


def test_c5_fmo_bound_holds(verdict):
    v = verdict("C5")
    r = v.evidence
    assert all(bool(c[2]) for c in r.conditions.values()), r.conditions
    assert np.all(r.avg_sq.mean(axis=1) <= r.bound)
    assert abs(r.step_test - 5 / 312) < 1e-15  # 1/(12 * 5.2) = 0.0160256...
    assert v.verdict == "holds"


def test_c5_negative_control_rejected(verdict):
    """The bound without its variance term is violated at the longest horizon."""
    r = verdict("C5").evidence
    assert r.avg_sq[-1].mean() > r.deterministic[-1]
    assert verdict("C5").control_rejected
