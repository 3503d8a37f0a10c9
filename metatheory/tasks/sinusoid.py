r"""Finn et al. (2017)'s sinusoid regression tasks (claim G9).

A task is ``y = A sin(x - phi)`` with ``A ~ U[0.1, 5]``, ``phi ~ U[0, pi]``; inputs
``x ~ U[-5, 5]`` (Finn, Abbeel, Levine 2017, Sec. 5.1). Arrays carry a trailing feature axis of
size 1 so that they feed ``metatheory.nets.apply`` directly.

Closed forms of the family (:func:`pooled_mean`, :func:`pooled_mse`, :func:`zero_mse`): the
best task-agnostic predictor is the conditional mean
:math:`m(x) = E[A]\,E_\varphi \sin(x-\varphi) = E[A]\,(\cos(x-b)-\cos(x-a))/(b-a)` for
:math:`\varphi\sim U[a,b]`, i.e. :math:`-(2E[A]/\pi)\cos x` for Finn's :math:`[0,\pi]`
(zero only for a symmetric range such as :math:`[-\pi,\pi]`). Its MSE is
:math:`E[A^2]E\sin^2(x-\varphi) - E_x m(x)^2` (3.0057 for Finn's family) against
:math:`E[A^2]E\sin^2(x-\varphi)` (4.2517) for predicting zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "SinusoidFamily",
    "FINN",
    "sample_tasks",
    "sample_points",
    "sample_batch",
    "evaluate",
    "pooled_mean",
    "pooled_mse",
    "zero_mse",
]


@dataclass(frozen=True)
class SinusoidFamily:
    amp_range: tuple[float, float] = (0.1, 5.0)
    phase_range: tuple[float, float] = (0.0, float(jnp.pi))
    x_range: tuple[float, float] = (-5.0, 5.0)

    def __post_init__(self):
        for name in ("amp_range", "phase_range", "x_range"):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"{name} must be a finite interval (lo < hi), got {(lo, hi)}")


FINN = SinusoidFamily()


def sample_tasks(key: jax.Array, n_tasks: int, family: SinusoidFamily = FINN):
    """Amplitudes and phases, each of shape ``(n_tasks,)``."""
    ka, kp = jax.random.split(key)
    amp = jax.random.uniform(ka, (n_tasks,), minval=family.amp_range[0], maxval=family.amp_range[1])
    phase = jax.random.uniform(
        kp, (n_tasks,), minval=family.phase_range[0], maxval=family.phase_range[1]
    )
    return amp, phase


def evaluate(amp, phase, x):
    """``A sin(x - phi)`` broadcast over a leading task axis: x ``(T, K, 1)``."""
    return amp[:, None, None] * jnp.sin(x - phase[:, None, None])


def sample_points(key: jax.Array, amp, phase, k: int, family: SinusoidFamily = FINN):
    """``k`` points per task: ``(x, y)`` each of shape ``(n_tasks, k, 1)``."""
    x = jax.random.uniform(
        key, (amp.shape[0], k, 1), minval=family.x_range[0], maxval=family.x_range[1]
    )
    return x, evaluate(amp, phase, x)


def sample_batch(
    key: jax.Array, n_tasks: int, k_support: int, k_query: int, family: SinusoidFamily = FINN
):
    """A meta-batch: ``support, query`` pairs of ``(x, y)`` for ``n_tasks`` fresh tasks."""
    kt, ks, kq = jax.random.split(key, 3)
    amp, phase = sample_tasks(kt, n_tasks, family)
    return sample_points(ks, amp, phase, k_support, family), sample_points(
        kq, amp, phase, k_query, family
    )


def _moments(family: SinusoidFamily):
    a0, a1 = family.amp_range
    p0, p1 = family.phase_range
    x0, x1 = family.x_range
    ea = (a0 + a1) / 2
    ea2 = (a1**3 - a0**3) / (3 * (a1 - a0))
    # E_x cos 2x, E_x sin 2x over x ~ U[x0, x1]; E cos 2phi, E sin 2phi over phi ~ U[p0, p1]
    cx = (math.sin(2 * x1) - math.sin(2 * x0)) / (2 * (x1 - x0))
    sx = (math.cos(2 * x0) - math.cos(2 * x1)) / (2 * (x1 - x0))
    cp = (math.sin(2 * p1) - math.sin(2 * p0)) / (2 * (p1 - p0))
    sp = (math.cos(2 * p0) - math.cos(2 * p1)) / (2 * (p1 - p0))
    # E sin^2(x - phi) = 1/2 - E cos(2x - 2phi) / 2
    esin2 = 0.5 - (cx * cp + sx * sp) / 2
    # m(x) / E[A] = a cos x + b sin x
    a = (math.cos(p1) - math.cos(p0)) / (p1 - p0)
    b = (math.sin(p1) - math.sin(p0)) / (p1 - p0)
    em2 = a * a * (0.5 + cx / 2) + b * b * (0.5 - cx / 2) + a * b * sx
    return ea, ea2, esin2, a, b, em2


def pooled_mean(x, family: SinusoidFamily = FINN):
    r"""The pooled optimum :math:`m(x) = E[y \mid x]` over the family's tasks, elementwise in
    ``x``: :math:`E[A](\cos(x-b)-\cos(x-a))/(b-a)`, :math:`-(2E[A]/\pi)\cos x` for Finn's."""
    ea, _, _, a, b, _ = _moments(family)
    x = np.asarray(x, dtype=np.float64)
    return ea * (a * np.cos(x) + b * np.sin(x))


def zero_mse(family: SinusoidFamily = FINN) -> float:
    r"""MSE of predicting 0 on a random task and input: :math:`E[A^2]\,E\sin^2(x-\varphi)`."""
    _, ea2, esin2, _, _, _ = _moments(family)
    return float(ea2 * esin2)


def pooled_mse(family: SinusoidFamily = FINN) -> float:
    r"""MSE of :func:`pooled_mean` on a random task and input (the best a task-agnostic
    predictor can do): :func:`zero_mse` minus :math:`E_x m(x)^2`."""
    ea, ea2, esin2, _, _, em2 = _moments(family)
    return float(ea2 * esin2 - ea * ea * em2)
