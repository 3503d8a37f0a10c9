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

from metatheory.bounds._validate import Args, growth_ratio, mul0, prod_pos

__all__ = [
    "fmo_smoothness",
    "maml_smoothness",
    "maml_rate_bound",
    "fmo_maml_accuracy",
    "fo_maml_floor",
]


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
    the constant overflows, finite whenever it is (no intermediate overflows).
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
        # (rho G / L) q^(N-1) (q^N - 1) = rho G alpha q^(N-1) ((q^N - 1) / (alpha L)): a product
        # of non-negative factors without the spurious overflow of rho G / L (L = 1e-200,
        # G = 1e200 give a finite term) or the underflow of alpha L
        tail = xp.exp((n - 1.0) * lq) * growth_ratio(alpha * L, n, xp)
        out = head + prod_pos(xp, rho, G, alpha, tail)
    return v.out(out)


def maml_rate_bound(delta, smoothness, sigma2, c, T):
    r"""The descent-lemma bound of SGD on an :math:`L_F`-smooth objective with an unbiased
    gradient of variance :math:`\le\sigma^2` and the step :math:`\beta = c/\sqrt T\le 1/L_F`
    (the argument behind FMO's :math:`O(1/\sqrt T)` rate, claim C4):

    .. math:: \frac1T\sum_{t<T} E\|\nabla F(w_t)\|^2 \le \frac{2\Delta}{c\sqrt T}
              + \frac{L_F c\,\sigma^2}{\sqrt T}.

    Args:
        delta: :math:`\Delta = F(w_0) - \inf F`, in [0, inf).
        smoothness: :math:`L_F`, in (0, inf).
        sigma2: variance bound :math:`\sigma^2`, in [0, inf).
        c: step constant, in (0, inf); the bound needs :math:`c\le\sqrt T/L_F`.
        T: horizon, in (0, inf).

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid).
    """
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    delta = v("delta", delta, low=0.0, **fin)
    lf = v("smoothness", smoothness, low=0.0, low_open=True, **fin)
    sigma2 = v("sigma2", sigma2, low=0.0, **fin)
    c = v("c", c, low=0.0, low_open=True, **fin)
    T = v("T", T, low=0.0, low_open=True, **fin)
    delta, lf, sigma2, c, T = v.floats(delta, lf, sigma2, c, T)
    xp = v.xp
    with v.errstate():
        v.require(
            "c",
            c * lf <= xp.sqrt(T) * (1.0 + 1e-12),
            lambda: (
                f"c must be <= sqrt(T)/smoothness (step <= 1/L_F), got c*L_F/sqrt(T) = "
                f"{float(np.max(c * lf / np.sqrt(T))):g}"
            ),
        )
        out = (2.0 * delta / c + lf * c * sigma2) / xp.sqrt(T)
    return v.out(out)


def fmo_maml_accuracy(L, rho, alpha, sigma, sigma_tilde, B, D_o, D_in):
    r"""The accuracy MAML reaches in FMO's Theorem 4.5 (Fallah, Mokhtari, Ozdaglar 2020):

    .. math:: E\|\nabla F(w_\epsilon)\| \le \max\Bigl\{\sqrt{61\bigl(1+\tfrac{\rho\alpha}{L}
              \sigma\bigr)S},\ \tfrac{61\rho\alpha}{L}S\Bigr\},\qquad
              S = \frac{\sigma^2}{B} + \frac{\tilde\sigma^2}{BD_o} + \frac{\tilde\sigma^2}{D_{in}},

    for :math:`\alpha\in(0, 1/(6L)]`, :math:`D_h\ge\lceil 2\alpha^2\sigma_H^2\rceil`,
    :math:`B\ge 20` and :math:`\beta_k = 1/(12\tilde L(w_k))` (the ``epsilon`` branch of the
    theorem's maximum is left out: it is reached after enough iterations).

    Args:
        L: gradient Lipschitz constant of the task losses, in (0, inf).
        rho: Hessian Lipschitz constant of the task losses, in [0, inf).
        alpha: inner step, in (0, 1/(6L)].
        sigma: task-gradient spread (FMO Assumption 4.4), in [0, inf).
        sigma_tilde: per-sample gradient spread (Assumption 4.5), in [0, inf).
        B: task batch size, in [1, inf).
        D_o: outer (query) data batch size, in [1, inf).
        D_in: inner (support) data batch size, in [1, inf).

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid).
    """
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    L = v("L", L, low=0.0, low_open=True, **fin)
    rho = v("rho", rho, low=0.0, **fin)
    alpha = v("alpha", alpha, low=0.0, low_open=True, **fin)
    sigma = v("sigma", sigma, low=0.0, **fin)
    st = v("sigma_tilde", sigma_tilde, low=0.0, **fin)
    B = v("B", B, low=1.0, **fin)
    D_o = v("D_o", D_o, low=1.0, **fin)
    D_in = v("D_in", D_in, low=1.0, **fin)
    L, rho, alpha, sigma, st, B, D_o, D_in = v.floats(L, rho, alpha, sigma, st, B, D_o, D_in)
    xp = v.xp
    with v.errstate():
        v.require(
            "alpha",
            6.0 * alpha * L <= 1.0 + 1e-12,
            lambda: (
                "alpha must be in (0, 1/(6L)] for Theorem 4.5, got 6*alpha*L = "
                f"{float(np.max(6 * alpha * L)):g}"
            ),
        )
        s = sigma**2 / B + st**2 / (B * D_o) + st**2 / D_in
        r = rho * alpha / L
        out = xp.maximum(xp.sqrt(61.0 * (1.0 + r * sigma) * s), 61.0 * r * s)
    return v.out(out)


def fo_maml_floor(alpha, L, sigma2):
    r"""The term of first-order MAML's bound in FMO's Theorem 4.7 (Fallah, Mokhtari, Ozdaglar
    2020) that no task batch removes: :math:`\sigma^2(\frac1B + 20\alpha^2L^2)` leaves
    :math:`20\alpha^2L^2\sigma^2` as :math:`B\to\infty`.

    Args:
        alpha: inner step, in (0, inf) (the theorem takes :math:`\alpha\in(0, 1/(10L)]`).
        L: the task losses' gradient Lipschitz constant, in (0, inf).
        sigma2: task-gradient variance :math:`\sigma^2` (FMO Assumption 4.4), in [0, inf).

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid).
    """
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    alpha = v("alpha", alpha, low=0.0, low_open=True, **fin)
    L = v("L", L, low=0.0, low_open=True, **fin)
    sigma2 = v("sigma2", sigma2, low=0.0, **fin)
    alpha, L, sigma2 = v.floats(alpha, L, sigma2)
    with v.errstate():
        out = 20 * alpha**2 * L**2 * sigma2
    return v.out(out)
