"""G1 and G2: the MAML product formula and its first-order / truncated forms."""

import numpy as np
import pytest

from metatheory.claims import get, mutant_pairs
from metatheory.claims.maml import EXACT_TOL, FD_TOL, LOOP_TOL


def test_g1_product_formula_holds(verdict):
    v = verdict("G1")
    r = v.evidence
    assert np.all(r.closed <= EXACT_TOL), r.closed
    assert np.all(r.fd <= FD_TOL), r.fd
    assert r.loop <= LOOP_TOL
    assert v.verdict == get("G1").expected == "holds", v.failed


def test_g1_control_rejected(verdict):
    """Dropping the Hessian factor is rejected by the same tolerances."""
    r = verdict("G1").evidence
    assert np.all(r.closed_control > EXACT_TOL)
    assert np.all(r.fd_control > FD_TOL)
    assert verdict("G1").control_rejected


def test_g2_truncated_products_hold(verdict):
    v = verdict("G2")
    assert np.all(v.evidence.err <= EXACT_TOL), v.evidence.err
    assert {k for _, _, k in v.evidence.cases} >= {0, 1, 2, 3}
    assert v.verdict == "holds", v.failed


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("G1", "G2"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
