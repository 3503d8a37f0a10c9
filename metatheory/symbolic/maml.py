r"""The MAML meta-gradient as a product of inner Jacobians (claims G1, G2).

Result (Finn et al. 2017, Sec. 2.2; the chain rule through
:math:`\theta_{j+1} = \theta_j - \alpha\nabla L_S(\theta_j)`):

.. math:: \nabla_{\theta_0} L_Q(\theta_N) = \prod_{j=0}^{N-1}(I - \alpha H_j)\,\nabla L_Q(\theta_N),
          \qquad H_j = \nabla^2 L_S(\theta_j).

``derive_meta_gradient(n)`` proves it for generic scalar losses and a given ``n`` by
differentiating the unrolled composition; ``derive_quadratic(n)`` solves the recurrence of a
quadratic inner loss in closed form for symbolic ``N``, where the product is ``(1 - αh)^N``.
Truncating to the last ``k`` steps keeps only the last ``k`` factors (G2).
"""

from __future__ import annotations

import sympy as sp

__all__ = ["derive_meta_gradient", "derive_quadratic", "product_formula", "latex_product_formula"]

alpha, theta0 = sp.symbols("alpha theta_0")
_x = sp.Symbol("x")
L_S, L_Q = sp.Function("L_S"), sp.Function("L_Q")


def _at(f, order, point):
    return sp.Subs(sp.Derivative(f(_x), (_x, order)), _x, point).doit()


def derive_meta_gradient(n: int, truncate: int | None = None):
    """``(autodiff_expr, product_expr)`` for ``n`` unrolled inner steps of generic scalar losses.

    ``autodiff_expr`` differentiates ``L_Q(theta_N(theta_0))`` by sympy's chain rule (with the
    first ``n - truncate`` inner gradients held constant, as ``stop_gradient`` does);
    ``product_expr`` is the product formula. Their difference simplifies to zero.
    """
    k = n if truncate is None else truncate
    if not 0 <= k <= n:
        raise ValueError(f"truncate must be in [0, {n}], got {truncate}")
    th = [theta0]
    consts = []
    for j in range(n):
        if j < n - k:
            c = sp.Symbol(f"g_{j}")  # a constant: the inner gradient under stop_gradient
            consts.append((c, _at(L_S, 1, th[-1])))
            th.append(th[-1] - alpha * c)
        else:
            th.append(th[-1] - alpha * _at(L_S, 1, th[-1]))
    autodiff = sp.diff(L_Q(th[-1]), theta0).doit()
    # substitute the held gradients back, innermost last
    for c, val in reversed(consts):
        autodiff = autodiff.subs(c, val)
    theta_n = th[-1]
    for c, val in reversed(consts):
        theta_n = theta_n.subs(c, val)
    factors = [1 - alpha * _at(L_S, 2, t) for t in th[n - k : n]]
    product = sp.Mul(*factors) * _at(L_Q, 1, theta_n)
    for c, val in reversed(consts):
        product = product.subs(c, val)
    return autodiff, product


def derive_quadratic():
    r"""Closed form for ``L_S = h/2 (θ-b)^2``, ``L_Q = c/2 (θ-d)^2`` and symbolic ``N``.

    Returns ``(theta_N, meta_grad)``: the recurrence solved by ``rsolve`` and
    ``d L_Q(theta_N) / d theta_0``, which equals ``(1 - αh)^N c (θ_N - d)``.
    """
    h, b, c, d = sp.symbols("h b c d", positive=True)
    N = sp.Symbol("N", integer=True, nonnegative=True)
    t = sp.Function("theta")
    sol = sp.rsolve(t(N + 1) - (t(N) - alpha * h * (t(N) - b)), t(N), {t(0): theta0})
    meta_grad = sp.diff(c / 2 * (sol - d) ** 2, theta0)
    return sp.simplify(sol), sp.simplify(meta_grad)


def product_formula():
    """The general statement as a sympy equation with non-commuting Hessians."""
    N, j = sp.symbols("N j", integer=True)
    H = sp.IndexedBase("H")
    I = sp.Symbol("I", commutative=False)
    return sp.Eq(_LHS, sp.Product(I - alpha * H[j], (j, 0, N - 1)) * _GRAD_Q, evaluate=False)


_LHS = sp.Symbol("meta_grad")
_GRAD_Q = sp.Symbol("grad_q", commutative=False)
_NAMES = {_LHS: r"\nabla_{\theta_0} L_Q(\theta_N)", _GRAD_Q: r"\nabla L_Q(\theta_N)"}


def latex_product_formula() -> str:
    """``sympy.latex`` of :func:`product_formula` (used in the paper)."""
    return sp.latex(product_formula(), symbol_names=_NAMES)
