"""Argument checks shared by every calculator: a ``ValueError`` naming the argument and the
accepted range, never a silent NaN. Traced values (inside ``jax.jit``) cannot be checked at
trace time: :class:`Args` records their validity and the calculator returns NaN where they
are invalid (never a plausible number). Bool and complex input is always rejected."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "check",
    "is_traced",
    "Args",
    "mul0",
    "poison",
    "prod_pos",
    "growth_ratio",
    "TINY_PRODUCT",
]


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
        self.own = []
        self.jax = False
        self.traced = False

    def __call__(
        self, name, x, *, low=None, high=None, low_open=False, high_open=False, integer=False
    ):
        _check_dtype(name, x)
        if isinstance(x, jax.Array):
            self.jax = True
        if is_traced(x):
            self.traced = True
            mask = _ok_mask(x, low, high, low_open, high_open, integer)
            self.ok.append(mask)
            self.own.append(mask)
            return x
        self.own.append(None)
        return check(
            name, x, low=low, high=high, low_open=low_open, high_open=high_open, integer=integer
        )

    @property
    def xp(self):
        return jnp if self.jax else np

    def floats(self, *args):
        """The arguments (in the order they were checked) as arrays of the backend's float
        dtype. Under a trace each is passed through :func:`poison`: NaN, with a NaN
        derivative, where it (or, when the shapes allow, any argument) is invalid, so that
        no gradient of an invalid point is a plausible number."""
        if not self.jax:
            return tuple(np.asarray(a, dtype=np.float64) for a in args)
        out = tuple(jnp.asarray(a, dtype=jnp.result_type(float)) for a in args)
        if not self.traced or len(self.own) != len(out):
            return out
        every = _all(self.ok)
        res = []
        for a, own in zip(out, self.own, strict=True):
            mask = every if _fits(every, a) else own
            res.append(a if mask is None else poison(a, mask))
        return tuple(res)

    def require(self, name, cond, message):
        """A relation between arguments (``alpha * L <= 1``): ``ValueError`` when concrete
        and false anywhere (``message`` may be a callable), NaN in the result when any
        argument is traced (under ``grad`` a comparison of traced values is concrete, but the
        values are not: the message could not show them)."""
        if self.traced or is_traced(cond):
            self.ok.append(jnp.asarray(cond))
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
                ok = _all(self.ok)
                while ok.ndim > x.ndim:  # an argument reduced over its last axis
                    ok = jnp.all(ok, axis=-1)
                x = poison(x, ok)
            return x
        x = np.asarray(x, dtype=np.float64)
        return x[()] if x.ndim == 0 else x


def _all(masks):
    ok = masks[0]
    for o in masks[1:]:
        ok = ok & o
    return ok


def _fits(mask, a) -> bool:
    """``mask`` broadcasts to ``a``'s shape without enlarging it."""
    try:
        return np.broadcast_shapes(np.shape(mask), np.shape(a)) == np.shape(a)
    except ValueError:
        return False


@jax.custom_jvp
def poison(x, ok):
    """``x`` where ``ok``, NaN elsewhere, with the derivative NaN elsewhere too (a plain
    ``where`` would give the invalid points a zero derivative)."""
    return jnp.where(ok, x, jnp.nan)


@poison.defjvp
def _poison_jvp(primals, tangents):
    x, ok = primals
    dx, _ = tangents
    return poison(x, ok), dx * jnp.where(ok, 1.0, jnp.nan).astype(dx.dtype)


def prod_pos(xp, *factors):
    """The product of non-negative factors without a spurious overflow or underflow: the
    plain product (a zero factor wins over an infinite one, as in :func:`mul0`), and where
    every factor is positive and finite but the plain product is ``inf``, 0 or subnormal,
    ``exp(sum(log(factor)))`` (relative error about ``|log(product)| * eps``)."""
    pos = factors[0] > 0
    for f in factors:
        pos = pos & (f > 0) & (f < xp.inf)
    plain = factors[0]
    for f in factors[1:]:
        plain = mul0(xp, plain, f)
    tiny = np.finfo(np.float64).tiny if xp is np else jnp.finfo(jnp.result_type(plain)).tiny
    use_log = pos & ((plain == xp.inf) | (plain < tiny))
    if xp is np and not np.any(use_log):
        return plain
    safe = [xp.where(use_log, 1.0, f) for f in factors]
    plain = safe[0]
    for f in safe[1:]:
        plain = mul0(xp, plain, f)
    logs = sum(xp.log(xp.where(use_log, f, 1.0)) for f in factors)
    return xp.where(use_log, xp.exp(logs), plain)


TINY_PRODUCT = 1e-250
"""Below this a product such as ``alpha * L`` may have lost digits to underflow (or been
flushed to 0, as XLA does with subnormals): calculators switch to a form that does not
form it (:func:`growth_ratio`); above it they keep their direct formula."""

_RATIO_SMALL = 1e-4
"""Below this argument the ratios below sum four terms of their series (remainder < 3e-17)."""


def _log1p_ratio(x, xp):
    """``log1p(x) / x`` (1 at 0), for ``x > -1``."""
    small = xp.abs(x) < _RATIO_SMALL
    xs = xp.where(small, 1.0, x)
    series = 1.0 + x * (-1.0 / 2 + x * (1.0 / 3 - x / 4))
    return xp.where(small, series, xp.log1p(xs) / xs)


def _expm1_ratio(s, xp):
    """``expm1(s) / s`` (1 at 0; ``inf`` at ``s = inf``, 0 at ``-inf``)."""
    small = xp.abs(s) < _RATIO_SMALL
    finite = xp.abs(s) < xp.inf
    ss = xp.where(small | ~finite, 1.0, s)
    series = 1.0 + s * (1.0 / 2 + s * (1.0 / 6 + s / 24))
    big = xp.where(s > 0, xp.inf, 0.0)
    return xp.where(small, series, xp.where(finite, xp.expm1(ss) / ss, big))


def growth_ratio(x, n, xp, *, sign=1.0):
    """``((1 + x)^n - 1) / x`` (``sign=1``) or ``(1 - (1 - x)^n) / x`` (``sign=-1``,
    ``x <= 1``) for ``x >= 0``, as ``n l(sx) e(n s x l(sx))`` with ``l(y) = log1p(y)/y``,
    ``e(t) = expm1(t)/t``: ``n`` at ``x = 0`` and accurate when ``x`` is tiny or has
    underflowed (a product such as ``alpha * L`` of two tiny positive factors)."""
    if sign > 0:
        inf = x == xp.inf  # alpha * L overflowed: (1 + x)^n / x is inf for n > 1, 1 at n = 1
        xs = xp.where(inf, 1.0, x)
        lr = _log1p_ratio(xs, xp)
        return xp.where(inf, xp.where(n > 1, xp.inf, 1.0), n * lr * _expm1_ratio(n * xs * lr, xp))
    at_one = x >= 1.0  # (1 - (1 - x)^n) / x = 1 at x = 1 (n >= 1)
    xs = xp.where(at_one, 0.5, x)
    lr = _log1p_ratio(-xs, xp)
    return xp.where(at_one, 1.0, n * lr * _expm1_ratio(-n * xs * lr, xp))


def mul0(xp, a, b):
    """``a * b`` where a zero factor wins over an infinite one (``0 * inf = 0``), with the
    right derivative in each factor."""
    fa = xp.where(xp.isinf(a), 0.0, a)
    fb = xp.where(xp.isinf(b), 0.0, b)
    return xp.where(a == 0, a * fb, xp.where(b == 0, fa * b, a * b))
