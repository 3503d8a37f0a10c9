"""G7: implicit MAML against the exact solve, finite differences, unrolled MAML and CG's rate."""

import numpy as np
import sympy as sp

from metatheory.claims import get
from metatheory.claims.cost import FLAT_FRAC
from metatheory.claims.imaml import (
    CG_EXACT_TOL,
    CG_SLACK,
    EXACT_TOL,
    FD_TOL,
    LIMIT_TOL,
    RATE_TOL,
)
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


def test_g7_exact_and_finite_differences(verdict):
    v = verdict("G7")
    ex_r, un, cg, mem = v.evidence
    assert np.all(ex_r.exact <= EXACT_TOL), ex_r.exact
    assert np.all(ex_r.jac_fd <= FD_TOL), ex_r.jac_fd
    assert ex_r.mlp_fd <= FD_TOL
    assert ex_r.mlp_min_eig > 0  # the MLP's proximal problem is strongly convex at phi*
    assert v.verdict == get("G7").expected == "holds"


def test_g7_unrolled_limit_and_rate(verdict):
    _, un, _, _ = verdict("G7").evidence
    assert abs(un.rho_fit / un.rho - 1) <= RATE_TOL
    assert un.err[-1] <= LIMIT_TOL and un.mlp_err[-1] <= LIMIT_TOL
    assert np.all(np.diff(np.log(un.err[: un.fit_hi])) < 0)  # monotone geometric decay


def test_g7_cg_within_rate_bound(verdict):
    _, _, cg, _ = verdict("G7").evidence
    for e, k in zip(cg.errors, cg.kappa, strict=True):
        s = np.sqrt(k)
        ks = np.arange(len(e))
        assert np.all(e <= 2 * ((s - 1) / (s + 1)) ** ks * (1 + CG_SLACK))
    assert cg.kappa[0] == 50.5 and cg.test_exact_iters == 3
    assert cg.errors[0][3] <= CG_EXACT_TOL


def test_g7_memory_flat(verdict):
    _, _, _, mem = verdict("G7").evidence
    assert abs(mem.slopes["imaml"].slope) / mem.param_bytes <= FLAT_FRAC
    assert mem.slopes["maml"].slope / mem.param_bytes > FLAT_FRAC


def test_g7_negative_controls_rejected(verdict):
    """First-order iMAML (no inverse), plain unrolled MAML, the rate without lambda and a CG
    bound with kappa^(1/4) are all rejected by the same tolerances."""
    v = verdict("G7")
    ex_r, un, cg, _ = v.evidence
    assert ex_r.exact_control.min() > EXACT_TOL and ex_r.jac_fd_control.min() > FD_TOL
    assert ex_r.mlp_fd_control > FD_TOL
    assert un.plain_err > LIMIT_TOL
    assert abs(un.rho_fit / un.rho_control - 1) > RATE_TOL
    s = cg.kappa[1] ** 0.25
    ks = np.arange(len(cg.errors[1]))
    assert np.any(cg.errors[1] > 2 * ((s - 1) / (s + 1)) ** ks)
    assert v.control_rejected
