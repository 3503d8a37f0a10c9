"""M2 in float64: numerical minimizers of ``Σ_i D_φ(x_i, μ)`` against the prototype (the class
mean) for the Bregman divergences of :data:`metatheory.symbolic.protonet.GENERATORS`
(Banerjee et al. 2005, Prop. 1), sympy's stationary points, and the L1 distance, whose
minimizer is the median."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import sympy as sp

from metatheory.experiments import experiment
from metatheory.learners import protonet as pn
from metatheory.numerics import rel_err_norm
from metatheory.symbolic import protonet as sym

__all__ = [
    "BregmanMeanConfig",
    "BREGMAN_MEAN_PRESETS",
    "BregmanMeanResult",
    "bregman_centres",
    "divergence",
]

_X, _MU = sp.symbols("x mu", positive=True)


def divergence(name: str):
    """``D(x, μ)`` of the named generator of :data:`metatheory.symbolic.protonet.GENERATORS`,
    lambdified from :func:`metatheory.symbolic.protonet.bregman` at call time (so a mutant of
    the symbolic definition reaches the numerics), summed over a trailing coordinate axis."""
    expr = sym.bregman(sym.GENERATORS[name], _X, _MU)
    f = sp.lambdify((_X, _MU), expr, modules="jax")
    return lambda x, mu: jnp.sum(f(x, mu), -1)


@dataclass(frozen=True)
class BregmanMeanConfig:
    n_datasets: int = 8
    n_points: int = 25  # odd: the median is unique (the L1 control)
    dim: int = 3
    gamma_shape: float = 1.5  # positive, right-skewed data: mean != median


BREGMAN_MEAN_PRESETS = {"quick": BregmanMeanConfig(), "full": BregmanMeanConfig(n_datasets=64)}


@dataclass(frozen=True, kw_only=True)
class BregmanMeanResult:
    names: tuple
    err_min: np.ndarray  # (divergence,) max rel. error, numerical minimizer vs the prototype
    grad_at_centre: np.ndarray  # (divergence,) max |grad of sum D at the prototype| / |at start|
    err_reverse: np.ndarray  # (divergence,) min rel. gap, argmin sum D(mu, x_i) vs the prototype
    symbolic_err: np.ndarray  # (divergence,) |sympy stationary point - mean| at a rational point
    symbolic_condition: str  # sympy residual of d/dmu sum D = -phi''(mu) sum (x_i - mu)
    l1_vs_median: float  # max rel. error, numerical L1 minimizer vs the median
    l1_vs_centre: float  # min rel. gap, numerical L1 minimizer vs the prototype (control)
    l1_subgrad_at_centre: float  # min over datasets of |sum sign(x_i - centre)| (0 at an optimum)
    example: np.ndarray  # (n_points,) one coordinate of one dataset, for the figure
    example_curves: dict  # name -> (grid, objective) of that coordinate
    n_datasets: int


_RATIONAL_POINTS = (sp.Rational(1, 2), sp.Integer(2), sp.Integer(7))
"""Three positive points at which the symbolic stationary point is compared with their mean."""


def _symbolic_centres(names):
    """Per generator: |the stationary point of Σ D(x_i, μ) (sympy) − the mean| at three rational
    points, ``inf`` when sympy finds no unique positive stationary point."""
    out = []
    for name in names:
        sols, mean = sym.derive_centre(name, len(_RATIONAL_POINTS))
        xs = sp.symbols(f"x_1:{len(_RATIONAL_POINTS) + 1}", positive=True)
        subs = dict(zip(xs, _RATIONAL_POINTS, strict=True))
        vals = [complex(sp.N(s.subs(subs), 30)) for s in sols]
        vals = [v.real for v in vals if abs(v.imag) < 1e-20 and v.real > 0]
        target = float(sp.N(mean.subs(subs), 30))
        out.append(abs(vals[0] - target) if len(vals) == 1 else np.inf)
    return np.array(out)


def _minimize(fun_and_grad, start):
    """L-BFGS-B (float64, tight tolerances, ``μ > 0``) from ``start``; returns the minimizer."""
    fun = lambda m: tuple(np.asarray(a, np.float64) for a in fun_and_grad(jnp.asarray(m)))
    res = scipy.optimize.minimize(
        fun,
        np.asarray(start),
        jac=True,
        method="L-BFGS-B",
        bounds=[(1e-8, None)] * len(start),
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000},
    )
    return res.x


@experiment
def bregman_centres(config: BregmanMeanConfig, key: jax.Array) -> BregmanMeanResult:
    """M2: numerical minimizers of ``Σ_i D(x_i, μ)`` against the protonet's prototype
    (:func:`metatheory.learners.protonet.prototypes` of one class); ``Σ_i D(μ, x_i)`` and the L1
    distance, which are not minimized by the mean; the gradient at the prototype; sympy's
    stationary points."""
    c = config
    names = tuple(sym.GENERATORS)
    grad, factored = sym.derive_bregman_condition()
    condition = sp.simplify(grad - factored)
    symbolic_err = _symbolic_centres(names)
    with jax.enable_x64(True):
        data = jax.random.gamma(key, c.gamma_shape, (c.n_datasets, c.n_points, c.dim))
        data = np.asarray(data, np.float64)
        label = jnp.zeros(c.n_points, jnp.int32)
        centres = [np.asarray(pn.prototypes(jnp.asarray(x), label, 1)[0]) for x in data]
        err_min, grad_c, err_rev = [], [], []
        for name in names:
            d = divergence(name)
            fwd = jax.jit(jax.value_and_grad(lambda m, x, d=d: jnp.sum(d(x, m))))
            rev = jax.jit(jax.value_and_grad(lambda m, x, d=d: jnp.sum(d(m, x))))
            em, gm, er = 0.0, 0.0, np.inf
            for x, centre in zip(data, centres, strict=True):
                xj = jnp.asarray(x)
                start = x.max(0)  # start far from the mean
                em = max(
                    em, rel_err_norm(_minimize(lambda m, xj=xj, f=fwd: f(m, xj), start), centre)
                )
                g_c = np.asarray(fwd(jnp.asarray(centre), xj)[1])
                g_s = np.asarray(fwd(jnp.asarray(start), xj)[1])
                gm = max(gm, float(np.linalg.norm(g_c) / np.linalg.norm(g_s)))
                if name != "sqeuclid":  # symmetric there: the reverse minimizer is the mean too
                    mr = _minimize(lambda m, xj=xj, f=rev: f(m, xj), start)
                    er = min(er, rel_err_norm(mr, centre))
            err_min.append(em)
            grad_c.append(gm)
            err_rev.append(er)

        # control: L1 is not a Bregman divergence; its minimizer is the coordinatewise median
        l1_med, l1_c, sub = 0.0, np.inf, np.inf
        for x, centre in zip(data, centres, strict=True):
            mu = np.array(
                [
                    scipy.optimize.minimize_scalar(
                        lambda m, v=v: np.sum(np.abs(v - m)),
                        bounds=(v.min(), v.max()),
                        method="bounded",
                        options={"xatol": 1e-12},
                    ).x
                    for v in x.T
                ]
            )
            l1_med = max(l1_med, rel_err_norm(mu, np.median(x, 0)))
            l1_c = min(l1_c, rel_err_norm(mu, centre))
            sub = min(sub, float(np.max(np.abs(np.sum(np.sign(x - centre), 0)))))

        v = data[0, :, 0]
        grid = np.linspace(0.6 * v.mean(), 1.5 * v.mean(), 400)
        curves = {}
        for name in names:
            d = divergence(name)
            f = jax.jit(jax.vmap(lambda m, d=d: jnp.sum(d(jnp.asarray(v)[:, None], m[None]))))
            curves[name] = (grid, np.asarray(f(jnp.asarray(grid))))
        curves["l1"] = (grid, np.array([np.sum(np.abs(v - m)) for m in grid]))
    return BregmanMeanResult(
        names=names,
        err_min=np.array(err_min),
        grad_at_centre=np.array(grad_c),
        err_reverse=np.array(err_rev),
        symbolic_err=symbolic_err,
        symbolic_condition=str(condition),
        l1_vs_median=l1_med,
        l1_vs_centre=l1_c,
        l1_subgrad_at_centre=sub,
        example=v,
        example_curves=curves,
        n_datasets=c.n_datasets,
    )
