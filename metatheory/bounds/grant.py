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

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.bounds._validate import TINY_PRODUCT, Args, check, growth_ratio, is_traced

__all__ = ["grant_prior_precision", "grant_prior_covariance"]


def grant_prior_precision(h, alpha, n_steps):
    r"""Prior precision :math:`\lambda = h r^N/(1-r^N)`, :math:`r = 1-\alpha h`, that makes
    ``n_steps`` GD steps on :math:`\tfrac h2(\theta-\hat\theta)^2` the MAP estimate.

    Args:
        h: curvature of the quadratic, in (0, inf).
        alpha: step size, in (0, inf) with 0 < alpha*h < 1.
        n_steps: number of GD steps N, an integer in [1, inf).

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid). Small-step
    limit: :math:`1/(\alpha N) - (N+1)h/(2N) + O(\alpha)`; underflows to 0 when
    :math:`(1-\alpha h)^N` does.
    """
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    h = v("h", h, low=0.0, low_open=True, **fin)
    alpha = v("alpha", alpha, low=0.0, low_open=True, **fin)
    n = v("n_steps", n_steps, low=1, integer=True, **fin)
    h, alpha, n = v.floats(h, alpha, n)
    xp = v.xp
    with v.errstate():
        ah = alpha * h  # > 0 mathematically (h, alpha > 0), even where it underflows to 0
        v.require(
            "alpha * h",
            ah < 1,
            lambda: f"alpha * h must be in (0, 1.0), got {float(np.max(ah)):g}",
        )
        tiny = ah < TINY_PRODUCT  # alpha * h underflowed (or nearly): the form below
        log_r = xp.log1p(-xp.where(tiny, 0.5, ah))
        # r^N / (1 - r^N) without cancellation at small alpha: exp(N log r) / -expm1(N log r)
        out = h * xp.exp(n * log_r) / -xp.expm1(n * log_r)
        # h r^N / (1 - r^N) = r^N / (alpha (1 - r^N) / (alpha h)) -> 1/(alpha N)
        ratio = growth_ratio(xp.where(tiny, ah, 0.0), n, xp, sign=-1.0)
        small = xp.exp(n * xp.log1p(-ah)) / alpha / ratio  # no alpha^2 in the h-derivative
        out = xp.where(tiny, small, out)
    return v.out(out)


def _cov_factor(ell, alpha, n):
    """``((1 - alpha ell)^-N - 1) / ell``, the prior variance along an eigenvector."""
    return jnp.expm1(-n * jnp.log1p(-alpha * ell)) / ell


def _swap(a):
    return jnp.swapaxes(a, -1, -2)


@jax.custom_jvp
def _cov_jax(H, alpha, n):
    ell, O = jnp.linalg.eigh(H)
    return (O * _cov_factor(ell, alpha, n)[..., None, :]) @ _swap(O)


@_cov_jax.defjvp
def _cov_jax_jvp(primals, tangents):
    r"""Daleckii-Krein: :math:`dQ = O(\Phi\circ O^\top dH\,O + \mathrm{diag}(\partial_\alpha f
    d\alpha + \partial_N f dN))O^\top`, :math:`\Phi_{ij}` the divided difference of ``f``
    (``f'`` at the midpoint for (near-)equal eigenvalues, where eigh's own rule divides by 0)."""
    H, alpha, n = primals
    dH, da, dn = tangents
    ell, O = jnp.linalg.eigh(H)
    f = lambda e: _cov_factor(e, alpha, n)
    q = f(ell)
    _, dq_an = jax.jvp(lambda a, m: _cov_factor(ell, a, m), (alpha, n), (da, dn))
    li, lj = ell[..., :, None], ell[..., None, :]
    mid = 0.5 * (li + lj)
    _, fprime_mid = jax.jvp(f, (mid,), (jnp.ones_like(mid),))
    diff = li - lj
    tol = jnp.sqrt(jnp.finfo(ell.dtype).eps) * jnp.maximum(jnp.abs(li), jnp.abs(lj))
    close = jnp.abs(diff) <= tol
    dd = jnp.where(
        close, fprime_mid, (q[..., :, None] - q[..., None, :]) / jnp.where(close, 1, diff)
    )
    M = _swap(O) @ (0.5 * (dH + _swap(dH))) @ O
    inner = dd * M + jnp.eye(ell.shape[-1], dtype=ell.dtype) * dq_an[..., None, :]
    Q = (O * q[..., None, :]) @ _swap(O)
    return Q, O @ inner @ _swap(O)


