r"""P4: a point-mass MAML posterior against a Gaussian-softened one (Dziugaite & Roy 2017).

**Linear-classifier tasks**: :math:`w^* = w_0 + \tau g`, :math:`x \sim N(0, I_d)`,
:math:`y = \mathrm{sign}(w^{*\top}x)`; the true risk of :math:`w` is
:math:`\angle(w, w^*)/\pi`, and the empirical risk of a Gaussian :math:`N(\phi, \sigma^2 I)` on a
sample is :math:`\frac1m\sum\Phi(-y\,\phi^\top x/(\sigma\|x\|))`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.scipy.stats import norm

from metatheory.bounds.pac_bayes import gaussian_kl, kl_inverse_bound, mcallester_bound
from metatheory.experiments import active_mutant, experiment
from metatheory.learners.maml import inner_adapt
from metatheory.learners.train import make_meta_step

__all__ = [
    "SoftenedMamlPosteriorConfig",
    "SOFTENED_MAML_POSTERIOR_PRESETS",
    "SoftenedMamlPosteriorResult",
    "softened_posterior",
]


@dataclass(frozen=True)
class SoftenedMamlPosteriorConfig:
    d: int = 5
    w0_norm: float = 2.0
    tau: float = 1.0
    m: int = 500  # samples of each new task (adaptation and bound)
    alpha: float = 2.0
    n_inner: int = 1
    meta_steps: int = 100
    meta_batch: int = 16
    beta: float = 0.05
    n_new: int = 32  # new tasks on which the bound is evaluated
    sigmas: tuple[float, ...] = tuple(np.geomspace(0.02, 2.0, 21).tolist())
    delta: float = 0.05
    n_mc: int = 4096  # posterior samples for the true risk
    shrink_decades: tuple[float, ...] = tuple(np.arange(0.0, 301.0, 5.0).tolist())
    fit_from: float = 3.0  # fit the KL growth on sigma_q / sigma_p <= 10^-fit_from


SOFTENED_MAML_POSTERIOR_PRESETS = {
    "quick": SoftenedMamlPosteriorConfig(),
    "full": SoftenedMamlPosteriorConfig(meta_steps=600, n_new=128, n_mc=16384),
}


@dataclass(frozen=True, kw_only=True)
class SoftenedMamlPosteriorResult:
    kl: np.ndarray  # (n_new, n_sigma) gaussian_kl(phi, sigma, theta, sigma)
    kl_formula: np.ndarray  # ||phi - theta||^2 / (2 sigma^2)
    dist2: np.ndarray  # (n_new,) ||phi - theta||^2
    sigmas: np.ndarray
    emp: np.ndarray  # (n_new, n_sigma) empirical risk of N(phi, sigma^2 I)
    bound: np.ndarray  # (n_new, n_sigma) kl-inverse bound at delta / n_sigma
    best_bound: np.ndarray  # (n_new,) min over sigma (union bound over the grid)
    best_sigma: np.ndarray
    true_risk: np.ndarray  # (n_new,) true risk of the best Gaussian posterior (Monte Carlo)
    point_emp: np.ndarray  # (n_new,) empirical risk of the point mass at phi
    point_true: np.ndarray  # (n_new,) true risk of the point mass (exact angle / pi)
    shrink: np.ndarray  # s = sigma_q / sigma_p towards the point mass (10^-k)
    shrink_kl: np.ndarray  # (n_new, n_shrink) KL(N(phi, (s sigma)^2 I) || N(theta, sigma^2 I))
    shrink_emp: np.ndarray  # (n_new, n_shrink) empirical risk of N(phi, (s sigma)^2 I)
    shrink_bound: np.ndarray  # (n_new, n_shrink) kl-inverse bound (delta) along the shrinkage
    shrink_mcallester: np.ndarray  # (n_new, n_shrink) McAllester bound along the shrinkage
    growth_slope: np.ndarray  # (n_new,) fitted dKL / d ln(1/s) on s <= 10^-fit_from
    growth_intercept: np.ndarray  # (n_new,) fitted KL at s = 1 of that line
    growth_resid: np.ndarray  # (n_new,) max |residual| of the fit
    growth_pred_intercept: np.ndarray  # ||phi - theta||^2 / (2 sigma^2) - d / 2
    fit_from: float
    d: int
    m: int
    meta_losses: np.ndarray


def _logistic(w, x, y):
    """Mean logistic loss ``log(1 + exp(-y w.x))`` of a linear classifier."""
    return jnp.mean(jax.nn.softplus(-y * (x @ w)))


def _linear_tasks(key, c: SoftenedMamlPosteriorConfig, n: int):
    kw, kx = jax.random.split(key)
    w0 = jnp.zeros(c.d).at[0].set(c.w0_norm)
    w_star = w0 + c.tau * jax.random.normal(kw, (n, c.d))
    x = jax.random.normal(kx, (n, c.m, c.d))
    y = jnp.sign(jnp.einsum("nmd,nd->nm", x, w_star))
    return x, y, w_star


def _angle_risk(w, w_star):
    cos = jnp.sum(w * w_star, -1) / (jnp.linalg.norm(w, axis=-1) * jnp.linalg.norm(w_star, axis=-1))
    return jnp.arccos(jnp.clip(cos, -1.0, 1.0)) / jnp.pi


_MAML_PRIORS: dict = {}


def _train_maml_prior(c: SoftenedMamlPosteriorConfig, key):
    """MAML on the linear tasks: the prior mean ``theta`` and the meta-losses. Kept per
    (config, key) across runs in this process unless the active mutant patches something other
    than the PAC-Bayes calculators (which training never calls), so calculator mutants do not
    retrain."""
    mut = active_mutant()
    tag = "" if mut is None or mut.module == "metatheory.bounds.pac_bayes" else mut.name
    cache_key = (c, np.asarray(jax.random.key_data(key)).tobytes(), tag)
    if cache_key in _MAML_PRIORS:
        return _MAML_PRIORS[cache_key]
    opt = optax.adam(c.beta)
    step = make_meta_step(_logistic, opt, alpha=c.alpha, n_inner=c.n_inner)
    theta = jnp.zeros(c.d)
    state = opt.init(theta)
    losses = []
    for i in range(c.meta_steps):
        x, y, _ = _linear_tasks(jax.random.fold_in(key, i), c, 2 * c.meta_batch)
        sup, qry = (x[::2], y[::2]), (x[1::2], y[1::2])
        theta, state, loss = step(theta, state, sup, qry)
        losses.append(float(loss))
    if len(_MAML_PRIORS) > 64:
        _MAML_PRIORS.clear()
    _MAML_PRIORS[cache_key] = (theta, losses)
    return theta, losses


@experiment
def softened_posterior(
    config: SoftenedMamlPosteriorConfig, key: jax.Array
) -> SoftenedMamlPosteriorResult:
    """P4: MAML-trained prior mean ``theta``, adapted ``phi``. The point mass at ``phi`` is
    read as the limit ``s -> 0`` of ``N(phi, (s sigma)^2 I)``: its KL to the prior
    ``N(theta, sigma^2 I)`` is computed by ``gaussian_kl`` along ``s = 10^-k`` and its growth
    fitted; the bound along the same path. Then ``N(phi, sigma^2 I)`` against
    ``N(theta, sigma^2 I)`` for ``sigma`` on a grid (union bound over the grid)."""
    c = config
    with jax.enable_x64(True):
        k_meta, k_new, k_mc = jax.random.split(key, 3)
        theta, losses = _train_maml_prior(c, k_meta)

        x, y, w_star = _linear_tasks(k_new, c, c.n_new)
        adapt = jax.vmap(
            lambda xs, ys: inner_adapt(_logistic, theta, (xs, ys), alpha=c.alpha, n_inner=c.n_inner)
        )
        phi = adapt(x, y)
        sig = jnp.asarray(c.sigmas)
        margin = y * jnp.einsum("nmd,nd->nm", x, phi) / jnp.linalg.norm(x, axis=-1)
        emp = norm.cdf(-margin[:, None, :] / sig[None, :, None]).mean(-1)  # (n_new, n_sigma)
        kl = np.asarray(gaussian_kl(phi[:, None, :], sig[None, :, None], theta, sig[None, :, None]))
        dist2 = jnp.sum((phi - theta) ** 2, -1)
        kl_formula = dist2[:, None] / (2 * sig[None, :] ** 2)
        bound = np.asarray(
            kl_inverse_bound(np.asarray(emp), np.clip(kl, 0.0, None), c.m, c.delta / len(c.sigmas))
        )  # union bound over the sigma grid
        best = np.argmin(bound, axis=1)
        rows = np.arange(c.n_new)
        best_sigma = np.asarray(sig)[best]
        noise = jax.random.normal(k_mc, (c.n_new, c.n_mc, c.d))
        samples = phi[:, None, :] + best_sigma[:, None, None] * noise
        true = _angle_risk(samples, w_star[:, None, :]).mean(-1)
        point_emp = (margin <= 0).mean(-1)
        point_true = _angle_risk(phi, w_star)

        # towards the point mass: posterior scale s * sigma, prior scale sigma (sigma = 1)
        shrink = 10.0 ** -np.asarray(c.shrink_decades)
        s_kl = np.asarray(gaussian_kl(phi[:, None, :], shrink[None, :, None], theta, 1.0))
        s_emp = np.asarray(norm.cdf(-margin[:, None, :] / shrink[None, :, None]).mean(-1))
        ok = np.isfinite(s_kl) & (s_kl >= 0)
        s_kl_c = np.where(ok, s_kl, 0.0)
        s_bound = np.where(ok, np.asarray(kl_inverse_bound(s_emp, s_kl_c, c.m, c.delta)), np.nan)
        s_mc = np.where(ok, np.asarray(mcallester_bound(s_emp, s_kl_c, c.m, c.delta)), np.nan)
        sel = np.asarray(c.shrink_decades) >= c.fit_from
        lx = np.log(1.0 / shrink[sel])
        slope, icpt, resid = [], [], []
        for row in s_kl[:, sel]:
            if not np.all(np.isfinite(row)):
                slope.append(np.nan), icpt.append(np.nan), resid.append(np.inf)
                continue
            coef = np.polyfit(lx, row, 1)
            slope.append(coef[0]), icpt.append(coef[1])
            resid.append(float(np.max(np.abs(np.polyval(coef, lx) - row))))
        return SoftenedMamlPosteriorResult(
            kl=kl,
            kl_formula=np.asarray(kl_formula),
            dist2=np.asarray(dist2),
            sigmas=np.asarray(sig),
            emp=np.asarray(emp),
            bound=bound,
            best_bound=bound[rows, best],
            best_sigma=best_sigma,
            true_risk=np.asarray(true),
            point_emp=np.asarray(point_emp),
            point_true=np.asarray(point_true),
            shrink=shrink,
            shrink_kl=s_kl,
            shrink_emp=s_emp,
            shrink_bound=s_bound,
            shrink_mcallester=s_mc,
            growth_slope=np.array(slope),
            growth_intercept=np.array(icpt),
            growth_resid=np.array(resid),
            growth_pred_intercept=np.asarray(dist2) / 2.0 - c.d / 2.0,
            fit_from=c.fit_from,
            d=c.d,
            m=c.m,
            meta_losses=np.array(losses),
        )
