"""Ledger row G7 (implicit MAML).

Every sub-check is deterministic (float64 solves, finite differences, CG iterates, compiled
memory) against a rounding or truncation tolerance, so the designed false-alarm level is 0;
the check is calibrated over random problem instances (tasks, initial parameters, MLP data).
The memory sub-check reads iMAML's row of G6's sweep (one experiment, cached for both).
"""

from __future__ import annotations

import jax
import numpy as np
import sympy as sp

from metatheory.bounds import imaml as imaml_bounds
from metatheory.claims import Check, Mutant, Summary, Verdict, claim
from metatheory.experiments import imaml as ex
from metatheory.experiments._compiled import FLAT_FRAC
from metatheory.symbolic import imaml as sym

EXACT_TOL = 1e-10
"""Float64, iMAML vs the closed-form solve: the proximal solve and CG stop at relative
tolerance eps^0.75 = 1.8e-12, amplified by the condition number of I + H/lambda (<= ~50 here):
1e-10. Dropping the inverse (first-order iMAML) is off by O(||H||/lambda), here >= 7%."""
FD_TOL = 1e-6
"""Central differences of the solver's output: solve error ~1e-11 over 2h (h = 1e-3 on
quadratics, where phi* is linear in theta; 1e-4 on the MLP, truncation O(h^2) ~ 1e-8) gives at
most ~1e-7; 1e-6 leaves margin and still rejects the missing inverse by five orders."""
RATE_TOL = 0.01
"""Relative error of the decay rate of unrolled MAML's error at the end of its sweep,
err_N / err_{N-1}, vs rho = max|1 - alpha(lam + h_i)|. The error is a sum of geometric modes;
its local rate tends to the slowest, rho, with a deviation that shrinks like (rho_2/rho)^N;
at the end of the sweep (rho^N = 1e-11 on the quadratic) that is a fraction of a percent, and
err >= 1e-12 is computed to ~1e-4 relative. The rate without the proximal term differs by
tens of percent. (A straight-line fit of log err over a window is biased towards the faster
modes when rho_2 is close to rho: it is not used.)"""
LIMIT_TOL = 1e-6
"""Unrolled MAML vs iMAML at N_max, where rho^N_max = 1e-11: nonlinear (MLP) terms add a factor
up to N_max, so the error is <= ~3e-8; 1e-6 keeps margin, while unrolling plain MAML (no
proximal term) stays O(1) away. Where the MLP's rho is so close to 1 that the sweep stops at
its cap (3000 steps) before rho^N reaches 1e-11, the error must instead still be decaying at
the predicted rate there (within RATE_TOL): a wrong limit makes it level off (local rate 1)."""


def local_rate(err: np.ndarray) -> float:
    """``err[-1] / err[-2]``: the decay rate at the end of a sweep."""
    return float(err[-1] / err[-2])


CG_SLACK = 1e-9
"""The CG bound is a theorem; the slack only absorbs float64 rounding of the A-norm errors."""
CG_TIGHT = 10.0
"""The bound is attained, up to this factor, on the Chebyshev spectrum (CG's worst case, where
the error follows the Chebyshev polynomial, 2ρ^k/(1+ρ^{2k})): over the second half of the
iterations the smallest bound/error ratio is at most 10. A bound with the wrong exponent
(κ for √κ) is looser by ((κ−1)/(κ+1) / ρ)^k, over 100 at k = 20 for κ = 50.5."""
CG_EXACT_TOL = 1e-12
"""'Exact' after as many CG steps as distinct eigenvalues: float64 residual ~1e-15."""
KAPPA_TOL = 1e-12
"""κ of the test value from the calculator vs sympy's exact 101/2: float64 rounding."""


