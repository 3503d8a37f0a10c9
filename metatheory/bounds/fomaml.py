r"""Bounds on the bias of first-order MAML (claim G3).

:math:`g_{MAML} - g_{FO} = (\prod_{j<N}(I-\alpha H_j) - I)\nabla L_Q(\theta_N)`; with
:math:`\|H_j\| \le L` and :math:`\|\nabla L_Q(\theta_N)\| \le G`,

.. math:: \|g_{MAML} - g_{FO}\| \le ((1+\alpha L)^N - 1)\,G,

and for a constant PSD Hessian with :math:`\alpha L \le 1`,
:math:`\|g_{MAML} - g_{FO}\| \le (1-(1-\alpha L)^N)\,G` (attained on quadratics). ``N = 1``
gives :math:`\alpha L G` in both. Sources: Finn et al. 2017, Sec. 5.2; Nichol et al. 2018;
derivation in :mod:`metatheory.symbolic.fomaml`.
"""

from __future__ import annotations

import numpy as np

from metatheory.bounds._validate import TINY_PRODUCT, Args, check, growth_ratio, mul0, prod_pos

__all__ = ["fomaml_bias_bound", "nichol_expected_updates", "meta_sgd_alpha_gradient"]


def fomaml_bias_bound(alpha, L, G, n_steps, psd=False):
    r"""Upper bound on :math:`\|g_{MAML} - g_{FO}\|`: ``((1+alpha L)^N - 1) G``, or with
    ``psd=True`` (constant PSD Hessian, ``alpha L <= 1``) ``(1 - (1-alpha L)^N) G``.

    Args:
        alpha: inner step size, in (0, inf).
        L: bound on the inner Hessians' norm, in [0, inf).
        G: bound on the query-gradient norm, in [0, inf).
        n_steps: number of inner steps N, an integer in [1, inf).
        psd: the Hessian is constant and PSD with alpha*L <= 1 (a Python bool); default False.

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid); ``inf`` when
    the bound overflows.
    """
    if isinstance(psd, bool | np.bool_) or (isinstance(psd, int | np.integer) and psd in (0, 1)):
        psd = bool(psd)
    else:
        raise ValueError(f"psd must be a bool, got {psd!r}")
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    alpha = v("alpha", alpha, low=0.0, low_open=True, **fin)
    L = v("L", L, low=0.0, **fin)
    G = v("G", G, low=0.0, **fin)
    n = v("n_steps", n_steps, low=1, integer=True, **fin)
    alpha, L, G, n = v.floats(alpha, L, G, n)
    xp = v.xp
    with v.errstate():
        x = alpha * L
        if psd:
            v.require(
                "alpha",
                x <= 1.0,
                lambda: f"alpha * L (psd=True) must be in [0, 1.0], got {float(np.max(x)):g}",
            )
        if psd:
            factor = -xp.expm1(n * xp.log1p(-x))  # alpha L = 1: log1p(-1) = -inf, factor 1
        else:
            factor = xp.expm1(n * xp.log1p(x))  # astronomically large bounds become inf
        out = mul0(xp, factor, G)  # G = 0: no query gradient, no bias (not inf*0)
        # where alpha * L underflows (1e-200 * 1e-200), factor * G = (factor / (alpha L)) *
        # alpha * L * G: 3e-100 for G = 1e300 at N = 3, not 0
        tiny = x < TINY_PRODUCT
        ratio = growth_ratio(xp.where(tiny, x, 0.0), n, xp, sign=-1.0 if psd else 1.0)
        small = prod_pos(xp, ratio, xp.where(tiny, alpha, 1.0), xp.where(tiny, L, 0.0), G)
        out = xp.where(tiny, small, out)
    return v.out(out)


