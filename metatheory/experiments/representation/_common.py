r"""The shared problem of the representation family (claim R1): multitask linear regression
with a shared representation, in population form.

Inputs :math:`x\sim N(0, I_d)`; task ``t`` has the regressor :math:`B_*w_{*t}`, so the
population loss of the model :math:`f(x) = w^\top B^\top x` is
:math:`E_x\tfrac12(x^\top(Bw - B_*w_{*t}))^2 = \tfrac12\|Bw - B_*w_{*t}\|^2`, the least-squares
loss :func:`loss` with the design :math:`I_d` (the square root of the input covariance) and the
targets :math:`B_*w_{*t}`. The heads :math:`\pm\sqrt{k\sigma_j}\,Re_j` (``2k`` tasks, ``R`` a
random rotation) have mean 0 and covariance :math:`\Sigma = R\operatorname{diag}(\sigma)R^\top`;
ANIL's expected query loss from a zero head depends on the head distribution only through these
two moments, so the mean over these ``2k`` tasks is the population meta-loss exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["loss", "draw_instance", "subspace_distance", "transient_ratio"]


def loss(params, x, y):
    r""":math:`\tfrac12\|x\,(Bw) - y\|^2` for ``params = {"body": B, "head": w}``."""
    r = x @ (params["body"] @ params["head"]) - y
    return 0.5 * jnp.sum(r * r)


def draw_instance(key, d: int, k: int, sigma):
    r"""One instance: the ground truth ``B_*`` (``(d, k)``, orthonormal columns), the initial
    representation ``B_0`` (i.i.d. ``N(0, 1/d)``), the control's initial head
    (``N(0, I_k/(4k))``: :math:`\beta\|w_0\|^2\approx\beta/4`, a stable shared-head run)
    and the ``2k`` tasks as ``(x, y)`` arrays with a leading task axis."""
    kb, k0, kr, kw = jax.random.split(key, 4)
    b_star = jnp.linalg.qr(jax.random.normal(kb, (d, k)))[0]
    b0 = jax.random.normal(k0, (d, k)) / jnp.sqrt(d)
    rot = jnp.linalg.qr(jax.random.normal(kr, (k, k)))[0]
    heads = rot * jnp.sqrt(k * jnp.asarray(sigma))  # columns sqrt(k sigma_j) R e_j
    w_star = jnp.concatenate([heads.T, -heads.T])  # (2k, k)
    y = w_star @ b_star.T  # (2k, d): the tasks' regressors B_* w_*
    x = jnp.broadcast_to(jnp.eye(d), (2 * k, d, d))
    w_control = 0.5 * jax.random.normal(kw, (k,)) / jnp.sqrt(k)
    return b_star, b0, w_control, (x, y)


def subspace_distance(b, b_star):
    r"""The principal-angle distance :math:`\|(I - B_*B_*^\top)Q_B\|_2` (``Q_B`` an orthonormal
    basis of the column space of ``b``)."""
    q = jnp.linalg.qr(b)[0]
    return jnp.linalg.norm(q - b_star @ (b_star.T @ q), ord=2)


def transient_ratio(sigma, alpha: float, beta: float) -> float:
    r"""Per-step decay of the slowest transient relative to the asymptotic mode: the largest
    of the second-slowest C mode :math:`(1-\alpha\beta\sigma_2)/(1-\alpha\beta\sigma_1)`
    (:math:`\sigma_1 < \sigma_2` the two smallest), the A block's modes
    :math:`|1-2\alpha\beta(\sigma_i+\sigma_j)|` and the second-order feedback
    :math:`\rho^2` of :math:`C^\top C` (:mod:`metatheory.symbolic.representation`)."""
    s = sorted(float(v) for v in sigma)
    ab = alpha * beta
    rho = 1 - ab * s[0]
    c_mode = (1 - ab * s[1]) / rho if len(s) > 1 else 0.0
    a_modes = [abs(1 - 2 * ab * (si + sj)) for si in s for sj in s]
    return max(c_mode, *a_modes, rho**2)
