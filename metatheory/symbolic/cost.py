r"""Cost model of one MAML step in units of one forward+backward pass (claim G5).

Derived here for the first-order approximation of Finn et al. 2017, Sec. 5.2. Count a gradient
:math:`\nabla L` as 1 unit and a Hessian-vector product as :math:`h` units (Pearlmutter: one
forward-over-reverse pass, :math:`h \approx 2`). With :math:`N` inner steps,

- first-order MAML: :math:`N` inner gradients and one query gradient, :math:`N + 1`;
- MAML: the same forward sweep plus, in the reverse sweep, one product
  :math:`(I-\alpha H_j)v` per inner step: :math:`N + 1 + hN`, i.e. :math:`3N+1` at :math:`h=2`.

The ratio :math:`(3N+1)/(N+1)` is 2 at :math:`N=1`, 8/3 at :math:`N=5` and tends to 3
(in general :math:`1+h`). :func:`derive_cost` builds the counts as sums over the inner steps
and simplifies them; nothing here is typed in as the answer.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "N",
    "HVP_UNITS",
    "derive_cost",
    "ratio",
    "ratio_limit",
    "latex_cost_model",
]

N = sp.Symbol("N", integer=True, positive=True)
j = sp.Symbol("j", integer=True, nonnegative=True)
h = sp.Symbol("h", positive=True)  # units per Hessian-vector product
HVP_UNITS = sp.Integer(2)
"""A forward-over-reverse HVP is one JVP of a gradient: about two forward+backward passes."""


def derive_cost(hvp_units=HVP_UNITS) -> dict[str, sp.Expr]:
    """Unit counts ``{"fomaml", "maml", "ratio"}`` as simplified functions of ``N``.

    Forward sweep: ``sum_{j<N} 1`` inner gradients plus one query gradient. MAML's reverse
    sweep multiplies the query gradient by ``I - alpha H_j`` for ``j = N-1 .. 0``: one HVP
    (``hvp_units``) per step. First-order MAML stops the gradient there: no HVPs.
    """
    grad = sp.Integer(1)
    forward = sp.Sum(grad, (j, 0, N - 1)).doit() + grad
    reverse = sp.Sum(hvp_units, (j, 0, N - 1)).doit()
    fomaml = sp.simplify(forward)
    maml = sp.simplify(forward + reverse)
    return {"fomaml": fomaml, "maml": maml, "ratio": sp.simplify(maml / fomaml)}


def ratio(n: int, hvp_units=HVP_UNITS) -> sp.Rational:
    """The predicted MAML / FOMAML cost ratio at ``N = n`` (exact rational)."""
    return sp.nsimplify(derive_cost(hvp_units)["ratio"].subs(N, n))


def ratio_limit(hvp_units=HVP_UNITS) -> sp.Expr:
    """``lim_{N -> oo}`` of the ratio: ``1 + hvp_units`` (3 at two units per HVP)."""
    return sp.limit(derive_cost(hvp_units)["ratio"], N, sp.oo)


def latex_cost_model() -> str:
    r"""``C_FO = N+1, C_MAML = 3N+1, ratio = (3N+1)/(N+1) -> 3`` as one LaTeX line."""
    c = derive_cost()
    cf, cm, r = sp.Symbol(r"C_{\mathrm{FO}}"), sp.Symbol(r"C_{\mathrm{MAML}}"), c["ratio"]
    parts = [
        sp.latex(sp.Eq(cf, c["fomaml"])),
        sp.latex(sp.Eq(cm, c["maml"])),
        rf"\frac{{C_{{\mathrm{{MAML}}}}}}{{C_{{\mathrm{{FO}}}}}} = {sp.latex(r)}"
        rf"\xrightarrow{{N\to\infty}} {sp.latex(ratio_limit())}",
    ]
    return r",\qquad ".join(parts)