def grant_prior_covariance(H, alpha, n_steps):
    r"""Prior covariance :math:`Q = O\Lambda^{-1}((I-\alpha\Lambda)^{-N}-I)O^\top`.

    Args:
        H: symmetric positive-definite Hessian, shape ``(..., d, d)`` (a stack broadcasts).
        alpha: step size, a scalar in (0, inf); every eigenvalue ell of H must satisfy
            0 < alpha*ell < 1.
        n_steps: number of GD steps N, a scalar integer in [1, inf).

    jit/grad/vmap-safe: under a trace the result is NaN where ``H`` is not symmetric or an
    eigenvalue is out of range, and the derivative in ``H`` (symmetric part), ``alpha`` and
    ``n_steps`` comes from the Daleckii-Krein formula (finite at repeated eigenvalues).
    Concrete input whose covariance overflows float64 raises ``ValueError``.
    """
    v = Args()
    H = v("H", H)
    alpha = v("alpha", alpha, low=0.0, high=np.inf, low_open=True, high_open=True)
    n = v("n_steps", n_steps, low=1, high=np.inf, high_open=True, integer=True)
    if np.ndim(H) < 2 or np.shape(H)[-1] != np.shape(H)[-2] or np.shape(H)[-1] < 1:
        raise ValueError(f"H must be a square matrix (..., d, d), got shape {np.shape(H)}")
    if np.ndim(alpha) or np.ndim(n):
        raise ValueError("alpha and n_steps must be scalars for grant_prior_covariance")
    H, alpha, n = v.floats(H, alpha, n)
    if v.jax:
        if not is_traced(H):
            _check_spd(np.asarray(H, np.float64), None if is_traced(alpha) else float(alpha))
        ell = jnp.linalg.eigvalsh(H)
        scale = jnp.max(jnp.abs(H), axis=(-1, -2))
        asym = jnp.max(jnp.abs(H - _swap(H)), axis=(-1, -2))
        ok = (
            jnp.all(jnp.isfinite(H), axis=(-1, -2))
            & (asym <= 100 * jnp.finfo(H.dtype).eps * scale)
            & jnp.all((ell > 0) & (alpha * ell < 1), axis=-1)
            & (alpha > 0)
            & (n >= 1)
            & (n == jnp.round(n))
        )
        Q = _cov_jax(H, alpha, n)
        return jnp.where(ok[..., None, None], Q, jnp.nan)
    ell, O = _check_spd(H, float(alpha))
    with np.errstate(over="ignore"):
        q = np.expm1(-n * np.log1p(-alpha * ell)) / ell  # ((1 - a ell)^-N - 1) / ell
    if not np.all(np.isfinite(q)):
        raise ValueError("n_steps too large: the prior covariance overflows float64")
    return (O * q[..., None, :]) @ np.swapaxes(O, -1, -2)


def _check_spd(H, alpha):
    """Concrete checks of ``H``: finite, symmetric, eigenvalues in (0, 1/alpha)."""
    if not np.all(np.isfinite(H)):
        raise ValueError("H must be finite")
    if not np.allclose(H, np.swapaxes(H, -1, -2), rtol=1e-10, atol=1e-12 * np.abs(H).max()):
        raise ValueError("H must be symmetric")
    ell, O = np.linalg.eigh(H)
    check("eigenvalues of H", ell, low=0.0, low_open=True)
    if alpha is not None:
        rng = dict(low=0.0, high=1.0, low_open=True, high_open=True)
        check("alpha * eigenvalues of H", alpha * ell, **rng)
    return ell, O
