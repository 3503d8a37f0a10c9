r"""Test loss of one-step MAML on mixed linear regression (claim G10).

Model (after Bernacchia 2021, ICLR; the formulas are derived here, by Wick's theorem, in
:mod:`metatheory.symbolic.negative_rates`): task weights :math:`w \sim N(w_0, (\nu^2/p)I_p)`,
inputs :math:`x\sim N(0, I_p)`, outputs :math:`y = x^\top w + \sigma\varepsilon`, loss
:math:`\frac1{2n}\|y - X\theta\|^2`, one adaptation step
:math:`\theta' = \theta + \frac\alpha n X^\top(y - X\theta)`.

* :func:`adaptation_factor` — :math:`g(\alpha, n) = 1 - 2\alpha + \alpha^2(n+p+1)/n`
  (:math:`E(I-\alpha X^\top X/n)^2 = gI`).
* :func:`adapted_test_loss` — expected loss on a fresh sample after adapting
  :math:`\theta` with :math:`\|\theta - w_0\|^2 = \delta^2`:
  :math:`\tfrac12[(\delta^2+\nu^2)g + \alpha^2\sigma^2p/n + \sigma^2]`.
* :func:`maml_gradient_noise` — :math:`V(\alpha_t) = E\|\nabla f_i(w_0)\|^2`, a task's
  meta-gradient second moment at :math:`w_0` with :math:`n_t` support and :math:`n_v`
  validation samples, a quartic in :math:`\alpha_t`.
* :func:`maml_test_loss` — the meta-test loss after meta-training on :math:`m` tasks to first
  order in :math:`1/m`: :func:`adapted_test_loss` at
  :math:`\delta^2 = V(\alpha_t)/(m\,g(\alpha_t, n_t)^2)`.
"""

from __future__ import annotations

import math

from metatheory.bounds._validate import Args

__all__ = [
    "adaptation_factor",
    "adapted_test_loss",
    "maml_gradient_noise",
    "maml_test_loss",
]

_REAL = dict(low=-math.inf, high=math.inf, low_open=True, high_open=True)
_COUNT = dict(low=1.0, high=math.inf, high_open=True)
_SCALE = dict(low=0.0, high=math.inf, high_open=True)


def adaptation_factor(alpha, n, p):
    r""":math:`g(\alpha, n) = 1 - 2\alpha + \alpha^2 (n + p + 1)/n`, the factor by which one
    adaptation step of size :math:`\alpha` on :math:`n` Gaussian samples scales the expected
    squared distance to the task's weights.

    Args:
        alpha: adaptation rate, in (-inf, inf).
        n: samples used for the step, in [1, inf).
        p: dimension, in [1, inf).
    """
    v = Args()
    a, nn, pp = v.floats(v("alpha", alpha, **_REAL), v("n", n, **_COUNT), v("p", p, **_COUNT))
    return v.out(1.0 - 2.0 * a + a * a * (nn + pp + 1.0) / nn)


def adapted_test_loss(alpha, n, p, nu, sigma, offset2=0.0):
    r"""Expected loss :math:`\tfrac12 E(y - x^\top\theta')^2` on a fresh sample after one step
    of size :math:`\alpha` on :math:`n` samples from :math:`\theta` with
    :math:`\|\theta - w_0\|^2 =` ``offset2``:
    :math:`\tfrac12[(\delta^2+\nu^2)g(\alpha, n) + \alpha^2\sigma^2p/n + \sigma^2]`.

    Args:
        alpha: adaptation rate, in (-inf, inf).
        n: adaptation samples, in [1, inf).
        p: dimension, in [1, inf).
        nu: task spread (w ~ N(w0, nu^2 I / p)), in [0, inf).
        sigma: output noise, in [0, inf).
        offset2: squared distance of theta from w0, in [0, inf) (default 0).
    """
    v = Args()
    a, nn, pp, nu_, s, d2 = v.floats(
        v("alpha", alpha, **_REAL),
        v("n", n, **_COUNT),
        v("p", p, **_COUNT),
        v("nu", nu, **_SCALE),
        v("sigma", sigma, **_SCALE),
        v("offset2", offset2, **_SCALE),
    )
    g = adaptation_factor(a, nn, pp)
    return v.out(0.5 * ((d2 + nu_**2) * g + a * a * s * s * pp / nn + s * s))


