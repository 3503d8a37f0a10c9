"""Finn et al. (2017)'s sinusoid regression tasks (claim G9).

A task is ``y = A sin(x - phi)`` with ``A ~ U[0.1, 5]``, ``phi ~ U[0, pi]``; inputs
``x ~ U[-5, 5]``. Arrays carry a trailing feature axis of size 1 so that they feed
``metatheory.nets.apply`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

__all__ = ["SinusoidFamily", "FINN", "sample_tasks", "sample_points", "sample_batch", "evaluate"]


@dataclass(frozen=True)
class SinusoidFamily:
    amp_range: tuple[float, float] = (0.1, 5.0)
    phase_range: tuple[float, float] = (0.0, float(jnp.pi))
    x_range: tuple[float, float] = (-5.0, 5.0)


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
