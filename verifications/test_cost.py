"""G5 and G6: FLOPs and memory of MAML, FOMAML, checkpointed MAML and iMAML against N."""

import numpy as np
import sympy as sp

from metatheory.claims import get
from metatheory.claims.cost import (
    CKPT_MIN,
    FLAT_FRAC,
    GROW_FRAC,
    LINEAR_TOL,
    RATIO_TOL,
)
from metatheory.symbolic import cost as sym


def test_g5_symbolic_model():
    c = sym.derive_cost()
    assert sp.simplify(c["fomaml"] - (sym.N + 1)) == 0
    assert sp.simplify(c["maml"] - (3 * sym.N + 1)) == 0
    assert [sym.ratio(n) for n in (1, 5)] == [2, sp.Rational(8, 3)]
    assert sym.ratio_limit() == 3
    assert sym.ratio_limit(sym.h) == 1 + sym.h


def test_g5_flop_model_holds(verdict):
    v = verdict("G5")
    r = v.evidence
    n, u = r.n_inner, r.unit_flops
    ratio = r.flops["maml"] / r.flops["fomaml"]
    pred = (3 * n + 1) / (n + 1)
    assert np.all(np.abs(ratio / pred - 1) <= RATIO_TOL), ratio
    assert np.all(np.abs(r.flops["maml"] / u / (3 * n + 1) - 1) <= RATIO_TOL)
    assert np.all(np.abs(r.flops["fomaml"] / u / (n + 1) - 1) <= RATIO_TOL)
    # FLOPs grow by ~3 units per inner step for MAML, ~1 for FOMAML
    assert abs(r.slope_maml.slope - 3) <= 3 * RATIO_TOL
    assert abs(r.slope_fomaml.slope - 1) <= RATIO_TOL
    assert v.verdict == get("G5").expected == "holds"


def test_g5_negative_control_rejected(verdict):
    """Counting an HVP as one unit, ratio (2N+1)/(N+1), is rejected by the same tolerance."""
    v = verdict("G5")
    r = v.evidence
    n = r.n_inner
    ratio = r.flops["maml"] / r.flops["fomaml"]
    assert np.max(np.abs(ratio / ((2 * n + 1) / (n + 1)) - 1)) > RATIO_TOL
    assert v.control_rejected


def test_g6_memory_slopes(verdict):
    v = verdict("G6")
    r = v.evidence
    p = r.param_bytes
    assert r.slopes["maml"].slope / p >= GROW_FRAC
    assert v.numbers["lineardev"] <= LINEAR_TOL
    assert abs(r.slopes["fomaml"].slope) / p <= FLAT_FRAC
    assert abs(r.slopes["imaml"].slope) / p <= FLAT_FRAC
    # the checkpointed scan stores exactly one parameter copy per step
    assert abs(r.slopes["maml_scan_ckpt"].slope / p - 1) <= FLAT_FRAC
    assert v.numbers["savescan"] / 100 >= CKPT_MIN


def test_g6_verdict_records_the_correction(verdict):
    """Checkpointing the unrolled loop saves (almost) nothing: the ledger says so."""
    v = verdict("G6")
    assert v.numbers["saveunrolled"] / 100 < CKPT_MIN
    assert v.verdict == get("G6").expected == "holds-with-correction"
    assert "lax.scan" in v.note


def test_g6_negative_control_rejected(verdict):
    """Swapping roles (MAML called flat, FOMAML called growing) is rejected."""
    v = verdict("G6")
    r = v.evidence
    assert r.slopes["maml"].slope / r.param_bytes > FLAT_FRAC
    assert r.slopes["fomaml"].slope / r.param_bytes < GROW_FRAC
    assert v.control_rejected
