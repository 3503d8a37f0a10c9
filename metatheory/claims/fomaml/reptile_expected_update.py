"""Ledger row G4 ``reptile_expected_update``: the expected updates of MAML, FOMAML and Reptile
to leading order in α.

Decision rule: the expectations are exact (enumerated minibatch sequences), so the check
compares Taylor coefficients, recovered exactly (interpolation where the update is a polynomial
in α, forward-mode autodiff at α = 0 on the MLP), with the predicted ones under rounding
tolerances (designed false-alarm level 0; calibrated over random instances); it does not fit a
slope of the O(α²) residual through deterministic points.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from metatheory import mutants
from metatheory.bounds import fomaml as bounds
from metatheory.claims import Check, Mutant, Summary, Verdict, claim
from metatheory.claims.fomaml._common import COEF_TOL
from metatheory.experiments import fomaml as ex

# --------------------------------------------------------------------------- mutants

_NICHOL = "metatheory.bounds.fomaml:nichol_expected_updates"


def _nichol(which: str, name: str, description: str) -> Mutant:
    """A wrong coefficient of α·AvgGradInner in one of the three leading-order updates."""

    def make(orig):
        def wrong(avg_grad, avg_grad_inner, alpha, k):
            m, f, r = orig(avg_grad, avg_grad_inner, alpha, k)
            a, gi = np.asarray(alpha, np.float64), np.asarray(avg_grad_inner, np.float64)
            if which == "fomaml":  # (k − 1) → k
                f = f - a * gi
            elif which == "reptile":  # ½ k(k−1) → k(k−1)
                r = r - 0.5 * k * (k - 1) * a * gi
            else:  # 2(k − 1) → (k − 1)
                m = m + (k - 1) * a * gi
            return m, f, r

        return wrong

    return Mutant(name, description, _NICHOL, make)


def _reptile_mean_step() -> Mutant:
    """Reptile's direction divided by kα (the mean step) instead of α."""

    def make(orig):
        def wrong(loss_fn, params, support, *, alpha, n_inner, **kw):
            d = orig(loss_fn, params, support, alpha=alpha, n_inner=n_inner, **kw)
            return jax.tree_util.tree_map(lambda x: x / n_inner, d)

        return wrong

    return Mutant(
        "reptile-mean-step",
        "Reptile direction (θ − φ_k)/(kα): averaged over the k steps",
        "metatheory.learners.reptile:reptile_direction",
        make,
    )


# --------------------------------------------------------------------------- G4


def predicted_coefficients(avg_grad, avg_grad_inner, k):
    """``(c0, c1)``, each ``(3, P)`` (maml, fomaml, reptile), of the calculator's leading-order
    updates (linear in α: c0 at α = 0, c1 = value at α = 1 minus c0)."""
    c0 = np.stack(bounds.nichol_expected_updates(avg_grad, avg_grad_inner, 0.0, int(k)))
    c1 = np.stack(bounds.nichol_expected_updates(avg_grad, avg_grad_inner, 1.0, int(k))) - c0
    return c0, c1


def coefficient_errors(r: ex.ReptileExpectedUpdateResult) -> dict:
    """Per method: max over k of the scaled coefficient error on quadratics
    ‖(ĉ₀, s ĉ₁) − (c₀, s c₁)‖ / ‖(c₀, s c₁)‖; and on the MLP, value and slope at α = 0."""
    errs = {m: [] for m in ex.METHODS}
    for i, k in enumerate(r.ks):
        c0, c1 = predicted_coefficients(r.avg_grad, r.avg_grad_inner, k)
        s = r.scale[i]
        for j, m in enumerate(ex.METHODS):
            if k == 1 and m != "reptile":
                continue
            got = np.concatenate([r.coef[i, j, 0], s * r.coef[i, j, 1]])
            want = np.concatenate([c0[j], s * c1[j]])
            errs[m].append(np.linalg.norm(got - want) / np.linalg.norm(want))
    mlp = []
    for i, k in enumerate(r.mlp_ks):
        c0, c1 = predicted_coefficients(r.mlp_avg_grad, r.mlp_avg_grad_inner, k)
        for j in range(2):
            mlp.append(np.linalg.norm(r.mlp_value[i, j] - c0[j]) / np.linalg.norm(c0[j]))
            mlp.append(np.linalg.norm(r.mlp_slope[i, j] - c1[j]) / np.linalg.norm(c1[j]))
    out = {m: float(max(v)) for m, v in errs.items()}
    out["mlp"] = float(max(mlp))
    return out


