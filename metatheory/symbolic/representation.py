r"""Representation recovery by ANIL on multitask linear regression (claim R1), derived here.

Collins, Mokhtari, Oh, Shakkottai (ICML 2022, abstract) show that in multitask linear
representation learning MAML and ANIL "are able to recover the ground-truth representation at
an exponentially fast rate", and that "the driving force ... is that they adapt the final layer
of their model, which harnesses the underlying task diversity". Only the abstract was read; the
rate below is derived here.

Setting: inputs :math:`x\sim N(0, I_d)`, ground truth :math:`B_*\in\mathbb R^{d\times k}` with
orthonormal columns, task heads :math:`w_*` with :math:`E w_* = 0`,
:math:`E w_*w_*^\top = \Sigma` (SPD), model :math:`f(x) = w^\top B^\top x`, population task loss
:math:`L_t(B, w) = \tfrac12\|Bw - B_*w_*\|^2`. ANIL with the head at :math:`w_0 = 0` and one
inner step on the head, :math:`w' = \alpha B^\top B_*w_*`, has the expected query loss

.. math:: \mathcal L(B) = \tfrac12\operatorname{tr}(PMP),\qquad P = I - \alpha BB^\top,\quad
          M = B_*\Sigma B_*^\top,

with the exact meta-gradient :math:`\nabla_B\mathcal L = -\alpha(PM + MP)B`. Writing
:math:`B = B_*A + B_{*\perp}C` (:math:`B_{*\perp}^\top M = 0`), one outer step
:math:`B\leftarrow B - \beta\nabla_B\mathcal L` gives exactly

.. math:: C^+ = C\,(I - \alpha^2\beta\,B^\top MB),\qquad B^\top MB = A^\top\Sigma A.

At the fixed point :math:`\alpha AA^\top = I` (:math:`C = 0`), :math:`A^\top\Sigma A =
A^{-1}(\Sigma/\alpha)A` has the eigenvalues of :math:`\Sigma/\alpha`, so the principal-angle
distance :math:`\|B_{*\perp}^\top Q_B\|_2 = \|C(B^\top B)^{-1/2}\|_2` falls asymptotically by

.. math:: \rho = 1 - \alpha\beta\lambda_{\min}(\Sigma)

per outer step. The linearisation at the fixed point (:func:`derive_linearisation`, ``k = 2``)
has the eigenvalues :math:`1-\alpha\beta\sigma_i` (the C block), :math:`1-2\alpha\beta(\sigma_i
+\sigma_j)` (the A block, :math:`i\le j`) and 1 (rotations :math:`A\to AU`, which leave the
column space unchanged): the fixed point is stable for :math:`\alpha\beta\lambda_{\max} < 1/2`,
and the A block's transient decays like :math:`(1-4\alpha\beta\lambda_{\min})^t`.

First-order ANIL drops the term :math:`MPB` from the meta-gradient; its C block is zero
(:math:`B_{*\perp}^\top M = 0`), so the C recursion, the fixed point and the rate are the
same. Without head adaptation (:math:`\alpha = 0`, a shared head :math:`w_0` trained on the
average loss) the gradient in :math:`B` is :math:`Bw_0w_0^\top`: :math:`B\leftarrow
B(I-\beta w_0w_0^\top)` keeps the column space, and the distance does not fall.

The identities are verified for ``d = 4, k = 2`` with :math:`B_* = [I_k; 0]` (every instance is
an orthogonal change of coordinates of this one).
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = [
    "alpha",
    "beta",
    "sigma",
    "derive_meta_gradient",
    "derive_fixed_point",
    "derive_linearisation",
    "derive_no_adaptation",
    "rate_claimed",
]

alpha, beta = sp.symbols("alpha beta", positive=True)
sigma = sp.symbols("sigma1 sigma2", positive=True)
_theta = sp.Symbol("theta", real=True)
_lam = sp.Symbol("lam")


def rate_claimed():
    r""":math:`\rho = 1 - \alpha\beta\sigma_{\min}` (the form the calculator implements), with
    :math:`\sigma_{\min}` = ``sigma[1]``."""
    return 1 - alpha * beta * sigma[1]


def _problem(d: int, k: int = 2):
    B = sp.Matrix(d, k, lambda i, j: sp.Symbol(f"b{i}{j}", real=True))
    Bs = sp.eye(d)[:, :k]
    M = Bs * sp.diag(*sigma[:k]) * Bs.T
    return B, Bs, M


def _grad(f, B):
    return sp.Matrix(B.rows, B.cols, lambda i, j: sp.diff(f, B[i, j]))


@lru_cache
def derive_meta_gradient() -> dict:
    r"""For ``d = 4, k = 2``: ``loss`` :math:`\tfrac12\operatorname{tr}(PMP)`; ``difference``
    its autodiff-free gradient minus :math:`-\alpha(PM+MP)B` (zero); ``c_difference`` the C
    block of :math:`B - \beta\nabla\mathcal L` minus :math:`C(I-\alpha^2\beta B^\top MB)`
    (zero); ``gram_difference`` :math:`B^\top MB - A^\top\Sigma A` (zero);
    ``first_order_c_difference`` the C block of the first-order gradient
    :math:`-\alpha PMB` minus the exact one's (zero)."""
    d, k = 4, 2
    B, Bs, M = _problem(d, k)
    P = sp.eye(d) - alpha * B * B.T
    loss = sp.Rational(1, 2) * (P * M * P).trace()
    g = _grad(loss, B)
    closed = -alpha * (P * M + M * P) * B
    A, C = B[:k, :], B[k:, :]
    step = B - beta * g
    c_claimed = C * (sp.eye(k) - alpha**2 * beta * B.T * M * B)
    first_order = -alpha * P * M * B
    return {
        "loss": loss,
        "gradient": g,
        "difference": sp.expand(g - closed),
        "c_difference": sp.expand(step[k:, :] - c_claimed),
        "gram_difference": sp.expand(B.T * M * B - A.T * sp.diag(*sigma[:k]) * A),
        "first_order_c_difference": sp.expand(first_order[k:, :] - g[k:, :]),
    }


