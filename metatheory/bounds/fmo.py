r"""Smoothness constants of the MAML objective (Fallah, Mokhtari, Ozdaglar 2020; claims C1, C2).

``fmo_smoothness``: FMO Lemma 4.2, :math:`L(w) = 4L + 2\rho\alpha\,E_i\|\nabla f_i(w)\|`,
valid for :math:`\alpha\le 1/L` (it bounds :math:`(1+\alpha L)^2L+\alpha\rho(1+\alpha L)G`).

``maml_smoothness``: the ``N``-step constant derived by recursion in
:mod:`metatheory.symbolic.fmo`,
:math:`L_N = (1+\alpha L)^{2N}L + (\rho G/L)(1+\alpha L)^{N-1}((1+\alpha L)^N-1)`,
which is :math:`(1+\alpha L)^2L + \alpha\rho G` at ``N = 1`` and ``L`` at ``N = 0``.
"""

from __future__ import annotations

import numpy as np

from metatheory.bounds._validate import check, is_traced

__all__ = ["fmo_smoothness", "maml_smoothness"]


def fmo_smoothness(L, rho, alpha, grad_norm):
    r"""FMO's local smoothness constant :math:`4L + 2\rho\alpha\cdot\mathrm{grad\_norm}`.

    ``L > 0`` (gradient Lipschitz constant of each task loss), ``rho >= 0`` (Hessian
    Lipschitz constant), ``0 < alpha <= 1/L`` (inner step), ``grad_norm >= 0``
    (:math:`E_i\|\nabla f_i(w)\|`). Broadcasts. Example: ``fmo_smoothness(1, 2, 0.1, 3) = 5.2``.
    """
    L = check("L", L, low=0.0, low_open=True, high=np.inf, high_open=True)
    rho = check("rho", rho, low=0.0, high=np.inf, high_open=True)
    alpha = check("alpha", alpha, low=0.0, low_open=True, high=np.inf, high_open=True)
    grad_norm = check("grad_norm", grad_norm, low=0.0, high=np.inf, high_open=True)
    if not any(is_traced(a) for a in (L, alpha)):
        # alpha * L <= 1 with a relative rounding allowance (alpha = 1/L computed in floats)
        over = np.asarray(alpha, np.float64) * np.asarray(L, np.float64) > 1.0 + 1e-12
        if np.any(over):
            raise ValueError(
                "alpha must be in (0, 1/L] for fmo_smoothness (the bound uses 1 + alpha*L <= 2), "
                f"got alpha*L = {float(np.max(np.asarray(alpha * L, np.float64))):g}"
            )
    return 4.0 * L + 2.0 * rho * alpha * grad_norm


def maml_smoothness(L, rho, alpha, G, n_steps=1):
    r"""Smoothness constant of the ``n_steps``-step MAML objective,
    :math:`(1+\alpha L)^{2N}L + (\rho G/L)(1+\alpha L)^{N-1}((1+\alpha L)^N-1)`.

    ``L > 0``, ``rho >= 0``, ``alpha > 0``, ``G >= 0`` (a bound on :math:`\|\nabla f_i\|` at the
    inner iterates), ``n_steps`` a non-negative integer. Broadcasts.
    """
    L = check("L", L, low=0.0, low_open=True, high=np.inf, high_open=True)
    rho = check("rho", rho, low=0.0, high=np.inf, high_open=True)
    alpha = check("alpha", alpha, low=0.0, low_open=True, high=np.inf, high_open=True)
    G = check("G", G, low=0.0, high=np.inf, high_open=True)
    n = check("n_steps", n_steps, low=0.0, high=np.inf, high_open=True, integer=True)
    q = 1.0 + alpha * L
    return q ** (2 * n) * L + (rho * G / L) * q ** (n - 1) * (q**n - 1.0)
