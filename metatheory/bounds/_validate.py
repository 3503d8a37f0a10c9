"""Argument checks shared by every calculator: a ``ValueError`` naming the argument and the
accepted range, never a silent NaN. Traced values (inside ``jax.jit``) are passed through
unchecked, since their values are unknown at trace time."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["check", "is_traced"]


def is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def check(
    name: str,
    x,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
):
    """Return ``x`` as an array after checking ``low (<|<=) x (<|<=) high`` elementwise.

    The message names ``name`` and the interval, e.g. ``delta must be in (0, 1), got 1.5``.
    """
    if is_traced(x):
        return x
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got {x!r}")
    lo_b, hi_b = ("(" if low_open else "["), (")" if high_open else "]")
    rng = f"{lo_b}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi_b}"
    af = a.astype(np.float64)
    bad = np.isnan(af)
    if low is not None:
        bad |= (af <= low) if low_open else (af < low)
    if high is not None:
        bad |= (af >= high) if high_open else (af > high)
    if integer:
        bad |= np.isfinite(af) & (af != np.round(af))
    if np.any(bad):
        shown = af[bad].ravel()[0]
        kind = "an integer in " if integer else "in "
        raise ValueError(f"{name} must be {kind}{rng}, got {shown:g}")
    return jnp.asarray(x) if isinstance(x, jax.Array) else a
