r"""PAC-Bayes bounds for single tasks and for meta-learning (claims P1, P2).

Results (derived here from their ingredients, then compared with the published forms):

* **Gaussian KL.** :math:`KL(N(\mu_q,\sigma_q^2)\,\|\,N(\mu_p,\sigma_p^2)) = \tfrac12
  [\sigma_q^2/\sigma_p^2 + (\mu_q-\mu_p)^2/\sigma_p^2 - 1 + \ln(\sigma_p^2/\sigma_q^2)]` per
  coordinate, from :math:`E_q[\ln q - \ln p]` with the first two moments of :math:`q`
  (:func:`derive_gaussian_kl`).
* **kl form** (Seeger 2002; Maurer 2004): :math:`kl(\hat{er}\,\|\,er) \le c`,
  :math:`c = (KL + \ln(2\sqrt m/\delta))/m`, so :math:`er \le kl^{-1}(\hat{er}, c)`.
* **McAllester/Maurer form**: Pinsker, :math:`kl(q\|p) \ge 2(p-q)^2`, relaxes the kl form to
  :math:`er \le \hat{er} + \sqrt{(KL + \ln(2\sqrt m/\delta))/(2m)}`
  (:func:`derive_mcallester`, with the Pinsker gap's derivative factored as
  :math:`(p-q)(2p-1)^2/(p(1-p)) \ge 0`). Hence kl-inverse :math:`\le` McAllester.
* **Amit–Meir** (Amit & Meir 2018, ICML, Theorem 2): two McAllester (1999/2003) bounds
  :math:`\sqrt{(KL + \ln(N/\delta'))/(2(N-1))}` joined by a union bound — the task level with
  :math:`N = m_i` samples, the joint KL :math:`KL(\mathcal Q\|\mathcal P) + E_P KL(Q_i\|P)` and
  :math:`\delta' = \delta/(2n)`; the environment level with :math:`N = n` tasks, the hyper-KL
  and :math:`\delta' = \delta/2` (:func:`derive_amit_meir`). The result is the published form
  :math:`\frac1n\sum\hat{er}_i + \frac1n\sum_i\sqrt{\frac{KL(\mathcal Q\|\mathcal P) +
  E_P KL(Q_i\|P) + \ln(2nm_i/\delta)}{2(m_i-1)}} + \sqrt{\frac{KL(\mathcal Q\|\mathcal P) +
  \ln(2n/\delta)}{2(n-1)}}`.
* **Pentina–Lampert** (Pentina & Lampert 2014, ICML, Theorem 2), the linear (fixed-λ) form,
  re-derived here (:func:`derive_pentina_lampert`) from the bounded-loss PAC-Bayes inequality
  :math:`E_Q L \le E_Q\hat L + (KL + \ln(1/\delta') + \lambda^2 s^2/8)/\lambda` (Hoeffding's
  lemma, :math:`s^2` the sum of the squared ranges of the averaged terms): at the environment
  level :math:`\lambda = \sqrt n`, :math:`s^2 = 1/n`, KL the hyper-KL; at the task level, one
  bound on all :math:`\sum_i m_i` samples with :math:`\lambda = n\sqrt{\bar m}`,
  :math:`s^2 = 1/(n\bar m)` (:math:`\bar m` the harmonic mean of the :math:`m_i`) and the joint
  KL :math:`KL(\mathcal Q\|\mathcal P) + \sum_i E_P KL(Q_i\|P)`; :math:`\delta' = \delta/2`
  each. Result:

  .. math:: er \le \hat{er} + \Big(\tfrac{1}{\sqrt n} + \tfrac{1}{n\sqrt{\bar m}}\Big)
            \big(KL(\mathcal Q\|\mathcal P) + \ln\tfrac2\delta\big)
            + \tfrac{1}{n\sqrt{\bar m}}\sum_i E_P KL(Q_i\|P)
            + \tfrac{1}{8\sqrt n} + \tfrac{1}{8\sqrt{\bar m}}.

  The task level keeps its own :math:`\ln(2/\delta)/(n\sqrt{\bar m})`; a form that attaches
  :math:`\ln(2/\delta)` to :math:`1/\sqrt n` only is smaller by exactly that, so this one is
  the conservative of the two.

Properties (P2, :func:`derive_limits`, :func:`derive_monotonicity`, :func:`derive_regimes`):
the meta term :math:`\to 0` as :math:`n\to\infty`; the task term :math:`\to 0` as
:math:`m\to\infty` but *grows* like :math:`\sqrt{\ln n}` as :math:`n\to\infty` (the union bound
over tasks); every bound increases in each KL and decreases in :math:`\delta`; the task term
decreases in :math:`m`, the meta term in :math:`n`. Few-shot (:math:`n\to\infty`, fixed
:math:`m`): task term / meta term :math:`\to\infty`; many-shot (:math:`m\to\infty`, fixed
:math:`n`): the ratio :math:`\to 0`.
"""

