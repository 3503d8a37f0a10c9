"""Statistics for the checks: log-log slopes with confidence intervals, t-intervals of a mean,
bootstrap intervals (JAX keys, no global randomness) and Clopper–Pearson intervals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np
from scipy import stats as _st

__all__ = [
    "Interval",
    "loglog_slope",
    "linear_fit",
    "mean_ci",
    "welch_ci",
    "ratio_ci",
    "bootstrap_ci",
    "clopper_pearson",
]


def _levels(level: float) -> tuple[float, float]:
    """``(tail, coverage)`` of a tail probability ``level`` in (0, 1/2): an interval of level
    1e-3 misses the true value with probability 1e-3 (coverage 0.999)."""
    if not 0.0 < level < 0.5:
        raise ValueError(f"level must be a tail probability in (0, 1/2), got {level!r}")
    return float(level), 1.0 - float(level)


@dataclass(frozen=True)
class Interval:
    """A point ``estimate`` with a two-sided confidence interval ``[low, high]``.

    ``level`` is the designed tail probability: the interval misses the true value with
    probability ``level`` (``level / 2`` on each side), so a one-sided test of ``low > t`` has
    level ``level / 2``. ``n`` is the number of units behind it; fits also carry ``stderr`` and
    ``intercept``.
    """

    estimate: float
    low: float
    high: float
    level: float
    n: int
    stderr: float = float("nan")
    intercept: float = float("nan")

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside ``[low, high]``."""
        return bool(self.low <= value <= self.high)

    @property
    def confidence(self) -> float:
        """Coverage ``1 − level``."""
        return 1.0 - self.level

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]"


def linear_fit(x, y, *, level: float = 0.05) -> Interval:
    """Ordinary least squares with a Student-t interval on the slope (``n - 2`` dof)."""
    tail, cov = _levels(level)
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 3:
        raise ValueError(f"x and y must have equal length >= 3, got {x.size} and {y.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    res = _st.linregress(x, y)
    t = _st.t.ppf(0.5 + cov / 2, x.size - 2)
    return Interval(
        estimate=float(res.slope),
        low=float(res.slope - t * res.stderr),
        high=float(res.slope + t * res.stderr),
        level=tail,
        n=int(x.size),
        stderr=float(res.stderr),
        intercept=float(res.intercept),
    )


def loglog_slope(x, y, *, level: float = 0.05) -> Interval:
    """Slope of ``log y`` against ``log x`` (the empirical order/exponent) with its CI."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("loglog_slope needs positive x and y")
    return linear_fit(np.log(x), np.log(y), level=level)


def mean_ci(samples, *, level: float = 0.05) -> Interval:
    """Student-t confidence interval of the mean of iid ``samples``; with an infinite or NaN
    sample the mean is ``inf``/``-inf``/NaN and the interval collapses to it (no warning)."""
    tail, cov = _levels(level)
    s = np.asarray(samples, dtype=np.float64).ravel()
    if s.size < 2:
        raise ValueError(f"need at least 2 samples, got {s.size}")
    if not np.all(np.isfinite(s)):
        # infinite or NaN samples (a diverged run): the mean is +-inf or NaN and the interval
        # is that point (or NaN), computed without numpy's inf - inf warnings
        with np.errstate(invalid="ignore", over="ignore"):
            m = float(s.mean())
        return Interval(m, m, m, tail, int(s.size))
    m = float(s.mean())
    half = float(_st.t.ppf(0.5 + cov / 2, s.size - 1) * s.std(ddof=1) / np.sqrt(s.size))
    return Interval(m, m - half, m + half, tail, int(s.size))


def welch_ci(a, b, *, level: float = 0.05) -> Interval:
    """Welch interval of ``mean(a) − mean(b)`` for two independent iid samples (t with the
    Welch–Satterthwaite degrees of freedom)."""
    tail, cov = _levels(level)
    a, b = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b))
    if a.size < 2 or b.size < 2:
        raise ValueError(f"need at least 2 samples each, got {a.size} and {b.size}")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    m = float(a.mean() - b.mean())
    half = float(_st.t.ppf(0.5 + cov / 2, df) * np.sqrt(va + vb))
    return Interval(m, m - half, m + half, tail, int(a.size + b.size))


def ratio_ci(x, y, *, level: float = 0.05) -> Interval:
    """Least-squares slope of ``y = b x`` through the origin, ``b = Σxy / Σx²``, with its
    t-interval (``n − 1`` degrees of freedom): the share of ``x`` that ``y`` recovers when the
    pairs ``(x_i, y_i)`` are iid and the residuals homoscedastic."""
    tail, cov = _levels(level)
    x, y = (np.asarray(v, dtype=np.float64).ravel() for v in (x, y))
    if x.size < 2 or x.size != y.size:
        raise ValueError(f"need two samples of equal size >= 2, got {x.size} and {y.size}")
    sxx = float(np.sum(x * x))
    b = float(np.sum(x * y)) / sxx
    se = float(np.sqrt(np.sum((y - b * x) ** 2) / (x.size - 1) / sxx))
    half = float(_st.t.ppf(0.5 + cov / 2, x.size - 1) * se)
    return Interval(b, b - half, b + half, tail, int(x.size))


def bootstrap_ci(
    key: jax.Array,
    samples,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    n_resamples: int = 2000,
    level: float = 0.05,
    method: str = "percentile",
) -> Interval:
    """Bootstrap interval of ``statistic`` over resamples of the first axis (``n`` units).

    ``method="percentile"``: the resamples' ``level/2`` and ``1 − level/2`` quantiles.
    ``method="t"``: the point estimate ± ``t_{n−1}`` quantile × the resamples' standard
    deviation × ``√(n/(n−1))`` (for the mean this is Student's interval); use it at small
    false-alarm levels, whose tails a few thousand resamples cannot resolve, for a statistic
    close to normal."""
    tail, cov = _levels(level)
    if method not in ("percentile", "t"):
        raise ValueError(f"method must be 'percentile' or 't', got {method!r}")
    s = np.asarray(samples, dtype=np.float64)
    n = s.shape[0]
    if n < 2 or n_resamples < 10:
        raise ValueError("need >= 2 samples and n_resamples >= 10")
    idx = np.asarray(jax.random.randint(key, (n_resamples, n), 0, n))
    with np.errstate(invalid="ignore", over="ignore"):  # infinite samples: inf, not warnings
        boots = np.array([statistic(s[i]) for i in idx])
        point = float(statistic(s))
        if method == "percentile":
            lo, hi = np.quantile(boots, [0.5 - cov / 2, 0.5 + cov / 2])
        else:
            half = _st.t.ppf(0.5 + cov / 2, n - 1) * boots.std(ddof=1) * np.sqrt(n / (n - 1))
            lo, hi = point - half, point + half
    return Interval(point, float(lo), float(hi), tail, int(n))


def clopper_pearson(k: int, n: int, *, level: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper–Pearson) two-sided interval for a binomial proportion ``k / n``."""
    tail, cov = _levels(level)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    a = tail
    lo = 0.0 if k == 0 else float(_st.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(_st.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi
