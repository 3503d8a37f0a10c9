r"""Conjugate gradients on the implicit-MAML system (claim G7).

iMAML (Rajeswaran, Finn, Kakade, Levine 2019, Sec. 3.2) solves
:math:`(I + H/\lambda)\,g = \nabla L_Q(\phi^*)` by conjugate gradients. With
:math:`\kappa = (\lambda+\lambda_{\max}(H))/(\lambda+\lambda_{\min}(H))`, the condition number
of :math:`A = I + H/\lambda`, CG from :math:`x_0` satisfies (Shewchuk 1994, Eq. 55)

.. math:: \|x_k - x^*\|_A \le 2\Big(\frac{\sqrt\kappa-1}{\sqrt\kappa+1}\Big)^k\|x_0-x^*\|_A .
"""

from __future__ import annotations

import numpy as np

from metatheory.bounds._validate import Args

__all__ = ["imaml_condition_number", "cg_error_bound"]


def imaml_condition_number(hessian_eigs, lam):
    r""":math:`\kappa(I + H/\lambda) = (\lambda+\lambda_{\max})/(\lambda+\lambda_{\min})` from
    the eigenvalues of :math:`H` (last axis) and :math:`\lambda > -\lambda_{\min}`.

    Args:
        hessian_eigs: eigenvalues of H along the last axis (finite).
        lam: proximal strength, in (0, inf), with lam + min(eigs) > 0.
    """
    v = Args()
    e = v("hessian_eigs", hessian_eigs, high=np.inf, high_open=True, low=-np.inf, low_open=True)
    lam = v("lam", lam, low=0.0, low_open=True, high=np.inf, high_open=True)
    e, lam = v.floats(e, lam)
    xp = v.xp
    lo, hi = xp.min(e, axis=-1), xp.max(e, axis=-1)
    v.require("lam", lam + lo > 0, "lam + min(hessian_eigs) must be > 0 (I + H/lam PD)")
    return v.out((lam + hi) / (lam + lo))


def cg_error_bound(kappa, k):
    r"""CG's A-norm error bound relative to the initial error,
    :math:`2((\sqrt\kappa-1)/(\sqrt\kappa+1))^k`.

    Args:
        kappa: condition number, in [1, inf).
        k: CG iterations, integers in [0, inf) (broadcasts against ``kappa``).
    """
    v = Args()
    kappa = v("kappa", kappa, low=1.0, high=np.inf, high_open=True)
    k = v("k", k, low=0, integer=True, high=np.inf, high_open=True)
    kappa, k = v.floats(kappa, k)
    s = v.xp.sqrt(kappa)
    return v.out(2.0 * ((s - 1.0) / (s + 1.0)) ** k)
