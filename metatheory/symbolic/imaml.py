r"""Implicit MAML: the Jacobian of the proximal solution and the CG rate (claim G7).

Result (Rajeswaran, Finn, Kakade, Levine 2019, Lemma 1 and Sec. 3.2). The inner solution
:math:`\phi^* = \arg\min_\phi L_S(\phi) + \frac{\lambda}{2}\|\phi-\theta\|^2` satisfies
:math:`\nabla L_S(\phi^*) + \lambda(\phi^*-\theta) = 0`; differentiating this identity in
:math:`\theta` gives :math:`(H + \lambda I)\,d\phi^*/d\theta = \lambda I`, so

.. math:: \frac{d\phi^*}{d\theta} = \Big(I + \frac{H}{\lambda}\Big)^{-1},\qquad
          H = \nabla^2 L_S(\phi^*).

Conjugate gradients on :math:`A = I + H/\lambda` (Hestenes–Stiefel; Shewchuk 1994, Eq. 55):
:math:`\|x_k - x^*\|_A \le 2\big(\frac{\sqrt\kappa-1}{\sqrt\kappa+1}\big)^k\|x_0-x^*\|_A` with
:math:`\kappa = (\lambda+\lambda_{\max})/(\lambda+\lambda_{\min})`, and CG is exact after as
many iterations as :math:`A` has distinct eigenvalues.

Unrolled gradient descent on the proximal objective from :math:`\phi_0=\theta` (step
:math:`\alpha`) differentiates to :math:`d\phi_N/d\theta = J^* + M^N(I - J^*)`,
:math:`M = I - \alpha(H+\lambda I)`, so unrolled MAML tends to the implicit gradient at the
rate :math:`\max_i|1-\alpha(\lambda+h_i)|` per step. :func:`derive_unrolled` solves the
scalar recurrence with ``rsolve``.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "derive_jacobian_scalar",
    "derive_jacobian_matrix",
    "cg_rate",
    "cg_exact_iterations",
    "derive_unrolled",
    "latex_imaml",
]

lam = sp.Symbol("lambda", positive=True)
theta, phi = sp.symbols("theta phi", real=True)
L_S = sp.Function("L_S")


def derive_jacobian_scalar():
    r"""``(dphi/dtheta, claimed)`` for a generic scalar ``L_S`` by implicit differentiation
    of the stationarity condition ``L_S'(phi) + lam (phi - theta) = 0``. They are equal."""
    stationarity = sp.diff(L_S(phi), phi) + lam * (phi - theta)
    dphi = sp.idiff(stationarity, phi, theta)
    hess = sp.diff(L_S(phi), phi, 2)
    return sp.simplify(dphi), 1 / (1 + hess / lam)


def derive_jacobian_matrix(d: int = 3):
    r"""``(J, claimed)`` for a symmetric symbolic ``d x d`` Hessian: ``J`` solves the
    differentiated stationarity condition ``(H + lam I) J = lam I``; ``claimed`` is
    ``(I + H/lam)^{-1}``. ``sp.simplify(J - claimed)`` is the zero matrix."""
    hs = sp.Matrix(d, d, lambda i, k: sp.Symbol(f"h_{min(i, k)}{max(i, k)}"))
    eye = sp.eye(d)
    jac = sp.Matrix(d, d, lambda i, k: sp.Symbol(f"J_{i}{k}"))
    eqs = list((hs + lam * eye) * jac - lam * eye)
    sol = sp.solve(eqs, list(jac), dict=True)[0]
    return jac.subs(sol), (eye + hs / lam).inv()


def cg_rate(hessian_eigs, lam_value):
    """``(kappa, rate)`` of CG on ``I + H/lam``: ``kappa = (lam + l_max) / (lam + l_min)``
    from the eigenvalues of the symbolic matrix, ``rate = (sqrt(kappa) - 1)/(sqrt(kappa) + 1)``.
    """
    a = sp.eye(len(hessian_eigs)) + sp.diag(*hessian_eigs) / sp.nsimplify(lam_value)
    eigs = list(a.eigenvals())
    kappa = sp.nsimplify(max(eigs) / min(eigs))
    rate = (sp.sqrt(kappa) - 1) / (sp.sqrt(kappa) + 1)
    return kappa, rate


def cg_exact_iterations(hessian_eigs, lam_value) -> int:
    """Iterations after which CG is exact: the number of distinct eigenvalues of ``I + H/lam``
    (the degree of its minimal polynomial)."""
    a = sp.eye(len(hessian_eigs)) + sp.diag(*hessian_eigs) / sp.nsimplify(lam_value)
    return len(a.eigenvals())


def derive_unrolled():
    r"""Scalar proximal objective ``h/2 (phi - b)^2 + lam/2 (phi - theta)^2``, ``N`` gradient
    steps of size ``alpha`` from ``phi_0 = theta``. Returns ``(dphi_N/dtheta, implicit,
    error)`` with ``error = dphi_N/dtheta - implicit`` simplified: ``(1 - alpha(h+lam))^N``
    times ``h/(h+lam)``, geometric in ``N``."""
    alpha, h, b = sp.symbols("alpha h b", positive=True)
    n = sp.Symbol("N", integer=True, nonnegative=True)
    f = sp.Function("phi")
    step = f(n) - alpha * (h * (f(n) - b) + lam * (f(n) - theta))
    sol = sp.rsolve(f(n + 1) - step, f(n), {f(0): theta})
    dn = sp.simplify(sp.diff(sol, theta))
    implicit = sp.simplify(derive_jacobian_scalar()[1].subs(sp.diff(L_S(phi), phi, 2), h))
    return dn, implicit, sp.factor(sp.simplify(dn - implicit))


def latex_imaml() -> str:
    """The Jacobian and the meta-gradient of iMAML as one LaTeX line (matrix notation, after
    checking the derivation)."""
    jac, claimed = derive_jacobian_scalar()
    if sp.simplify(jac - claimed) != 0:
        raise RuntimeError("implicit differentiation does not give (1 + H/lambda)^{-1}")
    return (
        r"\frac{d\phi^*}{d\theta} = \Big(I + \frac{H}{\lambda}\Big)^{-1},\qquad "
        r"g_{\mathrm{iMAML}} = \Big(I + \frac{H}{\lambda}\Big)^{-1}\nabla L_Q(\phi^*),\qquad "
        r"H = \nabla^2 L_S(\phi^*)"
    )