from __future__ import annotations

import sympy as sp
from sympy.stats import Normal, density

__all__ = [
    "emp",
    "kl",
    "kl_hyper",
    "kl_task",
    "m",
    "n",
    "delta",
    "derive_gaussian_kl",
    "binary_kl",
    "kl_inverse_constant",
    "pinsker_gap_derivative",
    "derive_mcallester",
    "mcallester_2003",
    "derive_amit_meir",
    "amit_meir_claims_form",
    "derive_pentina_lampert",
    "claims_forms_agree",
    "derive_limits",
    "derive_monotonicity",
    "derive_regimes",
    "latex_equations",
]

emp = sp.Symbol("erhat", nonnegative=True)  # empirical risk (average over tasks)
kl = sp.Symbol("KL", nonnegative=True)  # single-task KL(Q || P)
kl_hyper = sp.Symbol("KL_hyper", nonnegative=True)  # KL(hyperposterior || hyperprior)
kl_task = sp.Symbol("KL_task", nonnegative=True)  # E_{P~Q} KL(Q_i || P)
m, n = sp.symbols("m n", positive=True)
delta = sp.Symbol("delta", positive=True)

# domain variables: n = 2 + a, m = 2 + b, delta = 1 / (1 + c) with a, b, c >= 0, so that
# n, m >= 2 and 0 < delta <= 1; the sign proofs substitute these.
_a, _b, _c = sp.symbols("a b c", nonnegative=True)
_DOMAIN = {n: 2 + _a, m: 2 + _b, delta: 1 / (1 + _c)}


def derive_gaussian_kl():
    r"""``(kl_1d, symbols)``: :math:`E_q[\ln q(x) - \ln p(x)]` for 1-D Gaussians.

    The log-ratio is a quadratic in ``x``; its expectation uses ``E x = mu_q`` and
    ``E x^2 = mu_q^2 + sigma_q^2``. ``symbols = (mu_q, sigma_q, mu_p, sigma_p)``.
    """
    x = sp.Symbol("x", real=True)
    mu_q, mu_p = sp.symbols("mu_q mu_p", real=True)
    s_q, s_p = sp.symbols("sigma_q sigma_p", positive=True)
    log_q = sp.log(density(Normal("Xq", mu_q, s_q))(x))
    log_p = sp.log(density(Normal("Xp", mu_p, s_p))(x))
    ratio = sp.expand(sp.expand_log(log_q - log_p, force=True))
    coeffs = sp.Poly(ratio, x).all_coeffs()[::-1]  # c0 + c1 x + c2 x^2
    moments = [sp.Integer(1), mu_q, mu_q**2 + s_q**2]
    kl_1d = sp.expand_log(sum(c * mom for c, mom in zip(coeffs, moments, strict=True)), force=True)
    kl_1d = sp.collect(sp.expand(kl_1d), [sp.log(s_p), sp.log(s_q)])
    return kl_1d, (mu_q, s_q, mu_p, s_p)


def binary_kl(q, p):
    """``kl(q || p)`` between Bernoulli(q) and Bernoulli(p)."""
    return q * sp.log(q / p) + (1 - q) * sp.log((1 - q) / (1 - p))


def kl_inverse_constant(kl_=kl, m_=m, delta_=delta):
    r""":math:`c = (KL + \ln(2\sqrt m/\delta))/m`, the level of the kl form (Maurer 2004)."""
    return (kl_ + sp.log(2 * sp.sqrt(m_) / delta_)) / m_