def nichol_expected_updates(avg_grad, avg_grad_inner, alpha, k):
    r"""Leading-order expected updates of MAML, first-order MAML and Reptile for ``k`` inner
    minibatch steps (Nichol, Achiam & Schulman 2018, Sec. 5.1; claim G4):

    .. math::
       E\,g_{MAML} = \mathrm{AvgGrad} - 2(k-1)\alpha\,\mathrm{AvgGradInner},\quad
       E\,g_{FO} = \mathrm{AvgGrad} - (k-1)\alpha\,\mathrm{AvgGradInner},\quad
       E\,g_{Rep} = k\,\mathrm{AvgGrad} - \tfrac12 k(k-1)\alpha\,\mathrm{AvgGradInner},

    each up to :math:`O(\alpha^2)`. Args: ``avg_grad`` and ``avg_grad_inner`` (arrays of one
    shape), ``alpha`` in [0, inf) (scalar or broadcasting against them), integer ``k >= 1``
    (MAML and FOMAML need ``k >= 2``: they adapt on ``k - 1`` batches). Returns the tuple
    ``(maml, fomaml, reptile)``. Derivation: :func:`metatheory.symbolic.fomaml.derive_general`.
    """
    k = int(check("k", k, low=1, high=np.inf, high_open=True, integer=True))
    alpha = check("alpha", alpha, low=0.0, high=np.inf, high_open=True)
    g, gi = np.asarray(avg_grad, np.float64), np.asarray(avg_grad_inner, np.float64)
    if g.shape != gi.shape:
        raise ValueError(
            f"avg_grad and avg_grad_inner must have one shape, got {g.shape}, {gi.shape}"
        )
    a = np.asarray(alpha, np.float64)
    maml = g - 2 * (k - 1) * a * gi
    fomaml = g - (k - 1) * a * gi
    reptile = k * g - 0.5 * k * (k - 1) * a * gi
    return maml, fomaml, reptile


def meta_sgd_alpha_gradient(theta0, h_s, b_s, h_q, b_q, alpha, n_steps):
    r""":math:`\partial L_Q(\theta_N)/\partial a` for ``N`` steps
    :math:`\theta_{j+1} = \theta_j - A g_j`, :math:`A = \mathrm{diag}(a)`, on
    :math:`L_S = \tfrac12\theta^\top H_S\theta - b_S^\top\theta` (gradients
    :math:`g_j = H_S\theta_j - b_S`), evaluated on :math:`L_Q` likewise:

    .. math:: \frac{\partial L_Q(\theta_N)}{\partial a}
       = -\sum_{j<N} g_j \odot \big((I - H_S A)^{N-1-j}\,\nabla L_Q(\theta_N)\big),

    summed over coordinates for a scalar step ``a`` (numpy, float64; Li et al. 2017's
    Meta-SGD step sizes, claim G8). ``theta0`` shape ``(d,)``, ``h_s``/``h_q`` ``(d, d)``,
    ``b_s``/``b_q`` ``(d,)``, ``alpha`` a scalar or ``(d,)``, integer ``n_steps >= 1``."""
    n_steps = int(check("n_steps", n_steps, low=1, high=np.inf, high_open=True, integer=True))
    theta = np.asarray(theta0, np.float64)
    if theta.ndim != 1 or np.shape(h_s) != (theta.size, theta.size):
        raise ValueError(f"theta0 must be (d,) and h_s (d, d), got {theta.shape}, {np.shape(h_s)}")
    h_s, b_s = np.asarray(h_s, np.float64), np.asarray(b_s, np.float64)
    a = np.broadcast_to(np.asarray(alpha, np.float64), theta.shape)
    gs = []
    for _ in range(int(n_steps)):
        gs.append(h_s @ theta - b_s)
        theta = theta - a * gs[-1]
    v = np.asarray(h_q, np.float64) @ theta - np.asarray(b_q, np.float64)
    m = np.eye(theta.size) - h_s * a[None, :]
    total = np.zeros_like(theta)
    for j, g in enumerate(gs):
        total -= g * (np.linalg.matrix_power(m, int(n_steps) - 1 - j) @ v)
    return total.sum() if np.ndim(alpha) == 0 else total
