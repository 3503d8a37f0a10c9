"""G7: implicit MAML against the exact solve, finite differences, unrolled MAML and CG's rate."""

import numpy as np
import pytest
import sympy as sp

from metatheory.bounds.imaml import cg_error_bound, imaml_condition_number
from metatheory.claims import get, mutant_pairs
from metatheory.claims.imaml import (
    CG_EXACT_TOL,
    CG_SLACK,
    CG_TIGHT,
    EXACT_TOL,
    FD_TOL,
    LIMIT_TOL,
    RATE_TOL,
    cg_bound_ratios,
    local_rate,
)
from metatheory.experiments._compiled import FLAT_FRAC
from metatheory.symbolic import imaml as sym


def test_g7_symbolic_jacobian_and_rate():
    jac, claimed = sym.derive_jacobian_scalar()
    assert sp.simplify(jac - claimed) == 0
    jm, cm = sym.derive_jacobian_matrix(2)
    assert sp.simplify(jm - cm) == sp.zeros(2, 2)
    kappa, rate = sym.cg_rate([1, 10, 100], 1)
    assert kappa == sp.Rational(101, 2)
    assert abs(float(rate) - 0.753279) < 5e-7
    assert sym.cg_exact_iterations([1, 10, 100], 1) == 3
    _, implicit, err = sym.derive_unrolled()
    byname = {str(x): x for x in err.free_symbols | implicit.free_symbols}
    for n in range(5):
        vals = {byname["alpha"]: 0.1, byname["h"]: 2.0, byname["lambda"]: 1.0, byname["N"]: n}
        assert abs(float(err.subs(vals)) - 0.7**n * 2 / 3) < 1e-12
    assert abs(float(implicit.subs(vals)) - 1 / 3) < 1e-12


def test_cg_calculators_match_the_test_value():
    assert imaml_condition_number([1.0, 10.0, 100.0], 1.0) == pytest.approx(50.5, rel=1e-15)
    assert cg_error_bound(50.5, 1) == pytest.approx(2 * 0.753279, rel=1e-6)
    with pytest.raises(ValueError, match="kappa"):
        cg_error_bound(0.5, 1)
    with pytest.raises(ValueError, match="lam"):
        imaml_condition_number([-2.0, 1.0], 1.0)


def test_g7_exact_and_finite_differences(verdict):
    v = verdict("G7")
    e = v.evidence.exact
    assert np.all(e.exact <= EXACT_TOL), e.exact
    assert np.all(e.jac_fd <= FD_TOL), e.jac_fd
    assert e.mlp_fd <= FD_TOL
    assert e.mlp_min_eig > 0  # the MLP's proximal problem is strongly convex at phi*
    assert v.verdict == get("G7").expected == "holds", v.failed


def test_g7_unrolled_limit_and_rate(verdict):
    un = verdict("G7").evidence.unrolled
    assert abs(local_rate(un.err) / un.rho - 1) <= RATE_TOL
    assert un.err[-1] <= LIMIT_TOL
    assert un.mlp_err[-1] <= LIMIT_TOL or abs(local_rate(un.mlp_err) / un.mlp_rho - 1) <= RATE_TOL
    assert np.all(np.diff(np.log(un.err)) < 0)  # monotone geometric decay


def test_g7_cg_within_and_near_the_bound(verdict):
    cg = verdict("G7").evidence.cg
    kappa, ratios = cg_bound_ratios(cg)
    assert kappa[0] == pytest.approx(50.5, rel=1e-12) and cg.test_exact_iters == 3
    assert all(np.all(x <= 1 + CG_SLACK) for x in ratios)
    r = ratios[cg.names.index("spread")]
    assert np.min(1 / r[len(r) // 2 :]) <= CG_TIGHT
    assert cg.errors[0][3] <= CG_EXACT_TOL


def test_g7_memory_flat_on_programs_compiled_per_n(verdict):
    mem = verdict("G7").evidence.memory
    assert len(mem.n_inner) >= 2
    assert abs(mem.fit.per_step) <= FLAT_FRAC


@pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("G7"))
def test_mutant_rejected(verdict, cid, mutant):
    v = verdict(cid, mutant)
    assert v.verdict == "fails", (v.verdict, v.measured)
