"""stats.py against scipy on known cases."""

import jax
import numpy as np
import pytest
from scipy import stats as st

from metatheory import stats


def test_linear_fit_matches_scipy_and_t_interval():
    x = np.linspace(0, 1, 20)
    y = 3.0 - 2.0 * x + 0.1 * np.sin(37 * x)
    fit = stats.linear_fit(x, y, level=0.1)
    ref = st.linregress(x, y)
    t = st.t.ppf(0.95, 18)
    assert fit.estimate == pytest.approx(ref.slope, rel=1e-12)
    assert fit.low == pytest.approx(ref.slope - t * ref.stderr, rel=1e-12)
    assert fit.high == pytest.approx(ref.slope + t * ref.stderr, rel=1e-12)


def test_loglog_slope_recovers_power_law_exactly():
    x = np.logspace(1, 4, 7)
    fit = stats.loglog_slope(x, 5.0 * x**-0.5)
    assert fit.estimate == pytest.approx(-0.5, abs=1e-12)
    assert fit.high - fit.low < 1e-9 and not fit.contains(-1.0)


def test_loglog_slope_coverage_of_noisy_power_law():
    """Over 400 noisy fits the 95% slope CI covers the true slope 93-97% of the time."""
    key = jax.random.key(0)
    x = np.logspace(0, 2, 10)
    noise = np.asarray(jax.random.normal(key, (400, 10))) * 0.2
    hits = sum(stats.loglog_slope(x, x**-1.0 * np.exp(e)).contains(-1.0) for e in noise)
    lo, hi = stats.clopper_pearson(hits, 400, level=0.001)
    assert lo <= 0.95 <= hi


def test_mean_ci_matches_scipy():
    s = np.array([1.0, 2.0, 4.0, 4.5, 6.0])
    ci = stats.mean_ci(s, level=0.05)
    lo, hi = st.t.interval(0.95, 4, loc=s.mean(), scale=st.sem(s))
    assert (ci.low, ci.high) == pytest.approx((lo, hi), rel=1e-12)


def test_welch_ci_matches_scipy():
    a = np.array([1.0, 2.0, 4.0, 4.5, 6.0, 3.0])
    b = np.array([0.5, 0.1, 2.5, 1.0])
    ci = stats.welch_ci(a, b, level=0.01)
    ref = st.ttest_ind(a, b, equal_var=False).confidence_interval(confidence_level=0.99)
    assert (ci.low, ci.high) == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert ci.estimate == pytest.approx(a.mean() - b.mean(), rel=1e-15)


def test_ratio_ci_exact_line_and_constant_regressor():
    x = np.array([0.5, 1.0, 2.0, 3.0])
    exact = stats.ratio_ci(x, 0.7 * x)
    assert exact.estimate == pytest.approx(0.7, rel=1e-14) and exact.high - exact.low < 1e-12
    # with x = 1 the slope through the origin is the mean of y, with the same t-interval
    y = np.array([1.0, 2.0, 4.0, 4.5, 6.0])
    r, m = stats.ratio_ci(np.ones_like(y), y, level=0.1), stats.mean_ci(y, level=0.1)
    assert (r.estimate, r.low, r.high) == pytest.approx((m.estimate, m.low, m.high), rel=1e-12)


def test_ratio_ci_coverage():
    """Over 400 draws of y = 0.8 x + noise, the 90% interval covers 0.8 in 90% ± 5% of them."""
    keys = jax.random.split(jax.random.key(5), 400)
    x = np.linspace(0.1, 2.0, 30)
    hits = [
        stats.ratio_ci(x, 0.8 * x + 0.3 * np.asarray(jax.random.normal(k, x.shape)), level=0.1)
        for k in keys
    ]
    assert 0.85 <= np.mean([h.low <= 0.8 <= h.high for h in hits]) <= 0.95


def test_clopper_pearson_matches_scipy_binomtest():
    for k, n in [(0, 10), (3, 10), (10, 10), (970, 1000)]:
        ref = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        assert stats.clopper_pearson(k, n) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_bootstrap_ci_close_to_scipy():
    data = np.asarray(jax.random.exponential(jax.random.key(1), (200,)))
    ours = stats.bootstrap_ci(jax.random.key(2), data, np.mean, n_resamples=4000)
    ref = st.bootstrap(
        (data,), np.mean, n_resamples=4000, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    assert ours.low == pytest.approx(ref.low, abs=0.03)
    assert ours.high == pytest.approx(ref.high, abs=0.03)
    assert ours.low < data.mean() < ours.high


def test_bootstrap_t_of_the_mean_is_students_interval():
    """For the mean, the bootstrap-t interval is Student's up to the resamples' error on the
    standard deviation (~1/√(2·4000) ≈ 1.1% relative; 4% allowed)."""
    data = np.asarray(jax.random.exponential(jax.random.key(3), (16,)))
    for level in (0.05, 0.001):
        ours = stats.bootstrap_ci(
            jax.random.key(4), data, n_resamples=4000, level=level, method="t"
        )
        ref = stats.mean_ci(data, level=level)
        assert ours.estimate == pytest.approx(ref.estimate, rel=1e-12)
        assert ours.high - ours.estimate == pytest.approx(ref.high - ref.estimate, rel=0.04)
        assert ours.estimate - ours.low == pytest.approx(ref.high - ref.estimate, rel=0.04)


def test_bootstrap_t_coverage_of_a_smooth_statistic():
    """A ratio of two means of 32 exponential pairs: the 99% bootstrap-t interval covers the
    true ratio 2 in 392–400 of 400 independent samples (binomial 1% ± 3 s.d.)."""
    keys = jax.random.split(jax.random.key(5), 400)
    hits = 0
    for k in keys:
        k1, k2, k3 = jax.random.split(k, 3)
        x = np.stack(
            [
                np.asarray(jax.random.exponential(k1, (32,))) * 2,
                np.asarray(jax.random.exponential(k2, (32,))),
            ],
            1,
        )
        ci = stats.bootstrap_ci(
            k3,
            x,
            lambda s: s[:, 0].mean() / s[:, 1].mean(),
            n_resamples=400,
            level=0.01,
            method="t",
        )
        hits += ci.low <= 2.0 <= ci.high
    assert 392 <= hits <= 400


@pytest.mark.parametrize(
    "call",
    [
        lambda: stats.bootstrap_ci(jax.random.key(0), [1.0, 2.0], method="bca"),
        lambda: stats.linear_fit([1, 2], [1, 2]),
        lambda: stats.loglog_slope([1, 2, 3], [1, -1, 2]),
        lambda: stats.mean_ci([1.0]),
        lambda: stats.clopper_pearson(5, 3),
        lambda: stats.mean_ci([1.0, 2.0], level=1.5),
        lambda: stats.mean_ci([1.0, 2.0], level=0.5),
        lambda: stats.clopper_pearson(1, 2, level=0.0),
        lambda: stats.welch_ci([1.0], [1.0, 2.0]),
        lambda: stats.ratio_ci([1.0, 2.0], [1.0]),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()
