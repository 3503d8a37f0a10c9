r"""G10: the optimal training rate of one-step MAML on mixed linear regression is negative.

For each setting the closed forms of :mod:`metatheory.bounds.negative_rates` give the
meta-test loss :math:`\mathcal L(\alpha_t, \alpha_r)` (first order in :math:`1/m`), its
minimisers :math:`\alpha_t^*` and :math:`\alpha_r^*` on a dense grid, and the moments behind it;
Monte Carlo estimates of a task's meta-gradient second moment :math:`V(\alpha_t)` and of the
adapted test loss test them (Bernacchia 2021, ICLR; derived here).

**Training.** On ``n_reps`` draws of :math:`m` training tasks per setting, MAML is meta-trained
by gradient descent (:func:`._common.meta_train`) at the training rate :math:`\alpha_t^*` and at
the positive rate :math:`\alpha_t = \alpha_r^*` (training with the adaptation rate, as commonly
done), on the same tasks; both are meta-tested with the adaptation rate :math:`\alpha_r^*` on
fresh tasks, whose expected loss given the trained :math:`\theta` is
:func:`metatheory.bounds.negative_rates.adapted_test_loss` at
:math:`\delta^2 = \|\theta - w_0\|^2`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import numpy as np

from metatheory import stats
from metatheory.bounds.negative_rates import (
    adaptation_factor,
    adapted_test_loss,
    maml_gradient_noise,
    maml_test_loss,
)
from metatheory.experiments import experiment
from metatheory.experiments.negative_rates import _common

__all__ = [
    "Setting",
    "NegativeRateConfig",
    "NEGATIVE_RATE_QUICK",
    "NEGATIVE_RATE_FULL",
    "NEGATIVE_RATE_PRESETS",
    "NegativeRateResult",
    "negative_training_rate",
]


@dataclass(frozen=True)
class Setting:
    p: int
    n_t: int
    n_v: int
    n_r: int
    nu: float
    sigma: float
    m: int = 50


@dataclass(frozen=True)
class NegativeRateConfig:
    settings: tuple[Setting, ...] = (
        Setting(p=8, n_t=4, n_v=2, n_r=4, nu=0.5, sigma=1.0),
        Setting(p=16, n_t=8, n_v=2, n_r=4, nu=0.5, sigma=1.0),
        Setting(p=4, n_t=8, n_v=4, n_r=4, nu=1.0, sigma=1.0),
    )
    n_draws: int = 50_000
    alpha_hi: float = 0.25  # a positive training rate at which V is also measured
    alpha_r_hi: float = 1.0  # a second test rate at which the adapted loss is measured
    offset: float = 1.0  # distance of theta from w0 in the adapted-loss draws
    level: float = 5e-5  # two-sided tail of each Monte Carlo interval
    grid: tuple[float, float, int] = (-2.0, 2.0, 40_001)  # rates searched for the optima
    n_reps: int = 300  # independent meta-trainings per setting and training rate
    n_steps: int = 100  # gradient-descent steps of each meta-training


NEGATIVE_RATE_QUICK = NegativeRateConfig()
NEGATIVE_RATE_FULL = NegativeRateConfig(n_draws=200_000, n_reps=1500)
NEGATIVE_RATE_PRESETS = {"quick": NEGATIVE_RATE_QUICK, "full": NEGATIVE_RATE_FULL}


@dataclass(frozen=True, kw_only=True)
class NegativeRateResult:
    settings: tuple[Setting, ...]
    alpha_t_star: np.ndarray  # (K,) argmin over alpha_t of the closed-form test loss
    alpha_r_star: np.ndarray  # (K,) argmin over alpha_r at alpha_t_star
    v_alphas: np.ndarray  # (K, 3) training rates of the V draws: alpha_t*, 0, alpha_hi
    v_closed: np.ndarray  # (K, 3)
    v_ci: tuple  # K tuples of 3 stats.Interval
    v_control: np.ndarray  # (K,) V at alpha_t* without validation noise (n_v -> inf)
    ratio_ci: tuple  # K stats.Interval of ||G(a*)||^2/g(a*)^2 - ||G(0)||^2
    loss_alphas: np.ndarray  # (K, 2) test rates of the adapted-loss draws: alpha_r*, alpha_r_hi
    loss_closed: np.ndarray  # (K, 2)
    loss_ci: tuple  # K tuples of 2 stats.Interval
    loss_star: np.ndarray  # (K,) closed-form meta-test loss at (alpha_t*, alpha_r*)
    loss_zero: np.ndarray  # (K,) at (0, alpha_r*)
    loss_pos: np.ndarray  # (K,) at (alpha_r*, alpha_r*): trained with the adaptation rate
    sym_err: float  # max relative error of the calculators against sympy at random points
    slope_ok: bool  # sympy: d(V/g^2)/d alpha_t at 0 equals 2 p sigma^2 / n_v
    curve_alpha: np.ndarray  # (G,) rates for the figure
    curve_train: np.ndarray  # (K, G) L(alpha_t, alpha_r*)
    curve_test: np.ndarray  # (K, G) L(alpha_t*, alpha_r)
    n_draws: int
    level: float
    trained_loss: np.ndarray  # (K, 2) mean meta-test loss after training at alpha_t*, alpha_r*
    trained_diff_ci: tuple  # K stats.Interval of loss(trained at alpha_r*) - loss(at alpha_t*)
    trained_grad: float  # largest meta-gradient norm after training, relative to the start
    n_reps: int


@functools.cache
def _symbolic():
    """The sympy forms, lambdified once per process."""
    import sympy as sp

    from metatheory.symbolic import negative_rates as sym

    loss, V, g_t = sym.derive_meta_test_loss()
    slope = sp.diff(V / g_t**2, sym.alpha_t).subs(sym.alpha_t, 0)
    slope_ok = sp.simplify(slope - 2 * sym.p * sym.sigma**2 / sym.n_v) == 0
    args = (
        sym.alpha_t,
        sym.alpha_r,
        sym.n_t,
        sym.n_v,
        sym.n_r,
        sym.p,
        sym.m,
        sym.nu,
        sym.sigma,
    )
    return {
        "loss": sp.lambdify(args, loss, "numpy"),
        "V": sp.lambdify((sym.alpha_t, sym.n_t, sym.n_v, sym.p, sym.nu, sym.sigma), V, "numpy"),
        "slope_ok": bool(slope_ok),
    }


def _sym_err(key) -> float:
    sym = _symbolic()
    u = np.asarray(jax.random.uniform(key, (200, 9)), dtype=np.float64)
    at, ar = 4 * u[:, 0] - 2, 4 * u[:, 1] - 2
    nt, nv, nr, p, m = (np.floor(1 + 40 * u[:, j]) for j in range(2, 7))
    nu, sigma = 2 * u[:, 7], 2 * u[:, 8]
    rel = lambda a, b: np.max(np.abs(np.asarray(a) - b) / np.abs(b))  # noqa: E731
    return float(
        max(
            rel(
                maml_test_loss(at, ar, nt, nv, nr, p, m, nu, sigma),
                sym["loss"](at, ar, nt, nv, nr, p, m, nu, sigma),
            ),
            rel(maml_gradient_noise(at, nt, nv, p, nu, sigma), sym["V"](at, nt, nv, p, nu, sigma)),
        )
    )


@experiment
def negative_training_rate(config: NegativeRateConfig, key: jax.Array) -> NegativeRateResult:
    """G10 (Bernacchia 2021, ICLR; derived here): closed-form optima and Monte Carlo checks of
    the moments behind them."""
    keys = jax.random.split(key, 2 * len(config.settings) + 1)
    grid = np.linspace(*config.grid)
    rows = {k: [] for k in NegativeRateResult.__dataclass_fields__}
    for j, st in enumerate(config.settings):
        common = (st.n_t, st.n_v, st.n_r, st.p, st.m, st.nu, st.sigma)
        a_t = float(grid[np.argmin(maml_test_loss(grid, 1.0, *common))])
        a_r = float(grid[np.argmin(maml_test_loss(a_t, grid, *common))])
        rows["alpha_t_star"].append(a_t)
        rows["alpha_r_star"].append(a_r)
        rows["curve_train"].append(maml_test_loss(grid, a_r, *common))
        rows["curve_test"].append(maml_test_loss(a_t, grid, *common))
        rows["loss_star"].append(float(maml_test_loss(a_t, a_r, *common)))
        rows["loss_zero"].append(float(maml_test_loss(0.0, a_r, *common)))
        rows["loss_pos"].append(float(maml_test_loss(a_r, a_r, *common)))
        va = np.array([a_t, 0.0, config.alpha_hi])
        noise = (st.n_t, st.n_v, st.p, st.nu, st.sigma)
        rows["v_alphas"].append(va)
        rows["v_closed"].append(np.asarray(maml_gradient_noise(va, *noise)))
        rows["v_control"].append(
            float(maml_gradient_noise(a_t, st.n_t, 1e12, st.p, st.nu, st.sigma))
        )
        draws = np.asarray(
            _common.gradient_noise_draws(
                keys[2 * j],
                va,
                st.nu,
                st.sigma,
                st.p,
                st.n_t,
                st.n_v,
                n_draws=config.n_draws,
            ),
            dtype=np.float64,
        )
        rows["v_ci"].append(tuple(stats.mean_ci(draws[:, i], level=config.level) for i in range(3)))
        g_star = float(adaptation_factor(a_t, st.n_t, st.p))
        rows["ratio_ci"].append(
            stats.mean_ci(draws[:, 0] / g_star**2 - draws[:, 1], level=config.level)
        )
        la = np.array([a_r, config.alpha_r_hi])
        rows["loss_alphas"].append(la)
        rows["loss_closed"].append(
            np.asarray(adapted_test_loss(la, st.n_r, st.p, st.nu, st.sigma, config.offset**2))
        )
        ld = np.asarray(
            _common.test_loss_draws(
                keys[2 * j + 1],
                la,
                st.nu,
                st.sigma,
                config.offset,
                st.p,
                st.n_r,
                n_draws=config.n_draws,
            ),
            dtype=np.float64,
        )
        rows["loss_ci"].append(tuple(stats.mean_ci(ld[:, i], level=config.level) for i in range(2)))
        d2, grad_rel = (
            np.asarray(a, dtype=np.float64)
            for a in _common.meta_train(
                jax.random.fold_in(key, 100 + j),
                np.array([a_t, a_r]),
                st.nu,
                st.sigma,
                p=st.p,
                n_t=st.n_t,
                n_v=st.n_v,
                m=st.m,
                n_reps=config.n_reps,
                n_steps=config.n_steps,
            )
        )
        tl = np.asarray(adapted_test_loss(a_r, st.n_r, st.p, st.nu, st.sigma, d2))
        rows["trained_loss"].append(tl.mean(axis=0))
        rows["trained_diff_ci"].append(stats.mean_ci(tl[:, 1] - tl[:, 0], level=config.level))
        rows["trained_grad"].append(float(grad_rel.max()))
    rows["trained_grad"] = [max(rows["trained_grad"])]
    arr = {k: (tuple(v) if k.endswith("_ci") else np.asarray(v)) for k, v in rows.items() if v}
    arr["trained_grad"] = float(arr["trained_grad"][0])
    sym = _symbolic()
    return NegativeRateResult(
        **arr,
        settings=config.settings,
        sym_err=_sym_err(keys[-1]),
        slope_ok=sym["slope_ok"],
        curve_alpha=grid,
        n_draws=config.n_draws,
        level=config.level,
        n_reps=config.n_reps,
    )