def cg_bound_ratios(cg: ex.ImamlCGResult) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(kappa, error / bound per iteration)`` of each CG problem, with κ and the bound from
    :mod:`metatheory.bounds.imaml` (the functions the mutants patch). A κ the bound rejects
    (``ValueError``: below 1) gives NaN, which fails every comparison."""
    kappa, ratios = [], []
    for h, lam, e in zip(cg.hessian_eigs, cg.lams, cg.errors, strict=True):
        try:
            k = float(imaml_bounds.imaml_condition_number(h, lam))
            b = np.asarray(imaml_bounds.cg_error_bound(k, np.arange(len(e))), float)
        except ValueError:
            k, b = float("nan"), np.full(len(e), np.nan)
        kappa.append(k)
        ratios.append(np.asarray(e) / b)
    return np.array(kappa), ratios


# ---------------------------------------------------------------------------- mutants


def _imaml_wrong_system(kind: str, description: str) -> Mutant:
    """iMAML whose linear system is misread: ``first-order`` skips it (g = ∇L_Q(φ*)),
    ``h-plus-lam`` solves (H + λI) g = ∇L_Q, ``lam-missing`` solves (I + H) g = ∇L_Q,
    ``sign`` solves (I − H/λ) g = ∇L_Q. The proximal solve is the library's own."""

    def make(orig):
        def wrong(loss_fn, params, support, query, *, lam, return_info=False, **kw):
            from metatheory.autodiff import hvp

            g, info = orig(loss_fn, params, support, query, lam=lam, return_info=True, **kw)
            phi, (xs, ys) = info.phi, support
            g_q = jax.grad(loss_fn)(phi, *query)
            if kind != "first-order":
                coef = {
                    "h-plus-lam": (lam, 1.0),
                    "lam-missing": (1.0, 1.0),
                    "sign": (1.0, -1 / lam),
                }
                a, b = coef[kind]

                def matvec(v):
                    hv = hvp(lambda p: loss_fn(p, xs, ys), phi, v)
                    return jax.tree_util.tree_map(lambda x, y: a * x + b * y, v, hv)

                g, _ = jax.scipy.sparse.linalg.cg(matvec, g_q, tol=1e-13, maxiter=1000)
            else:
                g = g_q
            return (g, info) if return_info else g

        return wrong

    return Mutant(
        f"imaml-{kind}", description, "metatheory.learners.imaml:imaml_meta_gradient", make
    )


def _cg_bound_kappa() -> Mutant:
    return Mutant(
        "cg-bound-kappa",
        "CG rate with κ for √κ: 2((κ−1)/(κ+1))^k",
        "metatheory.bounds.imaml:cg_error_bound",
        lambda orig: lambda kappa, k: orig(np.asarray(kappa, float) ** 2, k),
    )


def _cg_bound_no_two() -> Mutant:
    return Mutant(
        "cg-bound-no-two",
        "CG bound without its factor 2: ((√κ−1)/(√κ+1))^k",
        "metatheory.bounds.imaml:cg_error_bound",
        lambda orig: lambda kappa, k: orig(kappa, k) / 2,
    )


def _kappa_of_h() -> Mutant:
    def make(orig):
        def wrong(hessian_eigs, lam):
            e = np.asarray(hessian_eigs, float)
            return np.max(e, axis=-1) / np.min(e, axis=-1)

        return wrong

    return Mutant(
        "kappa-of-h",
        "κ of H, λ_max/λ_min, for κ of I + H/λ",
        "metatheory.bounds.imaml:imaml_condition_number",
        make,
    )


