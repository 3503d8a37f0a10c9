r"""C7: the Hessian-free MAML meta-gradient against MAML's (as we implement HF-MAML after
Fallah, Mokhtari, Ozdaglar 2020; the error bounds derived here).

On random and on extremal one-step tasks of the losses of :mod:`._common`, the distance
:math:`\|g_{HF} - g_{MAML}\|` between :func:`metatheory.learners.hf_maml_meta_gradient` and
:func:`metatheory.learners.maml_meta_gradient` (``n_inner=1``, exact autodiff) is compared
with :math:`\alpha` times :func:`metatheory.bounds.hf_maml_hvp_error_bound` (Lipschitz
Hessian, the abs-cubic loss) and :func:`~metatheory.bounds.hf_maml_hvp_error_bound_smooth`
(Lipschitz third derivative, the quartic loss), at :math:`v = \nabla f_Q(\tilde w)`. On the
smooth loss the log-log slope of the distance against :math:`\delta` is fitted per task.
The control is the one-sided difference, computed here. All in float64; the key draws the
tasks, :math:`\alpha` and :math:`\delta`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory import bounds, learners
from metatheory.experiments import experiment
from metatheory.experiments.hessian_free import _common

__all__ = ["HvpConfig", "QUICK", "FULL", "PRESETS", "HvpResult", "hf_maml_hvp"]

EPS = float(np.finfo(np.float64).eps)
ROUND_ULPS = 64
"""Ulps of each magnitude in the per-task rounding allowance (see :func:`_one`)."""


@dataclass(frozen=True)
class HvpConfig:
    d: int = 4
    m: int = 5  # samples per support and per query
    rho: float = 2.0
    rho3: float = 3.0
    n_random: int = 240  # random tasks per loss
    n_attain: int = 16  # extremal tasks per loss
    alpha_range: tuple[float, float] = (0.05, 1.0)
    delta_range: tuple[float, float] = (1e-2, 1.0)  # log-uniform
    n_order: int = 8  # smooth-loss tasks of the order fit
    order_deltas: tuple[float, ...] = (2e-2, 1e-2, 5e-3, 2.5e-3)
    order_alpha: float = 0.5


QUICK = HvpConfig()
FULL = HvpConfig(n_random=4080, n_attain=256, n_order=64)
PRESETS = {"quick": QUICK, "full": FULL}
"""The order fit's steps: at ``delta = 2e-2`` the next order of the error is ~4e-4 relative
for well-conditioned tasks; at ``2.5e-3`` rounding (~1e-12) stays ~1e-6 of the error."""


@dataclass(frozen=True, kw_only=True)
class HvpResult:
    attaining: np.ndarray  # (n_random + n_attain,) which tasks are the extremal ones
    ratio_lip: np.ndarray  # ||g_HF - g_MAML|| / (alpha * rho delta ||v||^2 / 2), abs-cubic
    excess_lip: np.ndarray  # (||g_HF - g_MAML|| - alpha * bound) / rounding allowance
    ratio_smooth: np.ndarray  # against alpha * rho3 delta^2 ||v||^3 / 6, quartic loss
    excess_smooth: np.ndarray
    onesided_smooth: np.ndarray  # control: the one-sided difference's ratio, quartic loss
    deltas: np.ndarray  # order fit
    order_err: np.ndarray  # (n_order, len(deltas)) ||g_HF - g_MAML||, smooth loss
    order_slopes: np.ndarray  # fitted log-log slope per task
    onesided_slopes: np.ndarray  # control: the one-sided difference's slopes
    order_slope: float  # log-log slope of the summed distance over the tasks
    onesided_slope: float  # control: the same for the one-sided difference


def _one(loss, w, support, query, alpha, delta):
    """``(||g_HF - g_MAML||, ||v||, rounding allowance, one-sided distance)`` of one task."""
    grad = jax.grad(loss)
    hf = learners.hf_maml_meta_gradient(loss, w, support, query, alpha=alpha, delta=delta)
    exact = learners.maml_meta_gradient(loss, w, support, query, alpha=alpha, n_inner=1)
    adapted = w - alpha * grad(w, *support)
    v = grad(adapted, *query)
    g_plus, g_minus, g_0 = (grad(w + s * delta * v, *support) for s in (1.0, -1.0, 0.0))
    hvp = jax.jvp(lambda p: grad(p, *support), (w,), (v,))[1]
    one_sided = jnp.linalg.norm(alpha * ((g_plus - g_0) / delta - hvp))
    # rounding allowance: each gradient is ~10 flops whose residual s = x.w - y cancels terms
    # up to a few times |s|, so ~16 ulp of its magnitude, and 64 ulp with margin; their
    # difference is divided by 2 delta; then v - alpha * (...) adds ulps of |v| and alpha |Hv|
    scale = jnp.maximum(jnp.linalg.norm(g_plus), jnp.linalg.norm(g_minus))
    allowance = (
        ROUND_ULPS
        * EPS
        * (alpha * scale / delta + jnp.linalg.norm(v) + alpha * jnp.linalg.norm(hvp))
    )
    return jnp.linalg.norm(hf - exact), jnp.linalg.norm(v), allowance, one_sided


def _batch(loss, tasks, alpha, delta):
    w, s, q = tasks
    return jax.jit(jax.vmap(functools.partial(_one, loss)))(w, s, q, alpha, delta)


def _tasks(key, n_random, n_attain, d, m, support_residual=False):
    """``n_random`` random tasks followed by ``n_attain`` extremal ones."""
    kr, ka = jax.random.split(key)
    rnd = _common.random_tasks(kr, n_random, d, m)
    att = _common.attaining_tasks(ka, n_attain, d, m, support_residual=support_residual)
    return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), rnd, att)


def _steps(key, config, n):
    """``n`` inner steps uniform on ``alpha_range``, differences log-uniform on
    ``delta_range``."""
    ka, kd = jax.random.split(key)
    lo, hi = config.alpha_range
    alpha = jax.random.uniform(ka, (n,), jnp.float64, lo, hi)
    dl, dh = np.log(config.delta_range[0]), np.log(config.delta_range[1])
    delta = jnp.exp(jax.random.uniform(kd, (n,), jnp.float64, dl, dh))
    return alpha, delta


@functools.partial(jax.jit, static_argnums=0)
def _draw(config, key):
    """Every random input of the experiment, drawn in one compiled program: per loss (abs-cubic,
    quartic) the tasks, steps and differences; the smooth loss's tasks."""
    c = config
    # JAX's rbg generator (XLA's RngBitGenerator): compiles several times faster than threefry
    fast = jax.random.wrap_key_data(jax.random.bits(key, (4,), jnp.uint32), impl="rbg")
    k = jax.random.split(fast, 5)
    n = c.n_random + c.n_attain
    draws = []
    for i, residual in enumerate((False, True)):
        tasks = _tasks(k[2 * i], c.n_random, c.n_attain, c.d, c.m, residual)
        draws.append((tasks, *_steps(k[2 * i + 1], c, n)))
    order = _common.random_tasks(k[4], c.n_order, c.d, c.m)
    return draws, order


