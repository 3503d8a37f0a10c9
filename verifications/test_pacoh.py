"""P6: the PAC-optimal hyper-posterior of Bayesian linear regression equals its closed form and
the bound at it equals its Donsker–Varadhan minimum; each declared mutant of the calculators
must make the check fail."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs
from metatheory.claims.pacoh import DV_TOL, HP_TOL, SYM_TOL


def test_p6_closed_form_equals_normalised_hyper_posterior(verdict):
    v = verdict("P6")
    r = v.evidence
    assert max(r.mean_err.max(), r.cov_err.max()) <= HP_TOL
    assert r.dv_err.max() <= DV_TOL
    assert max(r.sym_lz_err, r.sym_post_err) <= SYM_TOL and r.sym_ok
    assert set(np.unique(r.d)) == {1, 2}
    # the bound is minimised at the closed form: the DV minimum is the bound's value there
    assert np.all(np.abs(r.bound - r.dv_min) <= DV_TOL * np.maximum(1, np.abs(r.dv_min)))
    assert r.control_err.min() > HP_TOL and v.control_rejected
    assert v.verdict == get("P6").expected == "holds", v.failed


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("P6"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