def pinsker_gap_derivative():
    r"""``d/dp [kl(q||p) - 2(p-q)^2]`` factored: :math:`(p-q)(2p-1)^2/(p(1-p))`, which is
    :math:`\ge 0` for :math:`p \ge q`; the gap vanishes at ``p = q``, so Pinsker holds."""
    q, p = sp.symbols("q p", positive=True)
    return sp.factor(sp.simplify(sp.diff(binary_kl(q, p) - 2 * (p - q) ** 2, p))), (q, p)


def derive_mcallester():
    r"""McAllester/Maurer: the largest ``p`` with :math:`2(p - \hat{er})^2 \le c` (Pinsker's
    relaxation of the kl form), :math:`\hat{er} + \sqrt{(KL + \ln(2\sqrt m/\delta))/(2m)}`."""
    p = sp.Symbol("p", real=True)
    roots = sp.solve(sp.Eq(2 * (p - emp) ** 2, kl_inverse_constant()), p)
    point = {emp: sp.Rational(1, 10), kl: 1, m: 4, delta: sp.Rational(1, 2)}
    return max(roots, key=lambda r: float(r.subs(point)))


def mcallester_2003(kl_, n_samples, delta_):
    r"""McAllester's (1999/2003) gap :math:`\sqrt{(KL + \ln(N/\delta))/(2(N-1))}`."""
    return sp.sqrt((kl_ + sp.log(n_samples / delta_)) / (2 * (n_samples - 1)))


def derive_amit_meir():
    """``(task_term, meta_term, total)`` of Amit & Meir (2018, Thm 2) with equal ``m_i = m``
    and equal task KLs, built from :func:`mcallester_2003` and the union bound."""
    task = mcallester_2003(kl_hyper + kl_task, m, delta / (2 * n))
    meta = mcallester_2003(kl_hyper, n, delta / 2)
    return task, meta, emp + task + meta


def amit_meir_claims_form():
    """The task and meta terms as Amit & Meir (2018, Thm 2) write them (the check of P1)."""
    task = sp.sqrt((kl_hyper + kl_task + sp.log(2 * n * m / delta)) / (2 * (m - 1)))
    meta = sp.sqrt((kl_hyper + sp.log(2 * n / delta)) / (2 * (n - 1)))
    return task, meta


def claims_forms_agree() -> dict[str, bool]:
    """Each derivation equals the published form (difference simplifies to 0)."""
    zero = lambda e: sp.simplify(sp.expand_log(sp.expand(e), force=True)) == 0
    task, meta, _ = derive_amit_meir()
    c_task, c_meta = amit_meir_claims_form()
    kl_1d, (mu_q, s_q, mu_p, s_p) = derive_gaussian_kl()
    claims_kl = (s_q**2 / s_p**2 + (mu_q - mu_p) ** 2 / s_p**2 - 1 + sp.log(s_p**2 / s_q**2)) / 2
    claims_mc = emp + sp.sqrt((kl + sp.log(2 * sp.sqrt(m) / delta)) / (2 * m))
    gap, (q, p) = pinsker_gap_derivative()
    return {
        "amit_meir_task": zero(task**2 - c_task**2),  # both square roots of positive args
        "amit_meir_meta": zero(meta**2 - c_meta**2),
        "gaussian_kl": zero(kl_1d - claims_kl),
        "mcallester": zero((derive_mcallester() - emp) ** 2 - (claims_mc - emp) ** 2),
        "pinsker": zero(gap - (p - q) * (2 * p - 1) ** 2 / (p * (1 - p))),
    }


def _linear_pac_bayes(kl_, lam, s2, delta_):
    r"""Gap of :math:`E_Q L \le E_Q \hat L + (KL + \ln(1/\delta) + \lambda^2 s^2/8)/\lambda`."""
    return (kl_ + sp.log(1 / delta_) + lam**2 * s2 / 8) / lam


