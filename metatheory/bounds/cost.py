r"""The unit-count cost model of one MAML step (claim G5).

Count one gradient (a forward and a backward pass over the support points) as one unit and a
Hessian-vector product as ``hvp_units`` units (Pearlmutter 1994: one forward-over-reverse
pass, about two units). With :math:`N` inner steps first-order MAML evaluates :math:`N`
inner gradients and one query gradient, :math:`N+1` units; MAML adds one product
:math:`(I-\alpha H_j)v` per inner step in its reverse sweep, :math:`(1+h)N+1` units, i.e.
:math:`3N+1` at :math:`h=2`, and the ratio is :math:`((1+h)N+1)/(N+1)`: 2 at :math:`N=1`,
8/3 at :math:`N=5`, tending to :math:`1+h` (Finn et al. 2017, Sec. 5.2; Rajeswaran et al.
2019, Table 1). :func:`metatheory.symbolic.cost.derive_cost` derives the same counts by
summing over the inner loop; a unit test checks that the two agree.
"""

from __future__ import annotations

import numpy as np

from metatheory.bounds._validate import Args

__all__ = ["maml_step_cost"]


def maml_step_cost(n_inner, *, hvp_units=2.0) -> dict:
    r"""Predicted cost of one meta step in gradient units: ``{"fomaml": N + 1,
    "maml": (1 + h) N + 1, "ratio": maml / fomaml, "per_step_fomaml": 1,
    "per_step_maml": 1 + h, "intercept_fomaml": 1, "intercept_maml": 1}``.

    Args:
        n_inner: inner steps N, integers in [0, inf) (broadcasts).
        hvp_units: cost h of one Hessian-vector product (gradient units), in (0, inf).
    """
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    n = v("n_inner", n_inner, low=0, integer=True, **fin)
    h = v("hvp_units", hvp_units, low=0.0, low_open=True, **fin)
    n, h = v.floats(n, h)
    xp = v.xp
    per_fo, per_maml = xp.ones_like(h), 1.0 + h
    fomaml = per_fo * n + 1.0
    maml = per_maml * n + 1.0
    return {
        "fomaml": v.out(fomaml),
        "maml": v.out(maml),
        "ratio": v.out(maml / fomaml),
        "per_step_fomaml": v.out(per_fo),
        "per_step_maml": v.out(per_maml),
        "intercept_fomaml": v.out(xp.ones_like(h)),
        "intercept_maml": v.out(xp.ones_like(h)),
    }
