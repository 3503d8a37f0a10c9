r"""Grant et al.'s implicit prior of early-stopped gradient descent (claim H1).

``N`` steps of size :math:`\alpha` on :math:`\tfrac h2(\theta-\hat\theta)^2` from
:math:`\theta_0` equal the MAP estimate under :math:`\mathcal N(\theta_0, 1/\lambda)` iff

.. math:: \lambda = \frac{h(1-\alpha h)^N}{1-(1-\alpha h)^N}, \qquad 0 < \alpha h < 1;

for a quadratic with Hessian :math:`H = O\Lambda O^\top` (linear regression) the prior
covariance is :math:`Q = O\Lambda^{-1}((I-\alpha\Lambda)^{-N}-I)O^\top`.
Source: Grant et al. 2018, "Recasting gradient-based meta-learning as hierarchical Bayes",
Sec. 3.1 (after Santos 1996); derivation in :mod:`metatheory.symbolic.grant`.
"""

from __future__ import annotations

import numpy as np

from metatheory.bounds._validate import check

__all__ = ["grant_prior_precision", "grant_prior_covariance"]


def _common(alpha, n_steps):
    alpha = check("alpha", alpha, low=0.0, high=np.inf, low_open=True, high_open=True)
    n_steps = check("n_steps", n_steps, low=1, high=np.inf, high_open=True, integer=True)
    return np.asarray(alpha, np.float64), np.asarray(n_steps, np.float64)


def grant_prior_precision(h, alpha, n_steps):
    r"""Prior precision :math:`\lambda = h r^N/(1-r^N)`, :math:`r = 1-\alpha h`, that makes
    ``n_steps`` GD steps on :math:`\tfrac h2(\theta-\hat\theta)^2` the MAP estimate.

    Requires ``h > 0``, ``alpha > 0``, ``0 < alpha*h < 1`` and an integer ``n_steps >= 1``;
    broadcasts over arrays. Small-step limit: :math:`1/(\alpha N) - (N+1)h/(2N) + O(\alpha)`.
    """
    h = np.asarray(check("h", h, low=0.0, high=np.inf, low_open=True, high_open=True), np.float64)
    alpha, n = _common(alpha, n_steps)
    check("alpha * h", alpha * h, low=0.0, high=1.0, low_open=True, high_open=True)
    log_r = np.log1p(-alpha * h)
    # r^N / (1 - r^N) without cancellation at small alpha: exp(N log r) / -expm1(N log r)
    out = h * np.exp(n * log_r) / -np.expm1(n * log_r)
    return out[()] if out.ndim == 0 else out


def grant_prior_covariance(H, alpha, n_steps):
    r"""Prior covariance :math:`Q = O\Lambda^{-1}((I-\alpha\Lambda)^{-N}-I)O^\top` for a
    symmetric positive-definite Hessian ``H`` (shape ``(..., d, d)``; a stack broadcasts with
    scalar ``alpha`` and ``n_steps``). Every eigenvalue must satisfy ``0 < alpha*ell < 1``.
    """
    H = np.asarray(check("H", H), np.float64)
    if H.ndim < 2 or H.shape[-1] != H.shape[-2] or H.shape[-1] < 1:
        raise ValueError(f"H must be a square matrix (..., d, d), got shape {H.shape}")
    if not np.all(np.isfinite(H)):
        raise ValueError("H must be finite")
    if not np.allclose(H, np.swapaxes(H, -1, -2), rtol=1e-10, atol=1e-12 * np.abs(H).max()):
        raise ValueError("H must be symmetric")
    alpha, n = _common(alpha, n_steps)
    if alpha.ndim or n.ndim:
        raise ValueError("alpha and n_steps must be scalars for grant_prior_covariance")
    ell, O = np.linalg.eigh(H)
    check("eigenvalues of H", ell, low=0.0, low_open=True)
    check("alpha * eigenvalues of H", alpha * ell, low=0.0, high=1.0, low_open=True, high_open=True)
    with np.errstate(over="ignore"):
        q = np.expm1(-n * np.log1p(-alpha * ell)) / ell  # ((1 - a ell)^-N - 1) / ell
    if not np.all(np.isfinite(q)):
        raise ValueError("n_steps too large: the prior covariance overflows float64")
    return (O * q[..., None, :]) @ np.swapaxes(O, -1, -2)