def maml_gradient_noise(alpha_t, n_t, n_v, p, nu, sigma):
    r""":math:`V(\alpha_t) = E\|\nabla f_i(w_0)\|^2` for the validation loss
    :math:`f_i(\theta) = \frac1{2n_v}\|y^v - X^v\theta'\|^2` of a task adapted with
    :math:`\alpha_t` on :math:`n_t` samples: :math:`V = [\nu^2\sum_k a_k\alpha_t^k +
    \sigma^2\sum_k b_k\alpha_t^k]/(n_t^3n_v)` with the coefficients of
    :func:`metatheory.symbolic.negative_rates.derive_gradient_noise`.

    Args:
        alpha_t: training adaptation rate, in (-inf, inf).
        n_t: support samples per training task, in [1, inf).
        n_v: validation samples per training task, in [1, inf).
        p: dimension, in [1, inf).
        nu: task spread, in [0, inf).
        sigma: output noise, in [0, inf).
    """
    v = Args()
    a, q, nv, pp, nu_, s = v.floats(
        v("alpha_t", alpha_t, **_REAL),
        v("n_t", n_t, **_COUNT),
        v("n_v", n_v, **_COUNT),
        v("p", p, **_COUNT),
        v("nu", nu, **_SCALE),
        v("sigma", sigma, **_SCALE),
    )
    p2, p3 = pp * pp, pp * pp * pp
    r = nv + pp + 1.0
    a0 = q**3 * r
    a1 = -4.0 * q**3 * r
    a2 = 2.0 * q**2 * (3 * q * nv + 3 * q * pp + 3 * q + 3 * nv * pp + 3 * nv + p2 + 4 * pp + 7)
    c3 = (q * q * nv + q * q * pp + q * q + 3 * q * nv * pp + 3 * q * nv + q * p2 + 4 * q * pp) + (
        7 * q + nv * p2 + 3 * nv * pp + 4 * nv + p2 + 7 * pp + 8
    )
    a3 = -4.0 * q * c3
    a4 = (
        q**3 * r
        + 6 * q * q * nv * pp
        + 6 * q * q * nv
        + 2 * q * q * p2
        + 8 * q * q * pp
        + 14 * q * q
        + 6 * q * nv * p2
        + 17 * q * nv * pp
        + 21 * q * nv
        + q * p3
        + 8 * q * p2
        + 38 * q * pp
        + 41 * q
        + nv * p3
        + 6 * nv * p2
        + 21 * nv * pp
        + 20 * nv
        + p3
        + 14 * p2
        + 41 * pp
        + 40
    )
    b0 = q**3 * pp
    b1 = -2.0 * q**3 * pp
    b2 = q * q * pp * (q + nv + 2 * pp + 2)
    b3 = -2.0 * q * pp * (q * nv + q * pp + q + nv * pp + nv + pp + 3)
    b4 = pp * c3
    task = a0 + a * (a1 + a * (a2 + a * (a3 + a * a4)))
    noise = b0 + a * (b1 + a * (b2 + a * (b3 + a * b4)))
    return v.out((nu_**2 * task + s * s * noise) / (q**3 * nv))


def maml_test_loss(alpha_t, alpha_r, n_t, n_v, n_r, p, m, nu, sigma):
    r"""Meta-test loss of one-step MAML meta-trained on :math:`m` tasks, to first order in
    :math:`1/m`: :func:`adapted_test_loss` (rate :math:`\alpha_r`, :math:`n_r` samples) at
    :math:`\delta^2 = V(\alpha_t)/(m\,g(\alpha_t, n_t)^2)` (:func:`maml_gradient_noise`,
    :func:`adaptation_factor`).

    Args:
        alpha_t: training adaptation rate, in (-inf, inf).
        alpha_r: test adaptation rate, in (-inf, inf).
        n_t: support samples per training task, in [1, inf).
        n_v: validation samples per training task, in [1, inf).
        n_r: adaptation samples at test time, in [1, inf).
        p: dimension, in [1, inf).
        m: training tasks, in [1, inf).
        nu: task spread, in [0, inf).
        sigma: output noise, in [0, inf).
    """
    v = Args()
    args = v.floats(
        v("alpha_t", alpha_t, **_REAL),
        v("alpha_r", alpha_r, **_REAL),
        v("n_t", n_t, **_COUNT),
        v("n_v", n_v, **_COUNT),
        v("n_r", n_r, **_COUNT),
        v("p", p, **_COUNT),
        v("m", m, **_COUNT),
        v("nu", nu, **_SCALE),
        v("sigma", sigma, **_SCALE),
    )
    at, ar, q, nv, nr, pp, mm, nu_, s = args
    g_t = adaptation_factor(at, q, pp)
    d2 = maml_gradient_noise(at, q, nv, pp, nu_, s) / (mm * g_t * g_t)
    return v.out(adapted_test_loss(ar, nr, pp, nu_, s, d2))
