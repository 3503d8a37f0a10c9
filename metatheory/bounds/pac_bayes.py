r"""PAC-Bayes bound calculators: single task and meta-learning (claim P1).

All calculators broadcast over array arguments, validate their inputs (``ValueError`` naming
the argument; NaN where a traced argument is invalid) and follow the return rule of
:mod:`metatheory.bounds`: float64 NumPy for NumPy/Python input, a ``jax.Array`` (JAX's default
float dtype) when any argument is a JAX array or traced. They are jit/grad/vmap-safe; the
kl inverse differentiates by the implicit function theorem.

* :func:`gaussian_kl` — :math:`KL(N(\mu_q,\mathrm{diag}\,\sigma_q^2)\|N(\mu_p,\mathrm{diag}\,
  \sigma_p^2)) = \tfrac12\sum[\sigma_q^2/\sigma_p^2 + (\mu_q-\mu_p)^2/\sigma_p^2 - 1 +
  \ln(\sigma_p^2/\sigma_q^2)]`, summed over the last axis.
* :func:`mcallester_bound` — McAllester's bound in Maurer's (2004) form,
  :math:`\hat{er} + \sqrt{(KL + \ln(2\sqrt m/\delta))/(2m)}`.
* :func:`kl_inverse_bound` — the kl form (Seeger 2002; Maurer 2004),
  :math:`\sup\{p \ge \hat{er} : kl(\hat{er}\|p) \le (KL + \ln(2\sqrt m/\delta))/m\}`.
* :func:`amit_meir_bound` — Amit & Meir (2018, ICML, Theorem 2).
* :func:`pentina_lampert_bound` — Pentina & Lampert (2014, ICML, Theorem 2), linear form.

Sample sizes ``m`` and ``n_tasks`` may be real (``m`` of Pentina–Lampert is a harmonic mean);
they must be finite and at least 2. KLs may be ``inf`` (a point-mass posterior): the bound is
then ``inf`` (``1`` for the kl form). Derivatives at an infinite KL follow one convention: a
term that contains the infinite KL is a constant (``inf``, or ``1`` for the kl form) and
differentiates to 0 in every argument; the other terms differentiate as usual (so the
additive bounds keep the derivative 1 in ``emp_risk``). The sympy derivations are in
:mod:`metatheory.symbolic.pac_bayes`.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from metatheory.bounds._validate import Args, poison

__all__ = [
    "MetaBound",
    "gaussian_kl",
    "mcallester_bound",
    "kl_inverse_bound",
    "binary_kl",
    "amit_meir_bound",
    "pentina_lampert_bound",
]

KL_INVERSE_ITERS = 64
"""Bisection steps of the kl inversion in float64: the bracket [q, 1] holds fewer than 2^62
floats and each step halves their number, so 64 steps leave two adjacent floats."""


class MetaBound(NamedTuple):
    """A meta-learning bound split into its terms: ``total = empirical + task_term + meta_term``."""

    total: object
    empirical: object
    task_term: object
    meta_term: object


def gaussian_kl(mu_q, sigma_q, mu_p, sigma_p):
    r"""KL divergence between diagonal Gaussians, summed over the last axis.

    :math:`\tfrac12\sum_j[r_j - 1 - \ln r_j + (\mu_{q,j}-\mu_{p,j})^2/\sigma_{p,j}^2]`,
    :math:`r_j = \sigma_{q,j}^2/\sigma_{p,j}^2`; ``r - 1 - ln r`` is evaluated as
    ``expm1(t) - t`` with ``t = 2 ln(sigma_q / sigma_p)``. Scalars count as one coordinate.
    Means must be finite and standard deviations in (0, inf).

    Args:
        mu_q: posterior mean, finite (array; the last axis is summed).
        sigma_q: posterior standard deviation, in (0, inf).
        mu_p: prior mean, finite.
        sigma_p: prior standard deviation, in (0, inf).
    """
    v = Args()
    fin = dict(low=-math.inf, high=math.inf, low_open=True, high_open=True)
    pos = dict(low=0.0, high=math.inf, low_open=True, high_open=True)
    args = (v("mu_q", mu_q, **fin), v("sigma_q", sigma_q, **pos))
    args += (v("mu_p", mu_p, **fin), v("sigma_p", sigma_p, **pos))
    mu_q, sigma_q, mu_p, sigma_p = v.floats(*args)
    xp = v.xp
    with v.errstate():
        t = 2.0 * (xp.log(sigma_q) - xp.log(sigma_p))
        per = 0.5 * (xp.expm1(t) - t + ((mu_q - mu_p) / sigma_p) ** 2)
        if v.ok:  # validity per coordinate -> per sum
            ok = v.ok[0]
            for o in v.ok[1:]:
                ok = ok & o
            per = poison(per, ok)
            v.ok = []
        return v.out(per.sum(axis=-1) if per.ndim else per)


def _complexity(kl, m, delta, xp):
    """``(KL + ln(2 sqrt(m) / delta)) / m``, the level of the kl form."""
    return (kl + xp.log(2.0) + 0.5 * xp.log(m) - xp.log(delta)) / m


def mcallester_bound(emp_risk, kl, m, delta):
    r"""McAllester's PAC-Bayes bound in Maurer's form (Maurer 2004, Thm 5 + Pinsker).

    With probability :math:`\ge 1-\delta` over ``m`` iid samples, for all posteriors ``Q``:
    :math:`er(Q) \le \hat{er}(Q) + \sqrt{(KL(Q\|P) + \ln(2\sqrt m/\delta))/(2m)}`.
    Not clipped at 1 (a value above 1 is vacuous). Maurer states the :math:`2\sqrt m` moment
    bound for ``m >= 8``; ``m >= 2`` is accepted, as for the meta-bounds.

    Args:
        emp_risk: empirical risk of the posterior on the m samples, in [0, 1].
        kl: KL(posterior || prior), in [0, inf] (inf: a point-mass posterior, vacuous).
        m: number of samples, a real number in [2, inf).
        delta: confidence parameter (the bound holds with probability 1 - delta), in (0, 1).
    """
    v, (emp_risk, kl, m, delta) = _single_args(emp_risk, kl, m, delta)
    xp = v.xp
    with v.errstate():
        inf_kl = xp.isinf(kl)  # the term is computed from a finite KL, then set to inf
        term = xp.sqrt(_complexity(xp.where(inf_kl, 0.0, kl), m, delta, xp) / 2.0)
        return v.out(emp_risk + xp.where(inf_kl, xp.inf, term))


def _single_args(emp_risk, kl, m, delta):
    v = Args()
    args = (
        v("emp_risk", emp_risk, low=0.0, high=1.0),
        v("kl", kl, low=0.0),
        v("m", m, low=2.0, high=math.inf, high_open=True),
        v("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True),
    )
    return v, v.floats(*args)


def binary_kl(q, p):
    r"""The binary KL divergence :math:`kl(q\|p) = q\ln(q/p) + (1-q)\ln((1-q)/(1-p))`
    between Bernoulli(q) and Bernoulli(p), with :math:`0\ln 0 = 0`; ``inf`` where ``p`` is 0
    or 1 and ``q`` is not.

    Args:
        q: first Bernoulli parameter (the empirical risk in the kl form), in [0, 1].
        p: second Bernoulli parameter (the true risk), in [0, 1].

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid).
    """
    v = Args()
    q = v("q", q, low=0.0, high=1.0)
    p = v("p", p, low=0.0, high=1.0)
    q, p = v.floats(q, p)
    with v.errstate():
        return v.out(_binary_kl(q, p, v.xp))


def _binary_kl(q, p, xp):
    """:func:`binary_kl` without validation (the bisection's inner loop)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = xp.where(q > 0, q * (xp.log(xp.where(q > 0, q, 1.0)) - xp.log(p)), 0.0)
        b = xp.where(q < 1, (1 - q) * (xp.log1p(-xp.where(q < 1, q, 0.0)) - xp.log1p(-p)), 0.0)
    return a + b


_SERIES_MAX = 0.3
"""Below this argument :func:`_g` and :func:`_h` sum their power series (36 terms: the
remainder is below 1e-17 relative), avoiding the cancellation of ``x - log1p(x)``."""


def _series(x, coef, xp):
    acc = xp.zeros_like(x)
    for a in coef[::-1]:
        acc = acc * x + a
    return acc * x * x


_G_COEF = [(-1.0) ** k / k for k in range(2, 38)]
_H_COEF = [(-1.0) ** k / (k * (k - 1)) for k in range(2, 38)]


def _g(x, xp):
    """``x - log1p(x)`` for ``x >= 0``, accurate near 0."""
    small = x < _SERIES_MAX
    xs = xp.where(small, x, 0.0)
    return xp.where(small, _series(xs, _G_COEF, xp), x - xp.log1p(xp.where(small, 1.0, x)))


def _h(y, xp):
    """``(1 + y) log1p(y) - y`` for ``y >= 0``, accurate near 0."""
    small = y < _SERIES_MAX
    ys = xp.where(small, y, 0.0)
    yl = xp.where(small, 1.0, y)
    return xp.where(small, _series(ys, _H_COEF, xp), (1.0 + yl) * xp.log1p(yl) - yl)


def _kl_above(q, p, xp):
    """``kl(q||p)`` for ``q <= p < 1`` as a sum of two non-negative terms,
    ``q g(d/q) + (1-p) h(d/(1-p))`` with ``d = p - q`` (no cancellation when p is close to
    q); ``-log1p(-p)`` at ``q = 0`` and 0 at ``q = 1``."""
    d = p - q
    qs = xp.where(q > 0, q, 1.0)
    one_p = xp.where(p < 1, 1.0 - p, 1.0)
    kl = q * _g(d / qs, xp) + one_p * _h(d / one_p, xp)
    kl = xp.where(q > 0, kl, -xp.log1p(-xp.where(p < 1, p, 0.0)))
    return xp.where(q >= 1, 0.0, kl)


def _kl_upper_inverse(q, c, xp):
    """``sup{p in [q, 1] : kl(q||p) <= c}`` by bisection on the floating-point grid: the
    bracket ``[lo, hi]`` is halved in the integer order of the floats' bit patterns (the
    order of non-negative floats), so after ``KL_INVERSE_ITERS`` steps (32 in float32) ``lo``
    and ``hi`` are adjacent floats: a relative resolution of one ulp at any magnitude of p."""
    if xp is np:
        q = np.array(q + 0.0, dtype=np.float64)  # a contiguous copy; -0.0 -> 0.0
        c = np.asarray(c, dtype=np.float64)
        lo, hi = q.view(np.int64), np.ones_like(q).view(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            for _ in range(KL_INVERSE_ITERS):
                mid = lo + (hi - lo) // 2
                ok = _kl_above(q, mid.view(np.float64), np) <= c
                lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
        # hi never satisfies kl <= c unless hi = 1: an upper bound of the supremum
        return hi.view(np.float64)
    q = q + 0.0
    itype, n_iter = (jnp.int64, KL_INVERSE_ITERS) if q.dtype == jnp.float64 else (jnp.int32, 32)
    to_int = lambda x: jax.lax.bitcast_convert_type(x, itype)
    to_float = lambda i: jax.lax.bitcast_convert_type(i, q.dtype)

    def body(_, bracket):
        lo, hi = bracket
        mid = lo + (hi - lo) // 2
        ok = _kl_above(q, to_float(mid), jnp) <= c
        return jnp.where(ok, mid, lo), jnp.where(ok, hi, mid)

    lo, hi = jax.lax.fori_loop(0, n_iter, body, (to_int(q), to_int(jnp.ones_like(q))))
    return to_float(hi)


@jax.custom_jvp
def _kl_inverse_jax(q, c):
    return _bisect_jax(q, c)


@jax.jit
def _bisect_jax(q, c):  # compiled once per shape and dtype, not per eager call
    return _kl_upper_inverse(q, c, jnp)


@partial(_kl_inverse_jax.defjvp, symbolic_zeros=True)
def _kl_inverse_jvp(primals, tangents):
    r"""Implicit function theorem on :math:`F(q, p, c) = kl(q\|p) - c = 0`:
    :math:`dp = (dc - \partial_q kl\,dq)/\partial_p kl`, with
    :math:`\partial_p kl = (p-q)/(p(1-p))` and
    :math:`\partial_q kl = \ln\frac{q(1-p)}{p(1-q)}` (``-inf`` at ``q = 0``: the derivative in
    ``q`` is then ``+inf``). Zero where ``p = 1`` (the bound is vacuous there)."""
    q, c = primals
    dq, dc = tangents
    p = _kl_inverse_jax(q, c)
    inside = (p < 1) & (p > q)
    ps = jnp.where(inside, p, 0.5)
    qs = jnp.where(inside, q, 0.25)
    d_p = (ps - qs) / (ps * (1 - ps))
    d_q = jnp.log(qs) - jnp.log(ps) - jnp.log1p(-qs) + jnp.log1p(-ps)
    # a symbolic-zero dq skips the term: never inf * 0 where the q-derivative is infinite
    dp = 0.0 if type(dc) is SymbolicZero else dc / d_p
    if type(dq) is not SymbolicZero:
        dp = dp - d_q / d_p * dq
    return p, jnp.where(inside, dp, 0.0) * jnp.ones_like(p)


def kl_inverse_bound(emp_risk, kl, m, delta):
    r"""The kl form of the PAC-Bayes bound (Seeger 2002; Maurer 2004, Thm 5).

    :math:`er(Q) \le kl^{-1}(\hat{er}, c) = \sup\{p \in [\hat{er}, 1] : kl(\hat{er}\|p) \le c\}`,
    :math:`c = (KL + \ln(2\sqrt m/\delta))/m`; bisection on the floating-point grid, so the
    result is the smallest float above which the computed kl exceeds c (one ulp, relative,
    where kl is computed accurately), at most 1, never above :func:`mcallester_bound`
    (Pinsker). Its gradient comes from the implicit
    function theorem on :math:`kl(\hat{er}\|p) = c` (``+inf`` in ``emp_risk`` at 0).

    Args:
        emp_risk: empirical risk of the posterior on the m samples, in [0, 1].
        kl: KL(posterior || prior), in [0, inf] (inf: a point-mass posterior, vacuous).
        m: number of samples, a real number in [2, inf).
        delta: confidence parameter (the bound holds with probability 1 - delta), in (0, 1).
    """
    v, (emp_risk, kl, m, delta) = _single_args(emp_risk, kl, m, delta)
    xp = v.xp
    with v.errstate():
        # c = inf for an infinite KL, with finite derivatives in m and delta (no 0 * inf)
        inf_kl = xp.isinf(kl)
        c = xp.where(inf_kl, xp.inf, _complexity(xp.where(inf_kl, 0.0, kl), m, delta, xp))
        q, c = xp.broadcast_arrays(emp_risk, c)
        return v.out(_kl_inverse_jax(q, c) if v.jax else _kl_upper_inverse(q, c, np))


def _meta_args(emp_risk, n_tasks, m, kl_hyper, kl_task, delta):
    v = Args()
    size = dict(low=2.0, high=math.inf, high_open=True)
    args = (
        v("emp_risk", emp_risk, low=0.0, high=1.0),
        v("n_tasks", n_tasks, **size),
        v("m", m, **size),
        v("kl_hyper", kl_hyper, low=0.0),
        v("kl_task", kl_task, low=0.0),
        v("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True),
    )
    return v, v.xp, v.floats(*args)


def _finite_kls(xp, kh, kt):
    """KLs with ``inf`` replaced by 0, and where each was infinite: the terms are computed
    from the finite values and set to ``inf`` after (no ``inf * 0`` in values or gradients,
    whatever order XLA evaluates a quotient in)."""
    ih, it = xp.isinf(kh), xp.isinf(kt)
    return xp.where(ih, 0.0, kh), xp.where(it, 0.0, kt), ih, it


def _meta_out(emp, task, meta, v):
    emp, task, meta = v.xp.broadcast_arrays(emp, task, meta)
    total = emp + task + meta
    return MetaBound(*(v.out(a) for a in (total, emp, task, meta)))


def amit_meir_bound(emp_risk, n_tasks, m, kl_hyper, kl_task, delta) -> MetaBound:
    r"""Amit & Meir (2018, ICML, Theorem 2): the meta-learning PAC-Bayes bound.

    With probability :math:`\ge 1-\delta` over ``n_tasks`` observed tasks of ``m`` samples
    each, for all hyperposteriors :math:`\mathcal Q`:

    .. math:: er(\mathcal Q) \le \hat{er}
        + \sqrt{\frac{KL(\mathcal Q\|\mathcal P) + E_{P\sim\mathcal Q}KL(Q_i\|P)
                      + \ln(2nm/\delta)}{2(m-1)}}
        + \sqrt{\frac{KL(\mathcal Q\|\mathcal P) + \ln(2n/\delta)}{2(n-1)}}.

    ``emp_risk`` is the task-averaged empirical risk, ``kl_hyper`` = KL(hyperposterior ||
    hyperprior), ``kl_task`` = E_P KL(Q_i || P). For unequal tasks pass per-task arrays
    (``emp_risk_i``, ``m_i``, ``kl_task_i``) and average each term over the task axis: the
    theorem's task term is the average of the per-task square roots. Returns
    :class:`MetaBound` ``(total, empirical, task_term, meta_term)``; not clipped at 1.

    Args:
        emp_risk: task-averaged empirical risk, in [0, 1].
        n_tasks: number of observed tasks n, a real number in [2, inf).
        m: samples per task, a real number in [2, inf) (unequal tasks: per-task arrays, each
            term averaged over the task axis).
        kl_hyper: KL(hyperposterior || hyperprior), in [0, inf].
        kl_task: E_P KL(Q_i || P), the task-level KL, in [0, inf].
        delta: confidence parameter, in (0, 1).
    """
    v, xp, (emp, n, m, kh, kt, d) = _meta_args(emp_risk, n_tasks, m, kl_hyper, kl_task, delta)
    log2 = math.log(2.0)
    kh, kt, ih, it = _finite_kls(xp, kh, kt)
    with v.errstate():  # 0.5 * num / (m - 1): no overflow of 2 (m - 1) at huge m
        task = xp.sqrt(0.5 * (kh + kt + log2 + xp.log(n) + xp.log(m) - xp.log(d)) / (m - 1.0))
        meta = xp.sqrt(0.5 * (kh + log2 + xp.log(n) - xp.log(d)) / (n - 1.0))
        task, meta = xp.where(ih | it, xp.inf, task), xp.where(ih, xp.inf, meta)
        return _meta_out(emp, task, meta, v)


def pentina_lampert_bound(emp_risk, n_tasks, m, kl_hyper, kl_task, delta) -> MetaBound:
    r"""Pentina & Lampert (2014, ICML, Theorem 2), the linear form with :math:`\lambda = \sqrt n`
    (environment level) and :math:`\lambda = n\sqrt{\bar m}` (task level):

    .. math:: er(\mathcal Q) \le \hat{er}
        + \underbrace{\frac{KL(\mathcal Q\|\mathcal P) + n\,\overline{KL}_{task} + \ln(2/\delta)}
                           {n\sqrt{\bar m}} + \frac{1}{8\sqrt{\bar m}}}_{\text{task term}}
        + \underbrace{\frac{KL(\mathcal Q\|\mathcal P) + \ln(2/\delta)}{\sqrt n}
                      + \frac{1}{8\sqrt n}}_{\text{meta term}}.

    ``m`` is the harmonic mean :math:`\bar m` of the tasks' sample sizes, ``kl_task`` the
    task average of :math:`E_{P\sim\mathcal Q}KL(Q_i\|P)`. Re-derived in
    :func:`metatheory.symbolic.pac_bayes.derive_pentina_lampert` (the :math:`\ln(2/\delta)`
    of the task level is kept; see there). Returns :class:`MetaBound`; not clipped at 1.

    Args:
        emp_risk: task-averaged empirical risk, in [0, 1].
        n_tasks: number of observed tasks n, a real number in [2, inf).
        m: harmonic mean of the tasks' sample sizes, a real number in [2, inf).
        kl_hyper: KL(hyperposterior || hyperprior), in [0, inf].
        kl_task: E_P KL(Q_i || P), the task-level KL, in [0, inf].
        delta: confidence parameter, in (0, 1).
    """
    v, xp, (emp, n, m, kh, kt, d) = _meta_args(emp_risk, n_tasks, m, kl_hyper, kl_task, delta)
    log_2_delta = math.log(2.0) - xp.log(d)
    sm, sn = xp.sqrt(m), xp.sqrt(n)
    kh, kt, ih, it = _finite_kls(xp, kh, kt)
    with v.errstate():  # term by term: no inf / inf when n * sqrt(m) overflows
        task = (kh + log_2_delta) / n / sm + kt / sm + 1.0 / (8.0 * sm)
        meta = (kh + log_2_delta) / sn + 1.0 / (8.0 * sn)
        task, meta = xp.where(ih | it, xp.inf, task), xp.where(ih, xp.inf, meta)
        return _meta_out(emp, task, meta, v)
