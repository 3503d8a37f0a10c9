r"""Prototypes as linear classifiers (M1) and the mean as the Bregman-optimal centre (M2).

M1 (Snell et al. 2017, Sec. 2.4): :math:`-\|x - c_k\|^2 = 2c_k^\top x - \|c_k\|^2 - \|x\|^2`;
the last term is common to all classes and cancels in the softmax, so prototypical networks
are the linear classifier ``w_k = 2c_k``, ``b_k = -‖c_k‖²``. ``derive_linear(d, K)`` expands the
squared distance for symbolic vectors and shows the two softmaxes are equal;
``test_value()`` evaluates the test value c₀ = (1, 0), c₁ = (0, 3), x = (1, 1) exactly.

M2 (Banerjee et al. 2005, Prop. 1): for strictly convex differentiable ``φ`` and
:math:`D_\phi(x, \mu) = \phi(x) - \phi(\mu) - \phi'(\mu)(x - \mu)`,
:math:`\partial_\mu \sum_i D_\phi(x_i, \mu) = -\phi''(\mu)\sum_i (x_i - \mu)`, which vanishes
only at the mean (``φ'' > 0``). ``derive_bregman_condition()`` does this for a generic ``φ``;
``derive_centre(phi, n)`` solves the stationarity equation for squared Euclidean, generalized
KL and Itakura–Saito generators with ``n`` symbolic points. Coordinatewise sums reduce the
vector case to this one.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "derive_linear",
    "test_value",
    "bregman",
    "GENERATORS",
    "derive_bregman_condition",
    "derive_centre",
    "latex_linear",
    "latex_bregman_condition",
]


def derive_linear(d: int = 2, n_classes: int = 2):
    """``(expansion_residual, softmax_residual)``, both simplifying to zero.

    ``expansion_residual = -‖x - c_0‖² - (2c_0·x - ‖c_0‖² - ‖x‖²)``;
    ``softmax_residual = softmax(-‖x - c_k‖²)_0 - softmax(2c_k·x - ‖c_k‖²)_0``.
    """
    x = sp.Matrix(sp.symbols(f"x_0:{d}", real=True))
    cs = [sp.Matrix(sp.symbols(f"c_{k}_0:{d}", real=True)) for k in range(n_classes)]
    dist = [-((x - c).T * (x - c))[0] for c in cs]
    lin = [2 * (c.T * x)[0] - (c.T * c)[0] for c in cs]
    expansion = sp.expand(dist[0] - (lin[0] - (x.T * x)[0]))
    p_dist = sp.exp(dist[0]) / sum(sp.exp(v) for v in dist)
    p_lin = sp.exp(lin[0]) / sum(sp.exp(v) for v in lin)
    return expansion, sp.simplify(sp.expand(sp.powsimp(p_dist - p_lin)))


def test_value(c0=(1, 0), c1=(0, 3), x=(1, 1)):
    """Exact ``p(y = 0 | x)`` and ``p(y = 1 | x)`` of the test value (rationals in)."""
    x, c0, c1 = sp.Matrix(x), sp.Matrix(c0), sp.Matrix(c1)
    logits = [-((x - c).T * (x - c))[0] for c in (c0, c1)]
    z = sum(sp.exp(v) for v in logits)
    return tuple(sp.simplify(sp.exp(v) / z) for v in logits)


_t = sp.Symbol("t", positive=True)
GENERATORS = {
    "sqeuclid": _t**2,
    "genkl": _t * sp.log(_t) - _t,
    "itakurasaito": -sp.log(_t),
}
"""Generators ``φ(t)`` (per coordinate) of squared Euclidean, generalized KL, Itakura–Saito."""


def bregman(phi, x, mu):
    """``D_φ(x, μ) = φ(x) - φ(μ) - φ'(μ)(x - μ)`` for a generator ``phi`` in ``t``."""
    dphi = sp.diff(phi, _t)
    return phi.subs(_t, x) - phi.subs(_t, mu) - dphi.subs(_t, mu) * (x - mu)


def derive_bregman_condition(n: int = 3):
    """``(gradient, factored)`` for a generic ``φ``: ``∂_μ Σ_i D_φ(x_i, μ)`` and its closed form
    ``-φ''(μ) Σ_i (x_i - μ)``; their difference simplifies to zero."""
    phi = sp.Function("phi")
    mu = sp.Symbol("mu")
    xs = sp.symbols(f"x_1:{n + 1}")
    total = sum(phi(x) - phi(mu) - sp.diff(phi(mu), mu) * (x - mu) for x in xs)
    grad = sp.diff(total, mu)
    factored = -sp.diff(phi(mu), mu, 2) * sum(x - mu for x in xs)
    return grad, factored


def derive_centre(name: str, n: int = 3, reverse: bool = False):
    """The stationary points ``μ`` of ``Σ_i D_φ(x_i, μ)`` for the named generator with ``n``
    positive symbolic points (``reverse``: of ``Σ_i D_φ(μ, x_i)``, not the mean in general)."""
    phi = GENERATORS[name]
    mu = sp.Symbol("mu", positive=True)
    xs = sp.symbols(f"x_1:{n + 1}", positive=True)
    total = sum(bregman(phi, mu, x) if reverse else bregman(phi, x, mu) for x in xs)
    sols = sp.solve(sp.Eq(sp.diff(total, mu), 0), mu)
    return [sp.simplify(s) for s in sols], sp.Add(*xs) / n


def latex_linear() -> str:
    """The M1 identity as LaTeX."""
    lhs = sp.Symbol(r"-\lVert \mathbf{x}-\mathbf{c}_k \rVert^2")
    rhs = (
        2 * sp.Symbol(r"\mathbf{c}_k^\top\mathbf{x}")
        - sp.Symbol(r"\lVert\mathbf{c}_k\rVert^2")
        - sp.Symbol(r"\lVert\mathbf{x}\rVert^2")
    )
    return sp.latex(sp.Eq(lhs, rhs, evaluate=False))


def latex_bregman_condition() -> str:
    """``∂_μ Σ_i D_φ(x_i, μ) = -φ''(μ) Σ_i (x_i - μ)`` from :func:`derive_bregman_condition`."""
    mu, i, n = sp.symbols("mu i n")
    x = sp.IndexedBase("x")
    phi = sp.Function("phi")
    lhs = sp.Derivative(sp.Sum(sp.Function("D_phi")(x[i], mu), (i, 1, n)), mu)
    rhs = -sp.Derivative(phi(mu), (mu, 2)) * sp.Sum(x[i] - mu, (i, 1, n))
    return sp.latex(sp.Eq(lhs, rhs, evaluate=False))