@functools.cache
def g4_test_value():
    """Reptile on h/2 (θ−c)², θ−c = 1, h = 2, α = 0.01, k = 5: exact (sympy ``rsolve``) and
    the leading order from the calculator (AvgGrad = 2, AvgGradInner = 4)."""
    import sympy as sp

    from metatheory.symbolic import fomaml as sf

    expr, h, u = sf.exact_quadratic_reptile()
    exact = float(expr.subs({h: 2, u: 1, sf.alpha: sp.Rational(1, 100), sf.k: 5}))
    return exact


@claim(
    "G4",
    name="reptile_expected_update",
    statement="E g_MAML = AvgGrad − 2(k−1)α·AvgGradInner, E g_FO = AvgGrad − (k−1)α·AvgGradInner, "
    "E g_Reptile = k·AvgGrad − ½k(k−1)α·AvgGradInner, each + O(α²).",
    latex=r"$E\,g_{\mathrm{Rep}} = k\,\mathrm{AvgGrad} - \tfrac12 k(k-1)\alpha\,"
    r"\mathrm{AvgGradInner} + O(\alpha^2)$ (and MAML, FOMAML)",
    source="Nichol, Achiam & Schulman 2018, Sec. 5.1",
    experiment=ex.expected_updates,
    presets=ex.REPTILE_EXPECTED_UPDATE_PRESETS,
    evidence="identity",
    cites=["nichol2018reptile"],
    seed=41,
    mutants=[
        _nichol("fomaml", "fomaml-coefficient-k", "FOMAML's coefficient k for (k−1)"),
        _nichol("reptile", "reptile-half-dropped", "Reptile's ½k(k−1) without the ½"),
        _nichol("maml", "maml-coefficient-one", "MAML's coefficient (k−1) for 2(k−1)"),
        mutants.maml_first_order(),
        mutants.maml_hessian_sign(),
        mutants.maml_off_by_one(-1),
        _reptile_mean_step(),
    ],
)
def check_g4(r: ex.ReptileExpectedUpdateResult) -> Verdict:
    e = coefficient_errors(r)
    exact = g4_test_value()
    lead = float(bounds.nichol_expected_updates(np.array([2.0]), np.array([4.0]), 0.01, 5)[2][0])
    ks = tuple(int(k) for k in r.ks)
    checks = [
        Check.at_most(
            f"{m}-coefficients",
            e[m],
            COEF_TOL,
            what=f"quadratic minibatches, k ∈ {ks if m == 'reptile' else ks[1:]}: ",
            digits=2,
        )
        for m in ex.METHODS
    ]
    checks.append(
        Check.at_most(
            "mlp-coefficients",
            e["mlp"],
            COEF_TOL,
            what=f"tanh MLP, MAML and FOMAML, k ∈ {tuple(int(k) for k in r.mlp_ks)}: ",
            digits=2,
        )
    )
    return Verdict.of(
        checks,
        predicted="E g = c₀ + c₁α + O(α²) with the leading-order c₀, c₁; Reptile at k = 1 is "
        "AvgGrad (SGD on the expected loss)",
        numbers={
            "maml": e["maml"],
            "fomaml": e["fomaml"],
            "reptile": e["reptile"],
            "mlp": e["mlp"],
            "kmax": int(r.ks.max()),
            "mlpkmax": int(r.mlp_ks.max()),
            "exact": exact,
            "lead": lead,
        },
        evidence=r,
        summary=Summary.identity(
            max(e.values()),
            len(r.ks) + len(r.mlp_ks),
            what="inner-step counts k (Taylor coefficients, quadratic and MLP)",
        ),
    )