def derive_pentina_lampert():
    r"""``(task_term, meta_term, total)`` of Pentina & Lampert (2014, ICML, Thm 2).

    ``m`` is the harmonic mean :math:`\bar m` of the sample sizes and ``KL_task`` the average
    over tasks of :math:`E_{P\sim\mathcal Q} KL(Q_i\|P)`, so :math:`\sum_i = n\,KL_{task}`.
    """
    task = _linear_pac_bayes(kl_hyper + n * kl_task, n * sp.sqrt(m), 1 / (n * m), delta / 2)
    meta = _linear_pac_bayes(kl_hyper, sp.sqrt(n), 1 / n, delta / 2)
    task, meta = sp.expand(task), sp.expand(meta)
    return task, meta, emp + task + meta


def _on_domain(expr):
    return sp.expand(expr.subs(_DOMAIN))


def _positive_on_domain(expr) -> bool:
    """Whether ``expr > 0`` for all ``n, m >= 2``, ``0 < delta <= 1``: its value at the corner
    ``n = m = 2``, ``delta = 1`` is positive and the rest is non-negative term by term."""
    e = _on_domain(expr)
    const = e.subs({_a: 0, _b: 0, _c: 0})
    return bool(const.is_positive and sp.expand(e - const).is_nonnegative)


def derive_limits() -> dict:
    """Limits of the Amit–Meir terms (and of Pentina–Lampert's) in ``n`` and ``m``.

    ``m`` is written ``2 + b`` so that ``m - 1 > 0`` is known to sympy.
    """
    task, meta, _ = derive_amit_meir()
    pl_task, pl_meta, _ = derive_pentina_lampert()
    sub = {m: 2 + _b}
    return {
        "meta_n_inf": sp.limit(meta, n, sp.oo),
        "task_m_inf": sp.limit(task, m, sp.oo),
        "task_n_inf": sp.limit(task.subs(sub), n, sp.oo),
        "meta_m_inf": sp.limit(meta, m, sp.oo),  # the meta term does not depend on m
        "pl_meta_n_inf": sp.limit(pl_meta, n, sp.oo),
        "pl_task_m_inf": sp.limit(pl_task, m, sp.oo),
    }


def _sqrt_argument(expr):
    """``(A, B)`` with ``expr = sqrt(A / B)``."""
    (root,) = [
        a for a in sp.preorder_traversal(expr) if isinstance(a, sp.Pow) and a.exp == sp.S.Half
    ]
    return sp.fraction(sp.together(root.base))


def _decreasing_in_size(term, size, kls):
    r"""Prove ``d term / d size < 0`` for ``term = sqrt((KL + ln(X/delta)) / (2(size - 1)))``.

    The derivative has the sign of :math:`A'B - AB' = 2((N-1)/N - A)`; then
    :math:`A - (N-1)/N = KL + \ln(X/(e\delta)) + 1/N` with :math:`X/(e\delta) > 1` on the
    domain. Returns ``(sign_numerator, proved)``.
    """
    a, b = _sqrt_argument(term)
    num = sp.expand(sp.diff(a, size) * b - a * sp.diff(b, size))
    (log_term,) = [t for t in sp.Add.make_args(a) if isinstance(t, sp.log)]
    x = log_term.args[0] * delta  # the X of ln(X / delta)
    is_form = sp.simplify(sp.expand_log(num - 2 * ((size - 1) / size - a), force=True)) == 0
    rest = sp.expand_log(
        a - (size - 1) / size - (kls + sp.log(x / (sp.E * delta)) + 1 / size), force=True
    )
    proved = (
        is_form
        and sp.simplify(rest) == 0
        and _positive_on_domain(x / (sp.E * delta) - 1)
        and _on_domain(kls + 1 / size).is_positive
    )
    return num, bool(proved)


