r"""Test loss of one-step MAML on mixed linear regression, by Wick's theorem (claim G10).

Source of the question: Bernacchia (2021, ICLR), "Meta-learning with negative learning rates",
whose abstract states that "while the optimal learning rate for adaptation is positive, we find
that the optimal learning rate for training is always negative". The model and everything below
are derived here.

**Model.** Task weights :math:`w \sim N(w_0, (\nu^2/p) I_p)`; inputs :math:`x \sim N(0, I_p)`;
outputs :math:`y = x^\top w + \sigma\varepsilon`. The loss on :math:`n` samples is
:math:`\frac1{2n}\|y - X\theta\|^2`; one adaptation step of size :math:`\alpha` on :math:`(X, y)`
gives :math:`\theta' = \theta + \frac{\alpha}{n}X^\top(y - X\theta)`. Meta-training adapts with
:math:`\alpha_t` on :math:`n_t` support samples and scores on :math:`n_v` validation samples of
each of :math:`m` tasks; meta-testing adapts with :math:`\alpha_r` on :math:`n_r` samples and
scores the expected loss on a fresh sample.

**Moments.** All expectations are traces of products of independent standard Gaussian matrices,
computed exactly by Wick's theorem (:func:`wick_trace`: a sum over pairings of the factors of
each matrix, each pairing counting the index cycles it closes). With :math:`A = X^\top X/n`,

.. math:: g(\alpha, n) = \tfrac1p E\,\mathrm{tr}(I - \alpha A)^2
          = 1 - 2\alpha + \alpha^2\frac{n + p + 1}{n},

the test loss at a fixed :math:`\theta` is
:math:`\tfrac12[(\|\theta - w_0\|^2 + \nu^2)\,g(\alpha_r, n_r) + \alpha_r^2\sigma^2 p/n_r +
\sigma^2]` (:func:`derive_test_loss`), the meta-training objective's expected Hessian is
:math:`g(\alpha_t, n_t) I`, and a task's meta-gradient at :math:`\theta = w_0` has mean zero and
second moment :math:`V(\alpha_t) = E\|\nabla f_i(w_0)\|^2` (:func:`derive_gradient_noise`), a
polynomial of degree 4 in :math:`\alpha_t`. The meta-trained :math:`\hat\theta` (the minimiser of
the meta-training loss over :math:`m` tasks) then has :math:`E\|\hat\theta - w_0\|^2 =
V(\alpha_t)/(m\,g(\alpha_t, n_t)^2) + O(m^{-2})` (one Newton step from :math:`w_0`), so

.. math:: \mathcal L(\alpha_t, \alpha_r) = \tfrac12\Big[\Big(\nu^2 + \frac{V(\alpha_t)}
          {m\,g(\alpha_t,n_t)^2}\Big) g(\alpha_r, n_r) + \frac{\alpha_r^2\sigma^2p}{n_r}
          + \sigma^2\Big] + O(m^{-2}).

The training rate enters only through :math:`V/g^2`; with :math:`n_v \to \infty` (no validation
noise) its minimiser is :math:`\alpha_t = 0`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

__all__ = [
    "Gauss",
    "wick_trace",
    "wick_norm2",
    "alpha",
    "alpha_t",
    "alpha_r",
    "n",
    "n_t",
    "n_v",
    "n_r",
    "p",
    "nu",
    "sigma",
    "m",
    "derive_adaptation_factor",
    "derive_test_loss",
    "derive_gradient_noise",
    "derive_meta_test_loss",
]

alpha, alpha_t, alpha_r = sp.symbols("alpha alpha_t alpha_r", real=True)
n, n_t, n_v, n_r, p, m = sp.symbols("n n_t n_v n_r p m", positive=True)
nu, sigma = sp.symbols("nu sigma", positive=True)


@dataclass(frozen=True)
class Gauss:
    """An occurrence of a matrix with iid standard normal entries, ``rows × cols``, possibly
    transposed. Occurrences with the same ``name`` are the same matrix."""

    name: str
    rows: object
    cols: object
    t: bool = False

    @property
    def T(self) -> Gauss:
        return Gauss(self.name, self.rows, self.cols, not self.t)

    @property
    def shape(self):
        return (self.cols, self.rows) if self.t else (self.rows, self.cols)


def _pairings(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for k in range(len(rest)):
        for tail in _pairings(rest[:k] + rest[k + 1 :]):
            yield [(first, rest[k]), *tail]


def _find(parent, a):
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


def wick_trace(word) -> sp.Expr:
    r""":math:`E\,\mathrm{tr}(F_1 F_2\cdots F_k)` for Gaussian factors :math:`F_j` (Wick's
    theorem). Index slot :math:`j` sits between :math:`F_j` and :math:`F_{j+1}` (cyclically);
    a pairing of two occurrences of one matrix identifies their row slots and their column
    slots, and each class of identified slots contributes its dimension."""
    k = len(word)
    for j in range(k):
        if word[j].shape[1] != word[(j + 1) % k].shape[0]:
            raise ValueError(f"factors {j} and {(j + 1) % k} do not chain")
    by_name = {}
    for j, f in enumerate(word):
        by_name.setdefault(f.name, []).append(j)
    if any(len(v) % 2 for v in by_name.values()):
        return sp.Integer(0)

    def slots(j):  # (row slot, col slot) of factor j
        left, right = (j - 1) % k, j
        return (right, left) if word[j].t else (left, right)

    total = sp.Integer(0)
    for combo in itertools.product(*(_pairings(v) for v in by_name.values())):
        parent = list(range(k))
        for pairs in combo:
            for a, b in pairs:
                for sa, sb in zip(slots(a), slots(b), strict=True):
                    parent[_find(parent, sa)] = _find(parent, sb)
        term = sp.Integer(1)
        for root in {_find(parent, j) for j in range(k)}:
            term *= word[root].shape[1]
        total += term
    return total


def wick_norm2(terms) -> sp.Expr:
    r""":math:`E\|\sum_j c_j W_j\|^2` for a vector written as terms ``(c_j, word_j)`` (each word
    a product of Gaussian factors with one column): :math:`\sum_{j,l} c_jc_l\,E\,\mathrm{tr}
    (W_j^\top W_l)`."""
    total = sp.Integer(0)
    for (cj, wj), (cl, wl) in itertools.product(terms, repeat=2):
        wt = [f.T for f in reversed(wj)]
        total += cj * cl * wick_trace(wt + list(wl))
    return sp.expand(total)


def _adapt_terms(X, n_samples, rate):
    """``I - (rate/n) XᵀX`` as terms ``(coefficient, factors)``."""
    return [(sp.Integer(1), []), (-rate / n_samples, [X.T, X])]


def _times(left, right):
    return [(a * b, wa + wb) for a, wa in left for b, wb in right]


def derive_adaptation_factor(rate=alpha, samples=n):
    r""":math:`g = \tfrac1p E\,\mathrm{tr}(I - \alpha A)^2`, :math:`A = X^\top X/n`."""
    X = Gauss("X", samples, p)
    M = _adapt_terms(X, samples, rate)
    total = sp.Integer(0)
    for (a, wa), (b, wb) in itertools.product(M, repeat=2):
        word = wa + wb
        total += a * b * (wick_trace(word) if word else p)
    return sp.factor(sp.expand(total / p))


def derive_test_loss(rate=alpha_r, samples=n_r):
    r"""Expected loss on a fresh sample after adapting :math:`\theta` with ``rate`` on
    ``samples`` samples, as a function of :math:`\delta^2 = \|\theta - w_0\|^2`:
    :math:`\tfrac12[\delta^2 g + E\|(I-\alpha A)u - (\alpha\sigma/n)X^\top\varepsilon\|^2 +
    \sigma^2]` (the deterministic offset enters through :math:`E(I-\alpha A)^2 = gI`, by
    rotation invariance). Returns ``(loss, delta2)``."""
    X = Gauss("X", samples, p)
    U = Gauss("U", p, 1)
    E = Gauss("E", samples, 1)
    M = _adapt_terms(X, samples, rate)
    terms = _times(M, [(nu / sp.sqrt(p), [U])]) + [(-rate * sigma / samples, [X.T, E])]
    delta2 = sp.Symbol("delta2", nonnegative=True)
    g = derive_adaptation_factor(rate, samples)
    loss = sp.Rational(1, 2) * (delta2 * g + wick_norm2(terms) + sigma**2)
    return sp.factor_terms(sp.expand(loss)), delta2


def derive_gradient_noise(rate=alpha_t, support=n_t, valid=n_v):
    r""":math:`V = E\|\nabla_\theta f_i(w_0)\|^2`, :math:`f_i(\theta) = \frac1{2n_v}
    \|y^v - X^v\theta'\|^2`: with :math:`B = X^v(I - \alpha A)`, :math:`u = w - w_0`,
    :math:`\nabla f_i(w_0) = -\frac1{n_v}B^\top[Bu + \sigma\varepsilon^v -
    \frac{\alpha\sigma}{n_t}X^vX^\top\varepsilon]`."""
    X = Gauss("X", support, p)
    Xv = Gauss("V", valid, p)
    U = Gauss("U", p, 1)
    Ev = Gauss("Ev", valid, 1)
    Eps = Gauss("Eps", support, 1)
    M = _adapt_terms(X, support, rate)
    B = _times([(sp.Integer(1), [Xv])], M)
    Bt = _times(M, [(sp.Integer(1), [Xv.T])])  # (I - αA) Xvᵀ
    r = (
        _times(B, [(nu / sp.sqrt(p), [U])])
        + [(sigma, [Ev])]
        + [(-rate * sigma / support, [Xv, X.T, Eps])]
    )
    grad = [(-c / valid, w) for c, w in _times(Bt, r)]
    return sp.factor_terms(sp.expand(wick_norm2(grad)))


def derive_meta_test_loss():
    r"""``(L, V, g_t)``: :math:`\mathcal L(\alpha_t, \alpha_r)` to first order in :math:`1/m`
    (module docstring), the gradient noise and the training adaptation factor."""
    V = derive_gradient_noise()
    g_t = derive_adaptation_factor(alpha_t, n_t)
    loss, delta2 = derive_test_loss()
    return loss.subs(delta2, V / (m * g_t**2)), V, g_t
