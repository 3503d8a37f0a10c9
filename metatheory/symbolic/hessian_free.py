r"""Error of the finite-difference Hessian-vector product of Hessian-free MAML (claim C7).

Fallah, Mokhtari and Ozdaglar (AISTATS 2020, abstract) propose "Hessian-free MAML which
preserves all theoretical guarantees of MAML, without requiring access to second-order
information". Their estimator was not read in the paper; as we implement it, the product
:math:`\nabla^2 f(w)v` in the one-step meta-gradient
:math:`(I-\alpha\nabla^2 f_S(w))\nabla f_Q(\tilde w)`, :math:`v = \nabla f_Q(\tilde w)`, is
replaced by the central difference

.. math:: d_\delta(w, v) = \frac{\nabla f(w+\delta v) - \nabla f(w-\delta v)}{2\delta}.

Derived here, with :math:`\varphi(s) = \nabla f(w+sv)`:

- **Lipschitz Hessian** (:math:`\|\nabla^2 f(x)-\nabla^2 f(y)\|\le\rho\|x-y\|`):
  :math:`2\delta(d_\delta - \nabla^2 f(w)v) = \int_0^\delta [(\nabla^2 f(w+tv) -
  \nabla^2 f(w))v + (\nabla^2 f(w-tv)-\nabla^2 f(w))v]\,dt`, each bracket at most
  :math:`\rho t\|v\|^2`, so

  .. math:: \|d_\delta - \nabla^2 f(w)v\|\le \rho\delta\|v\|^2/2,

  attained by :math:`f(w) = (\rho/6)|a^\top w|^3` (:math:`\|a\| = 1`) at :math:`a^\top w = 0`,
  :math:`v\parallel a`. The one-sided difference :math:`(\nabla f(w+\delta v)-\nabla f(w))/\delta`
  has the same bound (attained by :math:`(\rho/6)(a^\top w)^3`, for which the central
  difference is exact).
- **Lipschitz third derivative** (:math:`\rho_3`): the even part of :math:`\varphi'` cancels,
  :math:`\varphi'(t)+\varphi'(-t)-2\varphi'(0) = \int_0^t(\varphi''(s)-\varphi''(-s))\,ds`,
  at most :math:`\rho_3 t^2\|v\|^3`, so

  .. math:: \|d_\delta - \nabla^2 f(w)v\|\le \rho_3\delta^2\|v\|^3/6,

  attained by :math:`(\rho_3/24)(a^\top w)^4` with :math:`v\parallel a` at every :math:`w`;
  the one-sided difference stays first order,
  :math:`\frac\delta2\nabla^3 f(w)[v,v] + O(\delta^2)`.

So the HF-MAML meta-gradient differs from MAML's by :math:`\alpha\|d_\delta-\nabla^2 f_S(w)v\|
\le\alpha\rho\delta\|v\|^2/2`, and by :math:`O(\delta^2)` for smooth losses.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = [
    "rho",
    "rho3",
    "delta",
    "v",
    "derive_lipschitz_hessian_bound",
    "derive_smooth_bound",
    "derive_attainment",
    "derive_series",
]

rho, rho3, delta, v, t, s = sp.symbols("rho rho3 delta v t s", positive=True)


@lru_cache
def derive_lipschitz_hessian_bound() -> dict:
    r"""``central`` and ``one_sided``: the integrals of the module docstring with each
    bracket replaced by its bound :math:`\rho t v^2` (``v`` stands for :math:`\|v\|`)."""
    bracket = rho * t * v**2
    central = sp.integrate(2 * bracket, (t, 0, delta)) / (2 * delta)
    one_sided = sp.integrate(bracket, (t, 0, delta)) / delta
    return {"central": sp.simplify(central), "one_sided": sp.simplify(one_sided)}


@lru_cache
def derive_smooth_bound() -> dict:
    r"""``central``: :math:`\frac{1}{2\delta}\int_0^\delta\int_0^t 2\rho_3 s\,v^3\,ds\,dt`."""
    inner = sp.integrate(2 * rho3 * s * v**3, (s, 0, t))
    central = sp.integrate(inner, (t, 0, delta)) / (2 * delta)
    return {"central": sp.simplify(central)}


def _errors(f, x0):
    """Central and one-sided difference errors of ``f'`` along ``v`` at ``x0`` (1-D)."""
    x = sp.Symbol("x", real=True)
    g = sp.diff(f(x), x)
    hv = sp.diff(g, x).subs(x, x0) * v
    central = (g.subs(x, x0 + delta * v) - g.subs(x, x0 - delta * v)) / (2 * delta) - hv
    one_sided = (g.subs(x, x0 + delta * v) - g.subs(x, x0)) / delta - hv
    return sp.simplify(central), sp.simplify(one_sided)


@lru_cache
def derive_attainment() -> dict:
    r"""The extremal families along one unit direction (``v`` = :math:`\|v\|`,
    :math:`v\parallel a`):
    ``abs_cubic`` :math:`(\rho/6)|x|^3` at 0 (central error :math:`\rho\delta v^2/2`),
    ``cubic`` :math:`(\rho/6)x^3` (central 0, one-sided :math:`\rho\delta v^2/2`),
    ``quartic`` :math:`(\rho_3/24)x^4` at any ``x0`` (central :math:`\rho_3\delta^2v^3/6`)."""
    x0 = sp.Symbol("x0", real=True)
    abs_c, abs_o = _errors(lambda x: rho * sp.Abs(x) ** 3 / 6, sp.Integer(0))
    cub_c, cub_o = _errors(lambda x: rho * x**3 / 6, x0)
    qua_c, qua_o = _errors(lambda x: rho3 * x**4 / 24, x0)
    return {
        "abs_cubic": {"central": abs_c, "one_sided": abs_o},
        "cubic": {"central": cub_c, "one_sided": cub_o},
        "quartic": {"central": qua_c, "one_sided": sp.expand(qua_o)},
    }


@lru_cache
def derive_series() -> dict:
    r"""Leading terms in :math:`\delta` of the errors for a generic smooth ``f`` at 0 (its
    Taylor polynomial of degree 6, coefficients ``a_k`` = :math:`f^{(k)}(0)`): ``central``
    :math:`a_4v^3\delta^2/6 + a_6v^5\delta^4/120`, ``one_sided``
    :math:`a_3v^2\delta/2 + O(\delta^2)`."""
    x = sp.Symbol("x", real=True)
    a = sp.symbols("a0:7", real=True)
    f = sum(a[k] * x**k / sp.factorial(k) for k in range(7))
    central, one_sided = _errors(sp.Lambda(x, f), sp.Integer(0))
    one_sided = sp.expand(one_sided)
    return {
        "central": sp.expand(central),
        "one_sided_leading": one_sided.coeff(delta, 1) * delta,
        "a": a,
    }
