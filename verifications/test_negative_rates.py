"""G10: one-step MAML on mixed linear regression: the closed-form moments equal Monte Carlo
estimates, the optimal training rate is negative and the optimal adaptation rate positive, and
MAML meta-trained at the negative rate meta-tests better than at the adaptation rate; each
declared mutant of the closed forms must make the check fail."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs


def test_g10_negative_training_rate(verdict):
    v = verdict("G10")
    r = v.evidence
    assert np.all(r.alpha_t_star < 0) and np.all(r.alpha_r_star > 0)
    assert np.all(r.loss_star < r.loss_zero)  # the negative rate beats no inner loop
    for cis, vs in zip(r.v_ci, r.v_closed, strict=True):
        assert all(ci.contains(x) for ci, x in zip(cis, vs, strict=True))
    assert all(ci.high < 0 for ci in r.ratio_ci)
    # trained at the negative rate, MAML meta-tests better than trained at the adaptation rate
    assert all(ci.low > 0 for ci in r.trained_diff_ci)
    assert np.all(r.trained_loss[:, 0] < r.trained_loss[:, 1]) and r.trained_grad <= 1e-4
    assert r.slope_ok and v.control_rejected
    assert v.design_level <= 1e-3
    assert v.verdict == get("G10").expected == "holds", v.failed


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("G10"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