@claim(
    "G7",
    name="implicit_maml",
    statement="iMAML: dφ*/dθ = (I + H/λ)^{-1}; the meta-gradient (I + H/λ)^{-1}∇L_Q(φ*) by CG "
    "on HVPs equals the exact solve, finite differences and the limit of unrolled MAML on the "
    "proximal objective; CG error ≤ 2((√κ−1)/(√κ+1))^k; memory flat in inner steps.",
    latex=r"$g = (I + H/\lambda)^{-1}\nabla L_Q(\phi^*)$, "
    r"$\|x_k-x^*\|_A \le 2\big(\tfrac{\sqrt\kappa-1}{\sqrt\kappa+1}\big)^k\|x_0-x^*\|_A$",
    source="Rajeswaran, Finn, Kakade, Levine 2019, Lemma 1, Sec. 3.2; Shewchuk 1994, Eq. 55",
    experiment=ex.implicit_maml,
    evidence="identity",
    cites=["rajeswaran2019imaml", "shewchuk1994cg"],
    presets=ex.IMPLICIT_MAML_PRESETS,
    seed=7,
    mutants=[
        _imaml_wrong_system("first-order", "iMAML returns the first-order gradient ∇L_Q(φ*)"),
        _imaml_wrong_system("h-plus-lam", "CG on H + λI for I + H/λ (result off by 1/λ)"),
        _imaml_wrong_system("lam-missing", "CG on I + H: λ dropped"),
        _cg_bound_kappa(),
        _cg_bound_no_two(),
        _kappa_of_h(),
    ],
)
def check_g7(r: ex.ImplicitMamlResult) -> Verdict:
    e, un, cg, mem = r.exact, r.unrolled, r.cg, r.memory
    eigs = [float(x) for x in cg.hessian_eigs[0]]
    kappa_sym, rate_sym = sym.cg_rate(eigs, float(cg.lams[0]))
    exact_iters = sym.cg_exact_iterations(eigs, float(cg.lams[0]))
    kappa_sym, rate_sym = float(kappa_sym), float(sp.N(rate_sym, 15))
    kappa, ratios = cg_bound_ratios(cg)
    spread = cg.names.index("spread")
    half = len(ratios[spread]) // 2
    tight = float(np.min(1 / ratios[spread][half:]))
    s4 = kappa**0.25
    ctl = [
        float(np.max(err / (2 * ((q - 1) / (q + 1)) ** np.arange(len(err)))))
        for err, q in zip(cg.errors, s4, strict=True)
    ]
    rate = local_rate(un.err)
    rate_err = abs(rate / un.rho - 1)
    rate_err_ctl = abs(rate / un.rho_control - 1)
    mlp_rate = local_rate(un.mlp_err)
    mlp_limit = un.mlp_err[-1] <= LIMIT_TOL or abs(mlp_rate / un.mlp_rho - 1) <= RATE_TOL
    mem_slope = mem.fit.per_step
    max_ratio = max(float(np.max(x)) for x in ratios)
    checks = [
        Check.at_most("exact solve", e.exact.max(), EXACT_TOL, digits=2),
        Check(
            "finite differences",
            e.jac_fd.max() <= FD_TOL and e.mlp_fd <= FD_TOL,
            f"{e.jac_fd.max():.1e} (Jacobian), {e.mlp_fd:.1e} (MLP)",
            f"≤ {FD_TOL:g}",
        ),
        Check(
            "MLP proximal problem convex",
            e.mlp_min_eig > 0,
            f"λ_min(H + λI) = {e.mlp_min_eig:.3g}",
            "> 0",
        ),
        Check(
            "unrolled rate",
            rate_err <= RATE_TOL,
            f"{rate:.4f} at N = {un.n[-1]} vs ρ = {un.rho:.4f}",
            f"rel. ≤ {RATE_TOL:g}",
        ),
        Check(
            "unrolled limit",
            un.err[-1] <= LIMIT_TOL and mlp_limit,
            f"{un.err[-1]:.1e} (quadratic), {un.mlp_err[-1]:.1e} at N = {un.mlp_n[-1]} (MLP, "
            f"decaying at {mlp_rate:.5f}, ρ = {un.mlp_rho:.5f})",
            f"≤ {LIMIT_TOL:g}, or the MLP still at rate ρ (± {RATE_TOL:g})",
        ),
        Check(
            "κ of the test value",
            abs(kappa[0] / kappa_sym - 1) <= KAPPA_TOL,
            f"{kappa[0]:.6g} (sympy {kappa_sym:g})",
            f"rel. ≤ {KAPPA_TOL:g}",
        ),
        Check.at_most("CG within bound", max_ratio, 1 + CG_SLACK, what="max error/bound "),
        Check.at_most(
            "CG bound tight (Chebyshev spectrum)",
            tight,
            CG_TIGHT,
            what=f"min bound/error over k ≥ {half}: ",
        ),
        Check(
            "CG exact after distinct eigenvalues",
            cg.test_exact_iters == exact_iters and cg.errors[0][exact_iters] <= CG_EXACT_TOL,
            f"exact after {cg.test_exact_iters} (sympy {exact_iters}), error "
            f"{cg.errors[0][exact_iters]:.1e}",
            f"≤ {CG_EXACT_TOL:g}",
        ),
        Check(
            "memory flat",
            abs(mem_slope) <= FLAT_FRAC,
            f"{mem_slope:.3f} copies/step (one program per N)",
            f"|·| ≤ {FLAT_FRAC:g}",
        ),
        Check(
            "control: first-order iMAML",
            e.exact_control.min() > EXACT_TOL
            and e.jac_fd_control.min() > FD_TOL
            and e.mlp_fd_control > FD_TOL,
            f"≥ {e.exact_control.min():.2g}",
            control=True,
        ),
        Check(
            "control: plain unrolled", un.plain_err > LIMIT_TOL, f"{un.plain_err:.2g}", control=True
        ),
        Check(
            "control: rate without λ",
            rate_err_ctl > RATE_TOL,
            f"{rate_err_ctl:.2g}",
            control=True,
        ),
        Check("control: κ^(1/4) bound", max(ctl) > 1 + CG_SLACK, f"{max(ctl):.3g}", control=True),
    ]
    return Verdict.of(
        checks,
        predicted=f"g = (I+H/λ)^{{-1}}∇L_Q(φ*); unrolled error ∝ ρ^N, ρ = {un.rho:.4f}; CG: "
        f"κ = {kappa_sym:g}, rate {rate_sym:.6f}, exact in {exact_iters}; memory slope 0",
        measured=f"rel. err {e.exact.max():.1e} (exact solve), {e.jac_fd.max():.1e} "
        f"(FD of φ*), {e.mlp_fd:.1e} (MLP FD); decay rate {rate:.4f}, unrolled → "
        f"{un.err[-1]:.1e} / {un.mlp_err[-1]:.1e} (MLP); CG error/bound ≤ {max_ratio:.2f}, "
        f"bound/error ≥ {tight:.2f} on the Chebyshev spectrum, exact after "
        f"{cg.test_exact_iters}; memory slope {mem_slope:.3f} copies/step",
        tolerance=f"{EXACT_TOL:g} exact, {FD_TOL:g} FD, {RATE_TOL:g} rate, {LIMIT_TOL:g} limit, "
        f"CG tight ≤ {CG_TIGHT:g}, memory {FLAT_FRAC:g}",
        numbers={
            "exact": e.exact.max(),
            "exactcontrol": e.exact_control.min(),
            "jacfd": e.jac_fd.max(),
            "jacfdcontrol": e.jac_fd_control.min(),
            "mlpfd": e.mlp_fd,
            "mlpfdcontrol": e.mlp_fd_control,
            "mlpmineig": e.mlp_min_eig,
            "rho": un.rho,
            "rhofit": rate,
            "mlprate": mlp_rate,
            "rateerr": rate_err,
            "rhocontrol": un.rho_control,
            "fitlo": un.fit_lo,
            "fithi": un.fit_hi,
            "unrolled": un.err[-1],
            "unrollednmax": int(un.n[-1]),
            "mlpunrolled": un.mlp_err[-1],
            "mlpnmax": int(un.mlp_n[-1]),
            "mlprho": un.mlp_rho,
            "plain": un.plain_err,
            "kappa": kappa_sym,
            "cgrate": rate_sym,
            "cgexact": cg.test_exact_iters,
            "cgexacterr": cg.errors[0][exact_iters],
            "cgratio": max_ratio,
            "cgratiotest": float(np.max(ratios[0])),
            "cgratiospread": float(np.max(ratios[spread])),
            "cgratiomlp": float(np.max(ratios[2])),
            "cgtight": tight,
            "kappamlp": kappa[2],
            "cgcontrol": max(ctl),
            "memslope": mem_slope,
            "memcopies": float(mem.copies[-1]),
            "memmb": mem.temp[-1] / 1e6,
        },
        evidence=r,
        summary=Summary.identity(
            e.exact.max(), e.exact.size, what="λ values (iMAML vs the exact solve)"
        ),
    )
