"""Argument checks shared by every calculator: a ``ValueError`` naming the argument and the
accepted range, never a silent NaN. Traced values (inside ``jax.jit``) cannot be checked at
trace time: :class:`Args` records their validity and the calculator returns NaN where they
are invalid (never a plausible number). Bool and complex input is always rejected."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["check", "is_traced", "Args", "mul0"]


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
    _check_dtype(name, x)
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


def _check_dtype(name: str, x) -> None:
    """Reject bool and complex input (concrete or traced): ``True`` is not a count and a
    complex bound is meaningless."""
    dt = getattr(x, "dtype", None)
    if dt is None:
        if isinstance(x, bool | np.bool_):
            raise ValueError(f"{name} must be a real number, got bool {x!r}")
        if isinstance(x, complex):
            raise ValueError(f"{name} must be a real number, got complex {x!r}")
        if isinstance(x, list | tuple):
            dt = np.asarray(x).dtype
        else:
            return
    if np.dtype(dt) == np.bool_:
        raise ValueError(f"{name} must be a real number, got a bool array")
    if np.issubdtype(np.dtype(dt), np.complexfloating):
        raise ValueError(f"{name} must be a real number, got a complex array")


def _ok_mask(x, low, high, low_open, high_open, integer):
    """Elementwise validity of a traced ``x`` (NaN fails every comparison)."""
    ok = x == x
    if low is not None:
        ok &= (x > low) if low_open else (x >= low)
    if high is not None:
        ok &= (x < high) if high_open else (x <= high)
    if integer:
        ok &= x == jnp.round(x)
    return ok


class Args:
    """Validate a calculator's arguments and pick its backend (the rule of
    :mod:`metatheory.bounds`).

    Concrete arguments are checked at once (``ValueError`` naming the argument and range);
    traced ones (inside ``jit``/``grad``/``vmap``) cannot be, so their validity is recorded
    and :meth:`out` returns NaN wherever any argument was invalid. Bool and complex input is
    rejected in both cases (the dtype is known at trace time).

    Backend: ``jax.numpy`` when any argument is a JAX array (traced or not), the result a
    ``jax.Array`` in JAX's default float dtype; otherwise float64 NumPy, the result a NumPy
    float64 array (a ``numpy.float64`` scalar when 0-d).
    """

    def __init__(self):
        self.ok = []
        self.jax = False

    def __call__(
        self, name, x, *, low=None, high=None, low_open=False, high_open=False, integer=False
    ):
        _check_dtype(name, x)
        if isinstance(x, jax.Array):
            self.jax = True
        if is_traced(x):
            self.ok.append(_ok_mask(x, low, high, low_open, high_open, integer))
            return x
        return check(
            name, x, low=low, high=high, low_open=low_open, high_open=high_open, integer=integer
        )

    @property
    def xp(self):
        return jnp if self.jax else np

    def floats(self, *args):
        """The arguments as arrays of the backend's float dtype."""
        if self.jax:
            return tuple(jnp.asarray(a, dtype=jnp.result_type(float)) for a in args)
        return tuple(np.asarray(a, dtype=np.float64) for a in args)

    def require(self, name, cond, message):
        """A relation between arguments (``alpha * L <= 1``): ``ValueError`` when concrete
        and false anywhere (``message`` may be a callable), NaN in the result when traced."""
        if is_traced(cond):
            self.ok.append(cond)
        elif not np.all(np.asarray(cond)):
            raise ValueError(message() if callable(message) else message)

    def errstate(self):
        """Overflow to inf without NumPy warnings (JAX never warns)."""
        return np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore")

    def out(self, x):
        """Apply the return rule; NaN where a traced argument was invalid."""
        if self.jax:
            x = jnp.asarray(x)
            if self.ok:
                ok = self.ok[0]
                for o in self.ok[1:]:
                    ok = ok & o
                x = jnp.where(ok, x, jnp.nan)
            return x
        x = np.asarray(x, dtype=np.float64)
        return x[()] if x.ndim == 0 else x


def mul0(xp, a, b):
    """``a * b`` where a zero factor wins over an infinite one (``0 * inf = 0``), with the
    right derivative in each factor."""
    fa = xp.where(xp.isinf(a), 0.0, a)
    fb = xp.where(xp.isinf(b), 0.0, b)
    return xp.where(a == 0, a * fb, xp.where(b == 0, fa * b, a * b))
