"""C6: the N-step MAML objective stays smooth at an inner step c/(NL) and not at c/L."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs
from metatheory.claims.step_size import BOUND_RTOL


def test_c6_step_size_holds(verdict):
    v = verdict("C6")
    r = v.evidence
    assert v.verdict == get("C6").expected == "holds", v.failed
    assert np.all(r.emp_fixed <= r.bound_fixed * (1 + BOUND_RTOL))
    assert np.all(r.emp_inverse <= r.bound_inverse * (1 + BOUND_RTOL))
    assert np.all(r.bound_inverse <= r.limit * (1 + BOUND_RTOL))
    # L_N at c/(NL) increases to the limit, as derived
    assert np.all(np.diff(r.bound_inverse) > 0)
    assert v.summary.kind == "bound"


def test_c6_control_rejected(verdict):
    """A fixed step's quotient exceeds the 1/N schedule's limit by orders of magnitude."""
    v = verdict("C6")
    assert v.control_rejected
    assert v.evidence.emp_fixed.max() > 100 * v.evidence.limit


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("C6"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
