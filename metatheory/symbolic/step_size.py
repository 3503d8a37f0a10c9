r"""The inner step size of N-step MAML and the smoothness of its objective (claim C6).

Ji, Yang and Liang (JMLR 23, 2022, abstract): "our results suggest that an inner-stage
stepsize needs to be chosen inversely proportional to the number N of inner-stage steps in
order for N-step MAML to have guaranteed convergence." Their theorems were not read; the
following is derived here from the N-step constant of claim C2,

.. math:: L_N(\alpha) = q^{2N}L + \frac{\rho G}{L}\,q^{N-1}(q^N-1),\qquad q = 1+\alpha L.

- **Fixed step** :math:`\alpha = c/L`: :math:`q = 1+c` and :math:`L_{N+1}/L_N\to(1+c)^2`,
  so :math:`\log L_N` grows by :math:`2\log(1+c)` per inner step (exponential in N).
- **Step** :math:`\alpha = c/(NL)`: :math:`q = 1+c/N`, :math:`q^{2N}\to e^{2c}`,
  :math:`q^{N-1}\to e^{c}`, so

  .. math:: L_\infty = e^{2c}L + \frac{\rho G}{L}\,e^{c}(e^{c}-1),

  and :math:`L_N = L_\infty - a_1/N + O(N^{-2})` with the coefficient ``a1`` of
  :func:`derive_limit`. Both factors :math:`q^{N}` and :math:`q^{N-1}` increase with N
  (:math:`\frac{d}{dN}N\log(1+c/N) = h(c/N)`, :math:`\frac{d}{dN}(N-1)\log(1+c/N) =
  h(c/N) + \frac{c}{N(N+c)}`, :math:`h(x) = \log(1+x) - \frac{x}{1+x}\ge 0` since
  :math:`h(0) = 0`, :math:`h'(x) = x/(1+x)^2`), so :math:`L_N\le L_\infty` for every N.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from metatheory.symbolic.fmo import G, L, N, multi_step_claimed, rho
from metatheory.symbolic.fmo import alpha as _alpha

__all__ = ["c", "derive_limit", "derive_fixed_step_growth", "derive_monotone", "limit_claimed"]

c = sp.Symbol("c", positive=True)
_n = sp.Symbol("n", positive=True)  # N as a positive real, for limits and derivatives
_x = sp.Symbol("x", positive=True)
_u = sp.Symbol("u", positive=True)  # 1/N


def limit_claimed():
    r""":math:`e^{2c}L + (\rho G/L)e^{c}(e^{c}-1)` (the form the calculator implements)."""
    return sp.exp(2 * c) * L + (rho * G / L) * sp.exp(c) * (sp.exp(c) - 1)


@lru_cache
def derive_limit() -> dict:
    r"""``L_N``: C2's constant at :math:`\alpha = c/(NL)`; ``limit``: its limit as
    :math:`N\to\infty` (``sympy.limit``); ``difference``: limit minus :func:`limit_claimed`
    (zero); ``a1``: :math:`\lim_N N(L_\infty - L_N)`, the first-order gap."""
    l_n = multi_step_claimed().subs(_alpha, c / (N * L)).subs(N, _n)
    head = sp.limit((1 + c / _n) ** (2 * _n), _n, sp.oo)
    mid = sp.limit((1 + c / _n) ** (_n - 1), _n, sp.oo)
    power = sp.limit((1 + c / _n) ** _n, _n, sp.oo)
    limit = sp.simplify(head * L + (rho * G / L) * mid * (power - 1))
    difference = sp.simplify(limit - limit_claimed())
    # first-order gap: expand in u = 1/N around 0
    gap = (limit - l_n).subs(_n, 1 / _u)
    a1 = sp.simplify(sp.limit(gap / _u, _u, 0))
    return {"L_N": l_n, "limit": limit, "difference": difference, "a1": a1}


@lru_cache
def derive_fixed_step_growth() -> dict:
    r"""At :math:`\alpha = c/L`: ``ratio`` :math:`\lim_N L_{N+1}/L_N = (1+c)^2`; ``slope``
    its log, the growth of :math:`\log L_N` per inner step."""
    l_n = multi_step_claimed().subs(_alpha, c / L).subs(N, _n)
    ratio = sp.simplify(sp.limit(l_n.subs(_n, _n + 1) / l_n, _n, sp.oo))
    return {"L_N": l_n, "ratio": ratio, "slope": sp.expand_log(sp.log(ratio), force=True)}


@lru_cache
def derive_monotone() -> dict:
    r"""Each factor of :math:`L_N(c/(NL))` increases with N (see the module docstring):
    ``h_prime`` is :math:`h'(x)`, ``head_identity`` and ``mid_identity`` are True when the
    derivatives of :math:`N\log(1+c/N)` and :math:`(N-1)\log(1+c/N)` equal
    :math:`h(c/N)` and :math:`h(c/N) + c/(N(N+c))`."""
    h = sp.log(1 + _x) - _x / (1 + _x)
    h_prime = sp.factor(sp.diff(h, _x))
    hn = h.subs(_x, c / _n)
    d_head = sp.diff(_n * sp.log(1 + c / _n), _n)
    d_mid = sp.diff((_n - 1) * sp.log(1 + c / _n), _n)
    head_identity = sp.simplify(d_head - hn) == 0
    mid_identity = sp.simplify(d_mid - hn - c / (_n * (_n + c))) == 0
    return {
        "h": h,
        "h_prime": h_prime,
        "h_at_zero": h.subs(_x, 0),
        "head_identity": bool(head_identity),
        "mid_identity": bool(mid_identity),
    }
