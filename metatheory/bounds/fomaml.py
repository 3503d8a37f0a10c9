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

from metatheory.bounds._validate import Args, check, mul0  # noqa: F401

__all__ = ["fomaml_bias_bound", "nichol_expected_updates"]


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
            factor = -xp.expm1(n * xp.log1p(-x))  # alpha L = 1: log1p(-1) = -inf, factor 1
        else:
            factor = xp.expm1(n * xp.log1p(x))  # astronomically large bounds become inf
        out = mul0(xp, factor, G)  # G = 0: no query gradient, no bias (not inf*0)
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
