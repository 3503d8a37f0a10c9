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
then ``inf`` (``1`` for the kl form). The sympy derivations are in
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

from metatheory.bounds._validate import Args, check, is_traced

__all__ = [
    "MetaBound",
    "gaussian_kl",
    "mcallester_bound",
    "kl_inverse_bound",
    "binary_kl",
    "amit_meir_bound",
    "pentina_lampert_bound",
]

KL_INVERSE_ITERS = 80
"""Bisection steps of the kl inversion: the bracket [q, 1] halves each step, so after 80 steps
it is below 2^-80 ~ 1e-24, i.e. the float64 resolution of p (the 1e-9 target with room)."""


class MetaBound(NamedTuple):
    """A meta-learning bound split into its terms: ``total = empirical + task_term + meta_term``."""

    total: object
    empirical: object
    task_term: object
    meta_term: object


def _backend(args):
    """``(xp, as_jax)``: ``jnp`` if any argument is traced, else float64 ``np``."""
    if any(is_traced(a) for a in args):
        return jnp, True
    return np, any(isinstance(a, jax.Array) for a in args)


def _out(x, as_jax, xp):
    if xp is np:
        return jnp.asarray(x) if as_jax else np.asarray(x)[()]  # 0-d -> numpy scalar
    return x


def _f64(xp, *args):
    if xp is np:
        return tuple(np.asarray(a, dtype=np.float64) for a in args)
    return tuple(jnp.asarray(a, dtype=jnp.result_type(float)) for a in args)


def _risk(name, x):
    return check(name, x, low=0.0, high=1.0)


def _kl(name, x):
    return check(name, x, low=0.0)


def _size(name, x):
    return check(name, x, low=2.0, high=math.inf, high_open=True)


def _delta(x):
    return check("delta", x, low=0.0, high=1.0, low_open=True, high_open=True)


def _finite(name, x):
    return check(name, x, low=-math.inf, high=math.inf, low_open=True, high_open=True)


def _scale(name, x):
    return check(name, x, low=0.0, high=math.inf, low_open=True, high_open=True)


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
            per = xp.where(ok, per, xp.nan)
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
    with v.errstate():
        return v.out(emp_risk + v.xp.sqrt(_complexity(kl, m, delta, v.xp) / 2.0))


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
    r""":math:`kl(q\|p) = q\ln(q/p) + (1-q)\ln((1-q)/(1-p))` with ``0 ln 0 = 0`` (elementwise,
    no validation; ``inf`` where ``p`` is 0 or 1 and ``q`` is not)."""
    xp = jnp if (is_traced(q) or is_traced(p)) else np
    q, p = _f64(xp, q, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = xp.where(q > 0, q * (xp.log(xp.where(q > 0, q, 1.0)) - xp.log(p)), 0.0)
        b = xp.where(q < 1, (1 - q) * (xp.log1p(-xp.where(q < 1, q, 0.0)) - xp.log1p(-p)), 0.0)
    return a + b


def _kl_upper_inverse(q, c, xp):
    """Bisection for ``sup{p in [q, 1] : kl(q||p) <= c}`` with a fixed step count."""
    lo, hi = q, xp.ones_like(q)

    def body(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        ok = binary_kl(q, mid) <= c
        return xp.where(ok, mid, lo), xp.where(ok, hi, mid)

    if xp is np:
        for i in range(KL_INVERSE_ITERS):
            lo, hi = body(i, (lo, hi))
    else:
        lo, hi = jax.lax.fori_loop(0, KL_INVERSE_ITERS, body, (lo, hi))
    # hi never satisfies kl <= c unless hi = 1, so it is an upper bound of the supremum
    return xp.minimum(hi, 1.0)


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
    :math:`c = (KL + \ln(2\sqrt m/\delta))/m`; bisection to float64 resolution, at most 1,
    never above :func:`mcallester_bound` (Pinsker). Its gradient comes from the implicit
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
        m: samples per task (for unequal tasks see above), a real number in [2, inf).
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
