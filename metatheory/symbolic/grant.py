r"""Early stopping is a Gaussian prior (claim H1; Grant et al. 2018, Sec. 3.1, after Santos 1996).

Result. For :math:`L_S(\theta) = \tfrac h2(\theta-\hat\theta)^2`, ``N`` gradient steps of size
:math:`\alpha` from :math:`\theta_0` land exactly on the MAP estimate under the prior
:math:`\mathcal N(\theta_0, 1/\lambda)` if and only if

.. math:: \lambda = \frac{h(1-\alpha h)^N}{1-(1-\alpha h)^N}, \qquad 0 < \alpha h < 1,

with the small-step series
:math:`\lambda = \frac{1}{\alpha N} - \frac{(N+1)h}{2N}
+ \frac{(N^2-1)h^2}{12N}\alpha + O(\alpha^2)`.
For :math:`L_S = \tfrac12(\theta-\phi^*)^\top H(\theta-\phi^*)`, :math:`H = O\Lambda O^\top`, the
prior covariance is :math:`Q = O\Lambda^{-1}((I-\alpha\Lambda)^{-N}-I)O^\top`; linear
regression (constant Hessian) is the exact case.

Nothing is typed in: :func:`derive_precision` solves the GD recurrence with ``rsolve``, the MAP
condition with ``solve``, and equates them; :func:`derive_covariance` repeats this per
eigen-direction of a diagonal :math:`\Lambda` and inverts the resulting precision.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "alpha",
    "h",
    "lam",
    "N",
    "derive_gd_iterate",
    "derive_map",
    "derive_precision",
    "precision_series",
    "series_coefficients",
    "derive_covariance",
    "latex_precision",
    "latex_series",
    "latex_covariance",
]

alpha, h, lam = sp.symbols("alpha h lambda", positive=True)
theta0, theta_hat = sp.symbols("theta_0 thetahat", real=True)
N = sp.Symbol("N", integer=True, positive=True)


def derive_gd_iterate():
    r"""``theta_N`` of GD on :math:`\tfrac h2(\theta-\hat\theta)^2`, by solving the recurrence."""
    t = sp.Function("theta")
    rec = t(N + 1) - (t(N) - alpha * sp.diff(h / 2 * (t(N) - theta_hat) ** 2, t(N)))
    return sp.rsolve(rec, t(N), {t(0): theta0})


def derive_map():
    r"""MAP estimate under :math:`\mathcal N(\theta_0, 1/\lambda)`: the stationary point of
    :math:`\tfrac h2(\theta-\hat\theta)^2 + \tfrac\lambda2(\theta-\theta_0)^2`."""
    x = sp.Symbol("x", real=True)
    (sol,) = sp.solve(sp.diff(h / 2 * (x - theta_hat) ** 2 + lam / 2 * (x - theta0) ** 2, x), x)
    return sol


def derive_precision():
    r"""The unique :math:`\lambda` with GD iterate = MAP (any :math:`\theta_0 \ne \hat\theta`)."""
    sols = sp.solve(sp.Eq(derive_gd_iterate(), derive_map()), lam)
    if len(sols) != 1:
        raise RuntimeError(f"expected one solution for lambda, got {sols}")
    return sp.simplify(sols[0])


def precision_series(order: int = 2):
    r"""Laurent series of :math:`\lambda` in :math:`\alpha` through :math:`\alpha^{order-1}`
    (``order=2``: the terms :math:`\alpha^{-1}, \alpha^0, \alpha^1`), without the O-term."""
    return sp.series(derive_precision(), alpha, 0, order).removeO()


def series_coefficients(order: int = 3) -> dict[int, sp.Expr]:
    r"""``{k: c_k}`` with :math:`\lambda = \sum_k c_k\alpha^k`, for ``k = -1 .. order-1``."""
    s = sp.expand(precision_series(order))
    return {k: sp.factor(s.coeff(alpha, k)) for k in range(-1, order)}


def derive_covariance(d: int = 2):
    r"""Prior covariance for a diagonal :math:`\Lambda = \mathrm{diag}(\ell_1..\ell_d)`.

    Returns ``(Q, q)``: the ``d x d`` diagonal covariance obtained by equating the GD iterate
    :math:`\phi^* + (I-\alpha\Lambda)^N(\theta_0-\phi^*)` with the MAP
    :math:`(\Lambda+P)^{-1}(\Lambda\phi^* + P\theta_0)` for a diagonal precision ``P`` and
    inverting it, and ``q(ell)``, its entry as a function of one eigenvalue. In the eigenbasis
    of a general ``H = O Lambda O^T`` the problem decouples, so ``Q_H = O Q O^T``.
    """
    ells = sp.symbols(f"ell_1:{d + 1}", positive=True)
    ps = sp.symbols(f"p_1:{d + 1}", positive=True)
    phi = sp.Matrix(sp.symbols(f"phi_1:{d + 1}", real=True))
    th0 = sp.Matrix(sp.symbols(f"t_1:{d + 1}", real=True))
    Lam, P = sp.diag(*ells), sp.diag(*ps)
    M = sp.diag(*[(1 - alpha * e) ** N for e in ells])
    gd = phi + M * (th0 - phi)
    map_ = (Lam + P).inv() * (Lam * phi + P * th0)
    sol = sp.solve(list(gd - map_), ps, dict=True)
    if len(sol) != 1:
        raise RuntimeError(f"expected one precision, got {sol}")
    Q = sp.diag(*[sp.simplify(1 / sol[0][p]) for p in ps])
    q = Q[0, 0].subs(ells[0], sp.Symbol("ell", positive=True))
    return Q, q


_NAMES = {alpha: r"\alpha", lam: r"\lambda"}


def _same(a, b) -> None:
    if sp.simplify(a - b) != 0:
        raise RuntimeError(f"display form {b} differs from the derivation {a}")


def latex_precision() -> str:
    """``lambda = h r^N / (1 - r^N)``, ``r = 1 - alpha h``, as LaTeX (checked against the
    derivation before printing)."""
    r = sp.Symbol("r")
    shown = h * r**N / (1 - r**N)
    _same(derive_precision(), shown.subs(r, 1 - alpha * h))
    return sp.latex(sp.Eq(lam, shown), symbol_names=_NAMES) + r",\qquad r = 1 - \alpha h \in (0, 1)"


def latex_series() -> str:
    r"""``lambda = c_{-1}/alpha + c_0 + c_1 alpha + O(alpha^2)`` as LaTeX."""
    c = series_coefficients(2)
    terms = [sp.latex(c[-1] / alpha), sp.latex(c[0]), sp.latex(c[1] * alpha)]
    body = " ".join(t if t.startswith("-") else "+ " + t for t in terms).lstrip("+ ")
    return r"\lambda = " + body + r" + O(\alpha^{2})"


def latex_covariance() -> str:
    r"""``Q = O diag(q(ell_i)) O^T`` with the derived ``q`` as LaTeX."""
    _, q = derive_covariance(1)
    ell = sp.Symbol("ell", positive=True)
    r = sp.Symbol("r")
    shown = (r ** (-N) - 1) / ell
    _same(q, shown.subs(r, 1 - alpha * ell))
    qs = sp.latex(shown, symbol_names={ell: r"\ell_i", r: r"(1-\alpha\ell_i)"}, order="rev-lex")
    return (
        r"Q = O\,\mathrm{diag}\!\left(" + qs + r"\right)_{i}O^{\top},"
        r"\qquad H = O\,\mathrm{diag}(\ell_i)\,O^{\top}"
    )
