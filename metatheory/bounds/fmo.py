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

from metatheory.bounds._validate import Args, check, is_traced, mul0  # noqa: F401

__all__ = ["fmo_smoothness", "maml_smoothness"]


def fmo_smoothness(L, rho, alpha, grad_norm):
    r"""FMO's local smoothness constant :math:`4L + 2\rho\alpha\cdot\mathrm{grad\_norm}`.

    Args:
        L: gradient Lipschitz constant of each task loss, in (0, inf).
        rho: Hessian Lipschitz constant, in [0, inf).
        alpha: inner step size, in (0, 1/L].
        grad_norm: :math:`E_i\|\nabla f_i(w)\|`, in [0, inf).

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid).
    Example: ``fmo_smoothness(1, 2, 0.1, 3) = 5.2``.
    """
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    L = v("L", L, low=0.0, low_open=True, **fin)
    rho = v("rho", rho, low=0.0, **fin)
    alpha = v("alpha", alpha, low=0.0, low_open=True, **fin)
    grad_norm = v("grad_norm", grad_norm, low=0.0, **fin)
    L, rho, alpha, grad_norm = v.floats(L, rho, alpha, grad_norm)
    xp = v.xp
    with v.errstate():
        # alpha * L <= 1 with a relative rounding allowance (alpha = 1/L computed in floats)
        aL = alpha * L
        v.require(
            "alpha",
            aL <= 1.0 + 1e-12,
            lambda: (
                "alpha must be in (0, 1/L] for fmo_smoothness (the bound uses 1 + alpha*L <= 2), "
                f"got alpha*L = {float(np.max(aL)):g}"
            ),
        )
        out = 4.0 * L + 2.0 * mul0(xp, rho, alpha * grad_norm)
    return v.out(out)


def maml_smoothness(L, rho, alpha, G, n_steps=1):
    r"""Smoothness constant of the ``n_steps``-step MAML objective,
    :math:`(1+\alpha L)^{2N}L + (\rho G/L)(1+\alpha L)^{N-1}((1+\alpha L)^N-1)`.

    Args:
        L: gradient Lipschitz constant of each task loss, in (0, inf).
        rho: Hessian Lipschitz constant, in [0, inf).
        alpha: inner step size, in (0, inf).
        G: bound on :math:`\|\nabla f_i\|` at the inner iterates, in [0, inf).
        n_steps: number of inner steps N, an integer in [0, inf); default 1.

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid); ``inf`` when
    the constant overflows.
    """
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    L = v("L", L, low=0.0, low_open=True, **fin)
    rho = v("rho", rho, low=0.0, **fin)
    alpha = v("alpha", alpha, low=0.0, low_open=True, **fin)
    G = v("G", G, low=0.0, **fin)
    n = v("n_steps", n_steps, low=0.0, integer=True, **fin)
    L, rho, alpha, G, n = v.floats(L, rho, alpha, G, n)
    xp = v.xp
    with v.errstate():
        lq = xp.log1p(alpha * L)  # log q, q = 1 + alpha L
        head = L * xp.exp(2.0 * n * lq)
        tail = xp.exp((n - 1.0) * lq) * xp.expm1(n * lq)  # q^(N-1) (q^N - 1)
        out = head + mul0(xp, rho * G / L, tail)
    return v.out(out)