@lru_cache
def derive_fixed_point() -> dict:
    r"""At :math:`A = R(\theta)/\sqrt\alpha` (``k = 2``, so :math:`\alpha AA^\top = I`):
    ``eigenvalues`` of :math:`A^\top\Sigma A` (:math:`\sigma_i/\alpha`); ``factors`` the C
    contraction factors :math:`1 - \alpha^2\beta\,\sigma_i/\alpha`; ``rate`` the slowest,
    and ``difference`` it minus :func:`rate_claimed` (zero, for :math:`\sigma_2 <
    \sigma_1`)."""
    R = sp.Matrix([[sp.cos(_theta), -sp.sin(_theta)], [sp.sin(_theta), sp.cos(_theta)]])
    A = R / sp.sqrt(alpha)
    gram = sp.simplify(A.T * sp.diag(*sigma) * A)
    eig = sorted(
        (sp.simplify(e) for e in gram.eigenvals(multiple=True)),
        key=lambda e: sp.default_sort_key(e),
    )
    factors = [sp.expand(1 - alpha**2 * beta * e) for e in eig]
    rate = sp.expand(1 - alpha**2 * beta * sigma[1] / alpha)
    return {
        "gram": gram,
        "eigenvalues": eig,
        "factors": factors,
        "rate": rate,
        "difference": sp.simplify(rate - rate_claimed()),
        "orthogonality": sp.simplify(alpha * A * A.T - sp.eye(2)),
    }


@lru_cache
def derive_linearisation() -> dict:
    r"""The Jacobian of one outer step :math:`B\mapsto B - \beta\nabla\mathcal L` at the fixed
    point :math:`B = [I/\sqrt\alpha; 0]` (``d = 3, k = 2``): ``charpoly`` its characteristic
    polynomial in ``lam``, factored, and ``claimed`` the product of
    :math:`\lambda - 1`, :math:`\lambda - (1-\alpha\beta\sigma_i)`,
    :math:`\lambda - (1-4\alpha\beta\sigma_i)` and :math:`\lambda - (1-2\alpha\beta(\sigma_1+
    \sigma_2))`; ``difference`` their difference (zero)."""
    d, k = 3, 2
    B, _, M = _problem(d, k)
    P = sp.eye(d) - alpha * B * B.T
    loss = sp.Rational(1, 2) * (P * M * P).trace()
    step = (B - beta * _grad(loss, B)).reshape(d * k, 1)
    J = step.jacobian(list(B))
    at = {B[i, j]: (1 / sp.sqrt(alpha) if i == j else 0) for i in range(d) for j in range(k)}
    J0 = sp.simplify(J.subs(at))
    charpoly = sp.factor(J0.charpoly(_lam).as_expr())
    ab = alpha * beta
    s1, s2 = sigma
    claimed = (
        (_lam - 1)
        * (_lam - (1 - ab * s1))
        * (_lam - (1 - ab * s2))
        * (_lam - (1 - 4 * ab * s1))
        * (_lam - (1 - 4 * ab * s2))
        * (_lam - (1 - 2 * ab * (s1 + s2)))
    )
    return {
        "jacobian": J0,
        "charpoly": charpoly,
        "claimed": claimed,
        "difference": sp.expand(charpoly - claimed),
        "lam": _lam,
    }


@lru_cache
def derive_no_adaptation() -> dict:
    r"""Without head adaptation the average loss is :math:`\tfrac12 E\|Bw_0 - B_*w_*\|^2 =
    \tfrac12\|Bw_0\|^2 - w_0^\top B^\top B_*m + \tfrac12\operatorname{tr}\Sigma` with
    :math:`m = E w_*`; ``gradient`` its gradient in :math:`B` at :math:`m = 0` and
    ``difference`` that minus :math:`Bw_0w_0^\top` (zero; ``d = 3, k = 2``)."""
    d, k = 3, 2
    B, Bs, _ = _problem(d, k)
    w0 = sp.Matrix(k, 1, lambda i, _: sp.Symbol(f"w{i}", real=True))
    m = sp.Matrix(k, 1, lambda i, _: sp.Symbol(f"m{i}", real=True))
    loss = (
        sp.Rational(1, 2) * (w0.T * B.T * B * w0)[0, 0]
        - (w0.T * B.T * Bs * m)[0, 0]
        + sp.Rational(1, 2) * sum(sigma)
    )
    g = _grad(loss, B).subs({mi: 0 for mi in m})
    return {"gradient": g, "difference": sp.expand(g - B * w0 * w0.T)}
