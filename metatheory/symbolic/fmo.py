r"""Smoothness, variance and rate of MAML (Fallah, Mokhtari, Ozdaglar 2020; claims C1–C5).

Results derived here (sympy only):

- **One step (C1, FMO Lemma 4.2).** With :math:`\tilde w = w - \alpha\nabla f_i(w)`,
  :math:`\|\nabla f_i(\tilde w)\| \le (1+\alpha L)\|\nabla f_i(w)\|` and
  :math:`\|\nabla F(w)-\nabla F(u)\| \le ((1+\alpha L)^2 L + \alpha\rho G')\|w-u\|`,
  :math:`G'` bounding :math:`\|\nabla f_i\|` at the adapted points; for :math:`\alpha\le 1/L`
  this is at most :math:`4L + 2\rho\alpha\,E_i\|\nabla f_i(w)\|`.
- **N steps (C2).** The adapted map is :math:`(1+\alpha L)^N`-Lipschitz, its Jacobian
  :math:`M_N`-Lipschitz with :math:`M_N = (1+\alpha L)M_{N-1} + \alpha\rho(1+\alpha L)^{2(N-1)}`;
  solving the recursion gives
  :math:`L_N = (1+\alpha L)^{2N}L + (\rho G/L)(1+\alpha L)^{N-1}((1+\alpha L)^N-1)`,
  which is the form claimed in C2 and equals C1 at :math:`N=1`.
- **Task batch (C3).** The mean of :math:`B` iid meta-gradients has variance :math:`\sigma^2/B`.
- **Rate (C4).** The descent lemma with :math:`\beta\le 1/L` gives
  :math:`\frac1T\sum_t\|\nabla F(w_t)\|^2 \le 2\Delta/(\beta T) + L\beta\sigma^2`, balanced by
  :math:`\beta^* = \sqrt{2\Delta/(L\sigma^2 T)}`; any :math:`\beta = c/\sqrt T` gives
  :math:`O(T^{-1/2})`.
- **The circular task family** (``metatheory.tasks.circular``): per-sample loss
  :math:`\lambda(1-\cos(w_k - y))`, :math:`y = \theta_k + s\varepsilon`; its constants
  :math:`L`, :math:`\rho` and :math:`G` are derived from the loss, not typed in.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = [
    "derive_adapted_gradient",
    "derive_one_step_chain",
    "derive_multi_step",
    "derive_batch_variance",
    "derive_rate",
    "derive_task_constants",
    "derive_fmo_bound",
    "one_step_bound",
    "fmo_bound",
    "multi_step_claimed",
    "multi_step_linearized",
    "latex_equations",
]

L, rho, alpha, G, Gp, g = sp.symbols("L rho alpha G G' g", positive=True)
t = sp.Symbol("t", positive=True)  # alpha * L
N = sp.Symbol("N", integer=True, positive=True)
B, sigma2, T, Delta, beta, c = sp.symbols("B sigma2 T Delta beta c", positive=True)


def derive_adapted_gradient():
    r"""``(bound, factored)``:
    :math:`\|\nabla f(\tilde w)\| \le \|\nabla f(w)\| + L\|\tilde w - w\|` with
    :math:`\|\tilde w - w\| = \alpha\|\nabla f(w)\|` (``g`` = :math:`\|\nabla f(w)\|`)."""
    step = alpha * g  # ||w~ - w||
    bound = g + L * step  # Lipschitz gradient
    return bound, sp.factor(bound)


@lru_cache
def derive_one_step_chain() -> dict:
    r"""The chain of C1 term by term.

    :math:`\nabla F_i(w) = (I-\alpha\nabla^2 f_i(w))\nabla f_i(\tilde w)`; adding and subtracting
    :math:`(I-\alpha\nabla^2 f_i(w))\nabla f_i(\tilde u)`:
    (A) :math:`\|I-\alpha\nabla^2 f_i\|\cdot L\cdot\|\tilde w-\tilde u\|`, with
    :math:`\|\tilde w - \tilde u\| \le (1+\alpha L)\|w-u\|`;
    (B) :math:`\alpha\|\nabla^2 f_i(w)-\nabla^2 f_i(u)\|\,\|\nabla f_i(\tilde u)\|\le\alpha\rho G'`.
    """
    jac = 1 + alpha * L  # ||I - alpha H|| <= 1 + alpha L, also Lip. of w -> w~
    term_a = jac * L * jac
    term_b = alpha * rho * Gp
    general = term_a + term_b
    _, adapted = derive_adapted_gradient()
    with_g = general.subs(Gp, adapted.subs(g, G))  # G' <= (1 + alpha L) E||grad f_i(w)||
    paper = 4 * L + 2 * rho * alpha * G
    # slack of the paper's form for alpha = t / L, 0 < t <= 1: must factor as (1 - t) * (>= 0)
    slack = sp.factor(sp.expand((paper - with_g).subs(alpha, t / L)))
    at_max = sp.simplify((paper - with_g).subs(alpha, 1 / L))
    return {
        "term_a": term_a,
        "term_b": term_b,
        "general": general,
        "with_g": with_g,
        "paper": paper,
        "slack": slack,
        "slack_at_alpha_1_over_L": at_max,
    }


def one_step_bound():
    r""":math:`(1+\alpha L)^2 L + \alpha\rho G'` (C1, general form)."""
    return derive_one_step_chain()["general"]


def fmo_bound():
    r""":math:`4L + 2\rho\alpha G` (FMO's :math:`L(w)` with :math:`G=E_i\|\nabla f_i(w)\|`)."""
    return derive_one_step_chain()["paper"]


@lru_cache
def derive_multi_step() -> dict:
    r"""C2 by recursion (``rsolve``) over the inner steps :math:`w_{j+1}=w_j-\alpha\nabla f(w_j)`.

    ``lip_map``: Lipschitz constant of :math:`w\mapsto w_N`, :math:`a_N=(1+\alpha L)a_{N-1}`.
    ``lip_jac``: Lipschitz constant of :math:`J_N=\prod_j(I-\alpha\nabla^2 f(w_j))`,
    :math:`M_N = \|I-\alpha H\|M_{N-1} + \alpha\rho\,a_{N-1}\,\|J_{N-1}\|`, :math:`M_0 = 0`.
    ``L_N``: :math:`\|J_N\|\,L\,a_N + G\,M_N` from
    :math:`J_N(w)^\top\nabla f(w_N) - J_N(u)^\top\nabla f(u_N)`, so ``G`` bounds
    :math:`\|\nabla f(u_N)\|` at the ``N``-th adapted point (C1's :math:`G'`).
    """
    n = sp.Symbol("n", integer=True, nonnegative=True)
    a, m = sp.Function("a"), sp.Function("M")
    q = 1 + alpha * L
    lip_map = sp.rsolve(a(n + 1) - q * a(n), a(n), {a(0): 1})
    jac_norm = lip_map  # same recursion: ||J_N|| <= prod ||I - alpha H|| = q^N
    rec = m(n + 1) - q * m(n) - alpha * rho * lip_map * jac_norm
    lip_jac = sp.simplify(sp.rsolve(rec, m(n), {m(0): 0}))
    l_n = sp.simplify((jac_norm * L * lip_map + G * lip_jac).subs(n, N))
    claimed = multi_step_claimed()
    diff = sp.simplify(sp.expand(sp.powsimp(l_n - claimed, force=True)))
    at_one = sp.simplify(l_n.subs(N, 1))
    c1 = derive_one_step_chain()["general"].subs(Gp, G)
    # the recursion itself, checked symbolically for a few n (independent of rsolve's form)
    mm = [sp.Integer(0)]
    for j in range(6):
        mm.append(sp.expand(q * mm[-1] + alpha * rho * q ** (2 * j)))
    rec_ok = all(sp.simplify(mm[k] - lip_jac.subs(n, k)) == 0 for k in range(len(mm)))
    return {
        "lip_map": lip_map.subs(n, N),
        "lip_jac": lip_jac.subs(n, N),
        "L_N": l_n,
        "claimed": claimed,
        "difference": diff,
        "at_one": at_one,
        "reduces_to_c1": sp.simplify(at_one - c1) == 0,
        "recursion_checked": rec_ok,
    }


def multi_step_claimed():
    r"""The form claimed in C2, typed from the claim (compared against the derivation)."""
    q = 1 + alpha * L
    return q ** (2 * N) * L + (rho * G / L) * q ** (N - 1) * (q**N - 1)


def multi_step_linearized():
    r"""The control of C2: :math:`L_N` to first order in :math:`\alpha` (no exponential),
    :math:`L(1 + 2N\alpha L) + N\alpha\rho G`."""
    ser = sp.series(multi_step_claimed(), alpha, 0, 2).removeO()
    return sp.expand(sp.simplify(ser))


@lru_cache
def derive_batch_variance() -> dict:
    r""":math:`\mathrm{Var}(\frac1B\sum_i g_i) = \frac1{B^2}\sum_{i,j}\mathrm{Cov}(g_i,g_j)`:
    ``B`` diagonal terms :math:`\sigma^2` and ``B(B-1)`` off-diagonal covariances, zero for
    independent tasks; so :math:`\sigma^2/B`, log-log slope −1. ``concrete`` checks it with
    ``sympy.stats`` for ``B = 1..4`` independent variables of variance :math:`\sigma^2`."""
    from sympy import stats as st

    i = sp.Symbol("i", integer=True)
    cov_offdiag = sp.Integer(0)  # independence
    total = sp.Sum(sigma2, (i, 1, B)).doit() + B * (B - 1) * cov_offdiag
    var = sp.simplify(total / B**2)
    lb = sp.Symbol("ell")  # log B
    slope = sp.simplify(sp.diff(sp.log(var.subs(B, sp.exp(lb))), lb))
    sd = sp.sqrt(sigma2)
    concrete = []
    for b in range(1, 5):
        xs = [st.Normal(f"X{k}", 0, sd) for k in range(b)]
        concrete.append(sp.simplify(st.variance(sum(xs) / b) - var.subs(B, b)) == 0)
    return {"variance": var, "slope": slope, "concrete": all(concrete)}


@lru_cache
def derive_rate() -> dict:
    r"""Descent lemma for :math:`w_{t+1} = w_t - \beta g_t`, :math:`E g_t = \nabla F(w_t)`,
    :math:`E\|g_t-\nabla F\|^2\le\sigma^2`:
    :math:`E F_{t+1} \le E F_t - \beta(1-L\beta/2)E\|\nabla F_t\|^2 + L\beta^2\sigma^2/2`.
    With :math:`\beta\le1/L`, :math:`1-L\beta/2\ge 1/2`; telescoping over ``T`` steps gives
    ``bound``; ``beta_star`` minimizes it; ``slope`` is its exponent in ``T`` for
    :math:`\beta=c/\sqrt T`."""
    sq = sp.Symbol("s2", positive=True)  # (1/T) sum E||grad F||^2
    per_step = -beta * sp.Rational(1, 2) * sq + L * beta**2 * sigma2 / 2
    # sum over T steps: F_T - F_0 <= T * per_step, and F_T - F_0 >= -Delta
    bound = sp.solve(sp.Eq(-Delta, T * per_step), sq)[0]
    bound = sp.expand(bound)
    crit = sp.solve(sp.diff(bound, beta), beta)
    beta_star = [b for b in crit if b.is_positive is not False][0]
    best = sp.simplify(bound.subs(beta, beta_star))
    with_c = sp.simplify(bound.subs(beta, c / sp.sqrt(T)))
    lt = sp.Symbol("ell")
    slope = sp.simplify(sp.diff(sp.log(with_c.subs(T, sp.exp(lt))), lt))
    return {"bound": bound, "beta_star": beta_star, "best": best, "with_c": with_c, "slope": slope}


@lru_cache
def derive_task_constants() -> dict:
    r"""Constants of the circular family from its per-sample loss :math:`1-\cos(z-s\varepsilon)`.

    Averaging over :math:`\varepsilon\sim N(0,1)` gives :math:`1-\kappa\cos z`,
    :math:`\kappa=e^{-s^2/2}`; the population loss is
    :math:`f_i(w)=(\lambda/d)\sum_k(1-\kappa\cos(w_k-\theta_{ik}))` (coordinate ``k`` observed
    with probability ``1/d``). Its Hessian is diagonal, so :math:`L=\sup|\ell''|`,
    :math:`\rho=\sup|\ell'''|` (per coordinate, hence in operator norm) and
    :math:`G = \sqrt d\,\sup|\ell'|`, with :math:`\ell = (\lambda/d)(1-\kappa\cos z)`.
    """
    z, e = sp.symbols("z epsilon", real=True)
    s, lam, d = sp.symbols("s lambda d", positive=True)
    density = sp.exp(-(e**2) / 2) / sp.sqrt(2 * sp.pi)
    avg = sp.simplify(sp.integrate(sp.cos(z - s * e) * density, (e, -sp.oo, sp.oo)))
    kappa = sp.simplify(avg / sp.cos(z))
    ell = lam / d * (1 - kappa * sp.cos(z))
    dom = sp.Interval(-sp.pi, sp.pi)  # periodic: one period suffices

    def sup_abs(expr):
        return sp.simplify(sp.Max(sp.maximum(expr, z, dom), -sp.minimum(expr, z, dom)))

    l_const = sup_abs(sp.diff(ell, z, 2))
    rho_const = sup_abs(sp.diff(ell, z, 3))
    g_const = sp.sqrt(d) * sup_abs(sp.diff(ell, z))
    lam_for_l = sp.solve(sp.Eq(l_const, L), lam)[0]  # the scale giving sup||Hessian|| = L
    return {
        "kappa": kappa,
        "population": ell,
        "L": l_const,
        "rho": rho_const,
        "G": g_const,
        "lambda_for_L": lam_for_l,
        "rho_over_L": sp.simplify(rho_const / l_const),
        "G_over_L": sp.simplify(g_const / l_const),
        "min_curvature": sp.simplify(sp.minimum(sp.diff(ell, z, 2), z, dom)),
    }


@lru_cache
def derive_fmo_bound() -> dict:
    r"""C5: the descent-lemma bound under FMO's step rule :math:`\beta_k = 1/(12\tilde L(w_k))`.

    :math:`\tilde L(w_k) = 4L + 2\rho\alpha\hat G_k \in [4L, 4L + 2\rho\alpha G]`, so
    :math:`\beta_k\in[\beta_{min},\beta_{max}]`; :math:`\beta_k` is independent of the
    meta-gradient sample (its own task batch), and :math:`\beta_{max}\le 1/L_F` with
    :math:`L_F=(1+\alpha L)^2L+\alpha\rho G` the global smoothness. Then
    :math:`\frac1T\sum_k E\|\nabla F(w_k)\|^2\le 2\Delta/(\beta_{min}T) +
    L_F\beta_{max}^2\sigma^2/\beta_{min}`.
    """
    lf = one_step_bound().subs(Gp, G)
    beta_max = 1 / (12 * 4 * L)
    beta_min = 1 / (12 * (4 * L + 2 * rho * alpha * G))
    bound = 2 * Delta / (beta_min * T) + lf * beta_max**2 * sigma2 / beta_min
    return {
        "L_F": lf,
        "beta_min": beta_min,
        "beta_max": beta_max,
        "bound": sp.simplify(bound),
        "deterministic": 2 * Delta / (beta_min * T),
        "step_test_value": sp.Rational(1, 12)
        / fmo_bound().subs({L: 1, rho: 2, alpha: sp.Rational(1, 10), G: 3}),
    }


_NAMES = {Gp: "G'", sigma2: r"\sigma^2"}


@lru_cache
def latex_equations() -> dict[str, str]:
    """Display equations for the paper, each an ``sympy.latex`` of a derived expression."""
    ch = derive_one_step_chain()
    ms = derive_multi_step()
    bv = derive_batch_variance()
    rt = derive_rate()
    tc = derive_task_constants()
    _, adapted = derive_adapted_gradient()
    lat = lambda e: sp.latex(e, symbol_names=_NAMES)  # noqa: E731
    return {
        "c1-adapted": r"\|\nabla f_i(\tilde w)\| \le "
        + lat(adapted.subs(g, sp.Symbol("g")))
        + r",\qquad g = \|\nabla f_i(w)\|",
        "c1-chain": r"\mathrm{Lip}(\nabla F) \le "
        + lat(ch["term_a"])
        + " + "
        + lat(ch["term_b"])
        + r" \le "
        + lat(ch["with_g"])
        + r" \le "
        + lat(ch["paper"]),
        "c1-slack": r"\bigl(4L+2\rho\alpha G\bigr) - \bigl("
        + lat(ch["with_g"])
        + r"\bigr)\big|_{\alpha=t/L} = "
        + lat(ch["slack"]),
        "c2-recursion": r"M_N = (1+\alpha L)M_{N-1} + \alpha\rho(1+\alpha L)^{2(N-1)}"
        r"\;\Rightarrow\; M_N = " + lat(ms["lip_jac"]),
        "c2-constant": "L_N = " + lat(ms["L_N"]),
        "c3-variance": r"\mathrm{Var}\Bigl(\frac1B\sum_{i=1}^B g_i\Bigr) = " + lat(bv["variance"]),
        "c4-rate": r"\frac1T\sum_{t<T}\|\nabla F(w_t)\|^2 \le "
        + lat(rt["bound"])
        + r",\qquad \beta^\star = "
        + lat(rt["beta_star"]),
        "task-constants": r"L = "
        + lat(tc["L"])
        + r",\quad \rho = "
        + lat(tc["rho"])
        + r",\quad G = "
        + lat(tc["G"])
        + r",\quad \kappa = "
        + lat(tc["kappa"]),
    }
