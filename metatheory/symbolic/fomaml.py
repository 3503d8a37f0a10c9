r"""First-order MAML: its bias (claim G3), the expected updates of MAML, first-order MAML and
Reptile (claim G4), and the step-size derivative (claim G8).

Result (Finn et al. 2017, Sec. 5.2; Nichol et al. 2018; bounds by the triangle inequality).
With :math:`g_{MAML} = \prod_{j<N}(I-\alpha H_j)\nabla L_Q(\theta_N)` and
:math:`g_{FO} = \nabla L_Q(\theta_N)`,

.. math:: g_{MAML} - g_{FO} = \Big(\prod_{j<N}(I-\alpha H_j) - I\Big)\nabla L_Q(\theta_N),

so for ``N = 1`` the bias is :math:`-\alpha H_0\nabla L_Q(\theta_1)`, :math:`\|b\| \le \alpha L G`;
for ``N`` steps :math:`\|b\| \le ((1+\alpha L)^N - 1)G` (each of the :math:`\binom Nk` products
of ``k`` Hessians has norm at most :math:`(\alpha L)^k`); for a constant PSD Hessian with
:math:`\alpha L \le 1`, :math:`\|b\| \le (1-(1-\alpha L)^N)G`, with equality on 1-D
quadratics (``L = ‖H‖``, ``G = ‖∇L_Q(θ_N)‖``).

G8: on :math:`L_S = \tfrac a2(\theta-b)^2`, :math:`L_Q = \tfrac c2(\theta-d)^2`,
:math:`\partial L_Q(\theta_N)/\partial\alpha = -Na(1-\alpha a)^{N-1}(\theta_0-b)\,c(\theta_N-d)`.

G4 (Nichol, Achiam & Schulman 2018, Sec. 5.1). Take ``k`` inner SGD steps
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

from metatheory.symbolic.maml import L_Q, L_S, alpha, derive_meta_gradient
from metatheory.symbolic.maml import theta0 as t0

__all__ = [
    "k",
    "AvgGrad",
    "AvgGradInner",
    "expand_updates",
    "expected_updates",
    "derive_general",
    "exact_quadratic_reptile",
    "latex_updates",
    "derive_one_step_bias",
    "expand_bias_operator",
    "derive_general_bound",
    "derive_psd_bound",
    "derive_quadratic",
    "derive_step_size_gradient",
    "latex_bounds",
    "latex_step_size_gradient",
]

L, G, mu = sp.symbols("L G mu", nonnegative=True)
N = sp.Symbol("N", integer=True, positive=True)
a, c = sp.symbols("a c", positive=True)
b, d, theta0 = sp.symbols("b d theta_0", real=True)


def derive_one_step_bias():
    r"""``(bias, predicted)`` for ``N = 1`` and generic 1-D losses: autodiff MAML minus
    first-order MAML, and :math:`-\alpha L_S''(\theta_0)L_Q'(\theta_1)`."""
    full, _ = derive_meta_gradient(1)
    fo, _ = derive_meta_gradient(1, truncate=0)
    bias = sp.simplify(full - fo)
    x = sp.Symbol("x")

    theta1 = t0 - alpha * sp.Subs(sp.Derivative(L_S(x), x), x, t0).doit()
    hess0 = sp.Subs(sp.Derivative(L_S(x), (x, 2)), x, t0).doit()
    gq1 = sp.Subs(sp.Derivative(L_Q(x), x), x, theta1).doit()
    return bias, -alpha * hess0 * gq1


def expand_bias_operator(n: int):
    r"""Expand :math:`\prod_{j<n}(I-\alpha H_j) - I` with non-commuting :math:`H_j` and bound
    each word of ``k`` Hessians by :math:`(\alpha L)^k` (triangle inequality, ``‖H_j‖ ≤ L``).

    Returns ``(operator, bound)``; ``bound`` equals :func:`derive_general_bound` at ``N = n``.
    """
    Hs = sp.symbols(f"H_0:{n}", commutative=False)
    one = sp.Integer(1)
    op = sp.expand(sp.Mul(*[one - alpha * H for H in Hs]) - one)
    bound = sp.Integer(0)
    for term in sp.Add.make_args(op):
        coeff, word = term.args_cnc()
        k = sum(int(f.as_base_exp()[1]) for f in word if f in Hs or f.as_base_exp()[0] in Hs)
        bound += abs(sp.Mul(*coeff)).subs(alpha, 1) * (alpha * L) ** k
    return op, sp.factor(bound)


def derive_general_bound():
    r""":math:`\sum_{k=1}^N \binom Nk(\alpha L)^k G = ((1+\alpha L)^N - 1)G`."""
    k = sp.Symbol("k", integer=True, positive=True)
    s = sp.summation(sp.binomial(N, k) * (alpha * L) ** k, (k, 1, N))
    if isinstance(s, sp.Piecewise):  # sympy guards |alpha L| <= 1 needlessly for a finite sum
        s = s.args[0].expr
    for n in range(1, 7):  # the closed form against the explicit finite sums
        explicit = sum(sp.binomial(n, j) * (alpha * L) ** j for j in range(1, n + 1))
        if sp.expand(s.subs(N, n) - explicit) != 0:
            raise RuntimeError(f"binomial sum wrong at N={n}: {s}")
    return s * G


def derive_psd_bound():
    r"""``(bound, slope)``: :math:`\max_{0\le\mu\le L}|1-(1-\alpha\mu)^N|\,G` for
    :math:`\alpha L \le 1`. Since :math:`0 \le 1-\alpha\mu \le 1` the modulus is
    :math:`1-(1-\alpha\mu)^N`, whose derivative in :math:`\mu` (``slope``) is non-negative, so
    the maximum is at :math:`\mu = L`."""
    f = 1 - (1 - alpha * mu) ** N
    slope = sp.simplify(sp.diff(f, mu))
    return f.subs(mu, L) * G, slope


def derive_quadratic():
    r"""G3's exact case, :math:`L_S = \tfrac a2(\theta-b)^2`, :math:`L_Q = \tfrac c2(\theta-d)^2`:
    ``dict`` with ``theta_N`` (from ``rsolve``), ``g_maml``, ``g_fo``, ``bias``, ``G`` and the
    PSD bound at ``L = a`` (``bound``); ``bias = -bound * sign(g_fo)``, i.e. the bound is
    attained."""
    t = sp.Function("theta")
    sol = sp.rsolve(t(N + 1) - (t(N) - alpha * a * (t(N) - b)), t(N), {t(0): theta0})
    lq = c / 2 * (sol - d) ** 2
    g_maml = sp.diff(lq, theta0)
    x = sp.Symbol("x")
    g_fo = sp.diff(c / 2 * (x - d) ** 2, x).subs(x, sol)
    bias = sp.simplify(g_maml - g_fo)
    bound, _ = derive_psd_bound()
    return {
        "theta_N": sol,
        "g_maml": g_maml,
        "g_fo": g_fo,
        "bias": bias,
        "G": sp.Abs(g_fo),
        "bound": bound.subs({L: a, G: sp.Abs(g_fo)}),
    }


def derive_step_size_gradient():
    r"""``(autodiff, closed)``: :math:`\partial L_Q(\theta_N)/\partial\alpha` of the 1-D quadratic
    by differentiating the solved recurrence, and the chain-rule form
    :math:`\frac{\partial\theta_N}{\partial\alpha}\,L_Q'(\theta_N)`."""
    q = derive_quadratic()
    sol = q["theta_N"]
    autodiff = sp.diff(c / 2 * (sol - d) ** 2, alpha)
    dtheta = sp.diff(sol, alpha)
    return sp.simplify(autodiff), dtheta * c * (sol - d)


_NAMES = {alpha: r"\alpha"}


def _same(derived, shown) -> None:
    """Raise unless ``derived == shown``: symbolically, or exactly at rational sample points
    (``simplify`` cannot always cancel ``r**N / r`` against ``r**(N-1)``)."""
    diff = derived - shown
    if sp.simplify(diff) == 0:
        return
    syms = sorted(diff.free_symbols, key=str)
    for i in range(5):
        pt = {
            x: i + 2 if x == N else sp.Rational(1 + 3 * i + j, 7 + i + 2 * j)
            for j, x in enumerate(syms)
        }
        if sp.simplify(diff.subs(pt)) != 0:
            raise RuntimeError(f"display form {shown} differs from the derivation {derived}")


def latex_bounds() -> str:
    r"""Both bounds as one LaTeX display line (display forms checked against the derivations)."""
    x = sp.Symbol("x")  # stands for alpha L in the display
    gen, (psd, _) = derive_general_bound(), derive_psd_bound()
    shown_gen = sp.Mul(G, sp.Add((1 + x) ** N, -1, evaluate=False), evaluate=False)
    shown_psd = (1 - (1 - x) ** N) * G
    _same(gen, shown_gen.subs(x, alpha * L))
    _same(psd, shown_psd.subs(x, alpha * L))
    names = {x: r"\alpha L"}
    return (
        r"\|g_{\mathrm{MAML}}-g_{\mathrm{FO}}\| \le "
        + sp.latex(shown_gen, symbol_names=names, order="none")
        + r",\qquad \|g_{\mathrm{MAML}}-g_{\mathrm{FO}}\| \le "
        + sp.latex(shown_psd, symbol_names=names, order="rev-lex")
        + r"\ (H \succeq 0,\ \alpha L \le 1)"
    )


def latex_step_size_gradient() -> str:
    r""":math:`\partial L_Q(\theta_N)/\partial\alpha` of the 1-D quadratic (G8) as LaTeX."""
    _, closed = derive_step_size_gradient()
    r, tn, u, w = sp.symbols("r theta_N u w")
    shown = -N * a * c * r ** (N - 1) * u * w
    theta_n = derive_quadratic()["theta_N"]
    _same(closed, shown.subs({u: theta0 - b, w: tn - d}).subs({tn: theta_n, r: 1 - alpha * a}))
    names = {r: r"(1-\alpha a)", u: r"(\theta_0 - b)", w: r"(\theta_N - d)"}
    return (
        r"\frac{\partial L_Q(\theta_N)}{\partial\alpha} = "
        + sp.latex(shown, symbol_names=names)
        + r",\qquad \theta_N = b + (1-\alpha a)^N(\theta_0 - b)"
    )


# --------------------------------------------------------------------------- G4

theta = sp.Symbol("theta")  # the point of expansion (G4); alpha is maml's symbol
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
