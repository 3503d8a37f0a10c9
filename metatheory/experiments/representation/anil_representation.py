r"""R1: ANIL recovers a shared linear representation at the derived exponential rate
(Collins et al. 2022, abstract; the rate derived in :mod:`metatheory.symbolic.representation`).

On each instance (drawn by the key: the ground truth :math:`B_*`, the rotation of
:math:`\Sigma`, the initial representation :math:`B_0` and the control's initial head) ANIL
runs ``n_steps`` outer steps :math:`\theta\leftarrow\theta - \beta\nabla` of the exact
population meta-gradient (:func:`metatheory.learners.batched_anil_meta_gradient`, one inner
step of size :math:`\alpha` on the head from :math:`w_0 = 0`), and the control runs the same
learner with :math:`\alpha = 0` (no head adaptation, a shared head from a random start). The
least-squares slope of :math:`\log\operatorname{dist}(B_t, B_*)` over the second half of the
steps is compared with :math:`\ln\rho` of :func:`metatheory.bounds.anil_contraction_rate`, and
that calculator with the sympy fixed point. All in float64; instances are vmapped.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory import bounds, learners
from metatheory.experiments import experiment
from metatheory.experiments.representation import _common
from metatheory.symbolic import representation as sym

__all__ = [
    "AnilRepresentationConfig",
    "QUICK",
    "FULL",
    "ANIL_REPRESENTATION_PRESETS",
    "AnilRepresentationResult",
    "anil_representation",
]


@dataclass(frozen=True)
class AnilRepresentationConfig:
    d: int = 20
    k: int = 3
    sigma: tuple[float, ...] = (1.0, 0.6, 0.3)  # eigenvalues of Sigma; the smallest is single
    alpha: float = 0.5  # inner (head) step
    beta: float = 0.6  # outer step
    n_steps: int = 250
    n_instances: int = 4


QUICK = AnilRepresentationConfig()
FULL = AnilRepresentationConfig(
    d=60, k=5, sigma=(1.0, 0.8, 0.65, 0.5, 0.25), n_steps=290, n_instances=16
)
ANIL_REPRESENTATION_PRESETS = {"quick": QUICK, "full": FULL}
r""":math:`\alpha\beta\lambda_{\max} = 0.3 < 1/2` (a stable fixed point). The step counts keep
the distance above :math:`10^{-11}`, four orders above its float64 floor
(:math:`\sim 10^{-15}`, rounding of the O(1) updates contracted by :math:`1/(1-\rho)`): quick
:math:`\ln\rho = -0.094`, full :math:`-0.078`."""


@dataclass(frozen=True, kw_only=True)
class AnilRepresentationResult:
    d: int
    k: int
    alpha: float
    beta: float
    sigma: np.ndarray
    steps: np.ndarray  # 0..n_steps
    window_start: int  # first step of the fitted window
    dist: np.ndarray  # (n_instances, n_steps + 1), ANIL
    dist_control: np.ndarray  # (n_instances, n_steps + 1), alpha = 0 (no head adaptation)
    exponents: np.ndarray  # fitted slope of log dist per step over the window, per instance
    intercepts: np.ndarray  # the fits' intercepts (for the figure)
    control_exponents: np.ndarray
    rho: float  # anil_contraction_rate(alpha, beta, min(sigma))
    log_rho: float
    rho_vs_derived: float  # |calculator - sympy fixed-point factor| / sympy
    transient: float  # transient_ratio ** window_start: the slowest transient at the window
    head_norm: np.ndarray  # |w_0| after training, per instance (stays ~0 by symmetry)


def _fit(t, y):
    """Least-squares slope and intercept of ``y`` against ``t`` along the last axis (NaN
    propagates: a diverged run gives a NaN slope, not an exception)."""
    tc = t - t.mean()
    slope = np.sum(tc * (y - y.mean(-1, keepdims=True)), -1) / np.sum(tc * tc)
    return slope, y.mean(-1) - slope * t.mean()


def _train(params, b_star, tasks, alpha, beta, n_steps):
    """``n_steps`` outer steps of ANIL's exact meta-gradient; the distance after each."""

    def step(p, _):
        g = learners.batched_anil_meta_gradient(
            _common.loss, p, tasks, tasks, alpha=alpha, n_inner=1
        )
        p = jax.tree_util.tree_map(lambda a, b: a - beta * b, p, g)
        return p, _common.subspace_distance(p["body"], b_star)

    p, dist = jax.lax.scan(step, params, None, length=n_steps)
    d0 = _common.subspace_distance(params["body"], b_star)
    return p, jnp.concatenate([d0[None], dist])


def _instances(config, key):
    c = config
    keys = jax.random.split(key, c.n_instances)

    def one(k):
        b_star, b0, w_control, tasks = _common.draw_instance(k, c.d, c.k, c.sigma)
        anil0 = {"body": b0, "head": jnp.zeros(c.k)}
        ctrl0 = {"body": b0, "head": w_control}
        p, dist = _train(anil0, b_star, tasks, c.alpha, c.beta, c.n_steps)
        _, dist_c = _train(ctrl0, b_star, tasks, 0.0, c.beta, c.n_steps)
        return dist, dist_c, jnp.linalg.norm(p["head"])

    return jax.jit(jax.vmap(one))(keys)


@experiment
def anil_representation(
    config: AnilRepresentationConfig, key: jax.Array
) -> AnilRepresentationResult:
    """R1: distances of ANIL and of the no-adaptation control per outer step; fitted
    exponents against the calculator's :math:`\\ln\\rho`."""
    c = config
    with jax.enable_x64(True):
        dist, dist_c, head = (np.asarray(a, np.float64) for a in _instances(c, key))
    steps = np.arange(c.n_steps + 1, dtype=np.float64)
    t0 = c.n_steps // 2
    with np.errstate(divide="ignore", invalid="ignore"):
        logd, logc = np.log(dist[:, t0:]), np.log(dist_c[:, t0:])
    exps, icpt = _fit(steps[t0:], logd)
    exps_c, _ = _fit(steps[t0:], logc)
    s_min = float(min(c.sigma))
    rho = float(bounds.anil_contraction_rate(c.alpha, c.beta, s_min))
    fp = sym.derive_fixed_point()
    derived = float(fp["rate"].subs({sym.alpha: c.alpha, sym.beta: c.beta, sym.sigma[1]: s_min}))
    q = _common.transient_ratio(c.sigma, c.alpha, c.beta)
    return AnilRepresentationResult(
        d=c.d,
        k=c.k,
        alpha=c.alpha,
        beta=c.beta,
        sigma=np.asarray(c.sigma, np.float64),
        steps=steps,
        window_start=t0,
        dist=dist,
        dist_control=dist_c,
        exponents=exps,
        intercepts=icpt,
        control_exponents=exps_c,
        rho=rho,
        log_rho=float(np.log(rho)),
        rho_vs_derived=abs(rho - derived) / abs(derived),
        transient=float(q**t0),
        head_norm=head,
    )