def derive_monotonicity() -> dict:
    r"""Signs of the derivatives of the Amit–Meir terms, decided by sympy on the domain
    :math:`n, m \ge 2`, :math:`0 < \delta < 1`, KLs :math:`\ge 0`.

    Returns the derivatives and, under ``"signs"``, sympy's verdicts: increasing in both KLs,
    decreasing in :math:`\delta`; the task term decreasing in :math:`m` and the meta term in
    :math:`n` (:func:`_decreasing_in_size`).
    """
    task, meta, _ = derive_amit_meir()
    out, signs = {}, {}
    for name, expr, var, want in (
        ("task_dkl_task", task, kl_task, "positive"),
        ("task_dkl_hyper", task, kl_hyper, "positive"),
        ("meta_dkl_hyper", meta, kl_hyper, "positive"),
        ("task_ddelta", task, delta, "negative"),
        ("meta_ddelta", meta, delta, "negative"),
    ):
        out[name] = sp.simplify(sp.diff(expr, var))
        signs[name] = bool(getattr(_on_domain(out[name]), f"is_{want}"))
    out["task_dm_numerator"], signs["task_dm"] = _decreasing_in_size(task, m, kl_hyper + kl_task)
    out["meta_dn_numerator"], signs["meta_dn"] = _decreasing_in_size(meta, n, kl_hyper)
    out["signs"] = signs
    return out


def derive_regimes() -> dict:
    """Which term dominates: limits of task term / meta term (Amit–Meir).

    Few-shot (``n -> oo`` at fixed ``m``): the ratio tends to infinity (task term dominates);
    many-shot (``m -> oo`` at fixed ``n``): it tends to 0 (meta term dominates). Also the
    crossover condition ``task == meta`` as an equation for later numerical solution.
    """
    task, meta, _ = derive_amit_meir()
    ratio = task / meta
    return {
        "few_shot": sp.limit(ratio.subs({m: 2 + _b}), n, sp.oo),
        "many_shot": sp.limit(ratio.subs({n: 2 + _a}), m, sp.oo),
        "crossover": sp.Eq(task**2, meta**2),
        "ratio": ratio,
    }


_NAMES = {
    emp: r"\hat{er}",
    kl: r"\mathrm{KL}(Q\|P)",
    kl_hyper: r"\mathrm{KL}(\mathcal{Q}\|\mathcal{P})",
    kl_task: r"\mathbb{E}_{P\sim\mathcal{Q}}\mathrm{KL}(Q_i\|P)",
}


def latex_equations() -> dict[str, str]:
    """``name -> LaTeX`` of the equations shown in the paper (P1), from the derivations."""
    er = sp.Symbol("er")
    kl_1d, (mu_q, s_q, mu_p, s_p) = derive_gaussian_kl()
    gk = sp.Symbol(r"\mathrm{KL}(\mathcal{N}(\mu_q,\sigma_q^2)\|\mathcal{N}(\mu_p,\sigma_p^2))")
    task, meta, _ = derive_amit_meir()
    pl_task, pl_meta, _ = derive_pentina_lampert()
    nm = {**_NAMES, er: r"er"}
    erq = sp.Symbol(r"er(\mathcal{Q})")
    return {
        "p1-gaussian-kl": sp.latex(sp.Eq(gk, kl_1d, evaluate=False)),
        "p1-mcallester": sp.latex(sp.Le(er, derive_mcallester(), evaluate=False), symbol_names=nm),
        "p1-amit-meir": sp.latex(
            sp.Le(erq, sp.Add(emp, task, meta, evaluate=False), evaluate=False),
            symbol_names=nm,
        ),
        "p1-pentina-lampert": sp.latex(
            sp.Le(erq, pentina_lampert_display(), evaluate=False),
            symbol_names={**nm, m: r"\bar{m}", _LOG2D: r"\ln\frac{2}{\delta}"},
            order="none",
        ),
    }


_LOG2D = sp.Symbol("log_2_over_delta")


def pentina_lampert_display():
    """Pentina–Lampert's total grouped for display; checked equal to
    :func:`derive_pentina_lampert` (``ValueError`` otherwise)."""
    grouped = sp.Add(
        emp,
        (kl_hyper + _LOG2D) * (1 / sp.sqrt(n) + 1 / (n * sp.sqrt(m))),
        kl_task / sp.sqrt(m),
        1 / (8 * sp.sqrt(n)),
        1 / (8 * sp.sqrt(m)),
        evaluate=False,
    )
    diff = grouped.subs(_LOG2D, sp.log(2 / delta)) - derive_pentina_lampert()[2]
    if sp.simplify(sp.expand_log(sp.expand(diff), force=True)) != 0:
        raise ValueError("display form differs from the derivation")
    return grouped
