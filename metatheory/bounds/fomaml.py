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

from metatheory.bounds._validate import check

__all__ = ["fomaml_bias_bound"]


def fomaml_bias_bound(alpha, L, G, n_steps, psd=False):
    r"""Upper bound on :math:`\|g_{MAML} - g_{FO}\|`: ``((1+alpha L)^N - 1) G``, or with
    ``psd=True`` (constant PSD Hessian, ``alpha L <= 1``) ``(1 - (1-alpha L)^N) G``.

    ``alpha > 0``, ``L >= 0`` (Hessian norm bound), ``G >= 0`` (query-gradient norm bound),
    finite; integer ``n_steps >= 1``. Broadcasts over arrays.
    """
    fin = dict(high=np.inf, high_open=True)
    alpha = np.asarray(check("alpha", alpha, low=0.0, low_open=True, **fin), np.float64)
    L = np.asarray(check("L", L, low=0.0, **fin), np.float64)
    G = np.asarray(check("G", G, low=0.0, **fin), np.float64)
    n = np.asarray(check("n_steps", n_steps, low=1, integer=True, **fin), np.float64)
    if isinstance(psd, bool | np.bool_) or (isinstance(psd, int | np.integer) and psd in (0, 1)):
        psd = bool(psd)
    else:
        raise ValueError(f"psd must be a bool, got {psd!r}")
    x = alpha * L
    if psd:
        check("alpha * L (psd=True)", x, low=0.0, high=1.0)
        with np.errstate(divide="ignore"):  # alpha L = 1: log1p(-1) = -inf, factor 1
            factor = -np.expm1(n * np.log1p(-x))
    else:
        with np.errstate(over="ignore"):  # astronomically large bounds become inf, not an error
            factor = np.expm1(n * np.log1p(x))
    with np.errstate(invalid="ignore"):
        out = np.where(G == 0, 0.0, factor * G)  # G = 0: no query gradient, no bias (not inf*0)
    return out[()] if out.ndim == 0 else out