@experiment
def hf_maml_hvp(config: HvpConfig, key: jax.Array) -> HvpResult:
    """C7: HF-MAML vs MAML meta-gradients against the derived bounds and order."""
    with jax.enable_x64(True):
        c = config
        n = c.n_random + c.n_attain
        attaining = np.arange(n) >= c.n_random
        draws, order = _draw(c, key)
        losses = (
            ("lip", functools.partial(_common.abs_cubic_loss, rho=c.rho)),
            ("smooth", functools.partial(_common.quartic_loss, rho3=c.rho3)),
        )
        out = {}
        for (name, loss), (tasks, alpha, delta) in zip(losses, draws, strict=True):
            err, vn, allow, one_sided = (
                np.asarray(x, np.float64) for x in _batch(loss, tasks, alpha, delta)
            )
            alpha, delta = np.asarray(alpha), np.asarray(delta)
            if name == "lip":
                bound = alpha * bounds.hf_maml_hvp_error_bound(c.rho, delta, vn)
            else:
                bound = alpha * bounds.hf_maml_hvp_error_bound_smooth(c.rho3, delta, vn)
            out[name] = (err / bound, (err - bound) / allow, one_sided / bound)

        deltas = np.asarray(c.order_deltas, np.float64)
        nd = deltas.size
        rep = jax.tree_util.tree_map(lambda a: jnp.repeat(a, nd, axis=0), order)
        alpha = jnp.full((c.n_order * nd,), c.order_alpha)
        dl = jnp.tile(jnp.asarray(deltas), c.n_order)
        err, _, _, one_sided = _batch(_common.smooth_loss, rep, alpha, dl)
        err = np.asarray(err).reshape(c.n_order, nd)
        one_sided = np.asarray(one_sided).reshape(c.n_order, nd)
        logd = np.log(deltas)
        slopes = np.array([np.polyfit(logd, np.log(e), 1)[0] for e in err])
        os_slopes = np.array([np.polyfit(logd, np.log(e), 1)[0] for e in one_sided])
        order_slope = float(np.polyfit(logd, np.log(err.sum(0)), 1)[0])
        onesided_slope = float(np.polyfit(logd, np.log(one_sided.sum(0)), 1)[0])
        return HvpResult(
            attaining=attaining,
            ratio_lip=out["lip"][0],
            excess_lip=out["lip"][1],
            ratio_smooth=out["smooth"][0],
            excess_smooth=out["smooth"][1],
            onesided_smooth=out["smooth"][2],
            deltas=deltas,
            order_err=err,
            order_slopes=slopes,
            onesided_slopes=os_slopes,
            order_slope=order_slope,
            onesided_slope=onesided_slope,
        )
