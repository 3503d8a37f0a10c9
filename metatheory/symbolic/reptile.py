r"""Expected updates of MAML, first-order MAML and Reptile to first order in α (claim G4).

Result (Nichol, Achiam & Schulman 2018, Sec. 5.1). Take ``k`` inner SGD steps
:math:`\phi_{i+1} = \phi_i - \alpha g_i(\phi_i)` on independent minibatch losses
:math:`L_1..L_k` from :math:`\phi_1 = \theta`, write :math:`\bar g_i = L_i'(\theta)`,
:math:`\bar H_i = L_i''(\theta)`, and average over minibatches:
``AvgGrad`` :math:`= E[\bar g_1]`, ``AvgGradInner`` :math:`= E[\bar H_2 \bar g_1]`. Then

.. math::
   E\,g_{MAML} &= \mathrm{AvgGrad} - 2(k-1)\alpha\,\mathrm{AvgGradInner} + O(\alpha^2),\\
   E\,g_{FO}   &= \mathrm{AvgGrad} - (k-1)\alpha\,\mathrm{AvgGradInner} + O(\alpha^2),\\
   E\,g_{Rep}  &= k\,\mathrm{AvgGrad} - \tfrac12 k(k-1)\alpha\,\mathrm{AvgGradInner} + O(\alpha^2),

where MAML/FOMAML adapt on batches ``1..k-1`` and evaluate on batch ``k``, and
:math:`g_{Rep} = (\theta - \phi_{k+1})/\alpha`. With ``k = 1`` Reptile's update is exactly
:math:`\bar g_1`: SGD on the expected loss.

:func:`expand_updates` unrolls the recursion with generic sympy functions :math:`L_i'`, takes
the Taylor series in α, and maps every monomial to its expectation (:math:`\bar g_i` to
AvgGrad, :math:`\bar H_i\bar g_j` with :math:`i \ne j` to AvgGradInner); the dependence on
``k`` is then recovered by polynomial interpolation over ``k = 1..5`` and checked at ``k = 6``.
The scalar case suffices for the counting: each term is a single :math:`\bar H_i\bar g_j`.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "alpha",
    "k",
    "AvgGrad",
    "AvgGradInner",
    "expand_updates",
    "expected_updates",
    "derive_general",
    "exact_quadratic_reptile",
    "latex_updates",
]

alpha, theta = sp.symbols("alpha theta")
k = sp.Symbol("k", integer=True, positive=True)
AvgGrad, AvgGradInner = sp.symbols("AvgGrad AvgGradInner")
_x = sp.Symbol("x")


def _grads(n):
    return [sp.Function(f"g{i}") for i in range(1, n + 1)]


def expand_updates(n: int) -> dict[str, sp.Expr]:
    r"""The three updates for ``k = n`` steps to first order in α, in the symbols
    ``gbar_i`` and ``Hbar_i`` (minibatch gradient and Hessian at θ)."""
    if n < 1:
        raise ValueError(f"k must be >= 1, got {n}")
    gs = _grads(n)
    phi = [theta]
    for g in gs:
        phi.append(phi[-1] - alpha * g(phi[-1]))
    updates = {"reptile": (theta - phi[n]) / alpha}
    if n >= 2:
        fo = gs[-1](phi[n - 1])
        updates["fomaml"] = fo
        updates["maml"] = sp.diff(phi[n - 1], theta) * fo
    gbar = sp.symbols(f"gbar_1:{n + 1}")
    hbar = sp.symbols(f"Hbar_1:{n + 1}")
    out = {}
    for name, u in updates.items():
        u = sp.expand(u.doit())
        ser = u.subs(alpha, 0) + alpha * sp.diff(u, alpha).subs(alpha, 0)
        ser = ser.doit()
        for i, g in enumerate(gs):  # derivatives first, then the gradients themselves
            ser = ser.subs(sp.Derivative(g(theta), theta), hbar[i])
            ser = ser.subs(sp.Subs(sp.Derivative(g(_x), _x), _x, theta), hbar[i])
            ser = ser.subs(g(theta), gbar[i])
        out[name] = sp.expand(ser)
    return out


def _expectation(expr, n: int) -> sp.Expr:
    r"""Map monomials to expectations over iid minibatches; anything else is an error."""
    gbar = sp.symbols(f"gbar_1:{n + 1}")
    hbar = sp.symbols(f"Hbar_1:{n + 1}")
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr)):
        coeff, rest = term.as_independent(*gbar, *hbar)
        powers = rest.as_powers_dict()
        gs = [i for i, s in enumerate(gbar) if s in powers]
        hs = [i for i, s in enumerate(hbar) if s in powers]
        if sum(powers.values()) == 1 and len(gs) == 1:
            total += coeff * AvgGrad
        elif len(gs) == 1 and len(hs) == 1 and gs != hs and sum(powers.values()) == 2:
            total += coeff * AvgGradInner
        else:
            raise RuntimeError(f"unexpected term {term} in the first-order expansion")
    return sp.expand(total)


def expected_updates(n: int) -> dict[str, sp.Expr]:
    """Expectations of :func:`expand_updates` in AvgGrad and AvgGradInner."""
    return {name: _expectation(u, n) for name, u in expand_updates(n).items()}


def derive_general(k_max: int = 5) -> dict[str, sp.Expr]:
    r"""The expected updates for symbolic ``k``: the coefficients of AvgGrad and
    :math:`\alpha`·AvgGradInner interpolated over ``k = 1..k_max`` (``2..k_max`` for the
    MAML family) and verified at ``k_max + 1``."""
    out = {}
    for name in ("maml", "fomaml", "reptile"):
        ks = range(2 if name != "reptile" else 1, k_max + 1)
        rows = [(n, expected_updates(n)[name]) for n in ks]
        c_g = sp.interpolate([(n, e.coeff(AvgGrad)) for n, e in rows], k)
        c_h = sp.interpolate([(n, e.coeff(AvgGradInner) / alpha) for n, e in rows], k)
        form = sp.factor(c_g) * AvgGrad + sp.factor(c_h) * alpha * AvgGradInner
        check = expected_updates(k_max + 1)[name]
        if sp.expand(form.subs(k, k_max + 1) - check) != 0:
            raise RuntimeError(f"{name}: interpolated form {form} fails at k={k_max + 1}")
        out[name] = form
    return out


def exact_quadratic_reptile():
    r"""Reptile's exact update for one deterministic 1-D quadratic :math:`\tfrac h2(\theta-c)^2`
    (every minibatch equal): :math:`(1-(1-\alpha h)^k)(\theta-c)/\alpha`, from ``rsolve``."""
    h, u = sp.symbols("h u")  # u = theta - c
    p = sp.Function("p")
    n = sp.Symbol("n", integer=True, nonnegative=True)
    sol = sp.rsolve(p(n + 1) - (p(n) - alpha * h * p(n)), p(n), {p(0): u})
    return sp.simplify((u - sol.subs(n, k)) / alpha), h, u


def latex_updates() -> str:
    """The three expected updates as an ``aligned`` LaTeX block."""
    gen = derive_general()
    lines = []
    for key, lab in (("maml", "MAML"), ("fomaml", "FO"), ("reptile", "Rep")):
        c_g = gen[key].coeff(AvgGrad)
        c_h = sp.factor(-gen[key].coeff(AvgGradInner) / alpha)
        lead = "" if c_g == 1 else sp.latex(c_g) + r"\,"
        ch = sp.latex(c_h) if not c_h.is_Add else r"\left(" + sp.latex(c_h) + r"\right)"
        rhs = lead + r"\mathrm{AvgGrad} - " + ch + r"\,\alpha\,\mathrm{AvgGradInner}"
        lines.append(rf"E\,g_{{\mathrm{{{lab}}}}} &= {rhs} + O(\alpha^2)")
    return r"\begin{aligned}" + r"\\ ".join(lines) + r"\end{aligned}"
