"""Ledger rows G1 (MAML product formula) and G2 (first-order and truncated MAML)."""

from __future__ import annotations

from metatheory import mutants
from metatheory.claims import Check, Summary, Verdict, claim
from metatheory.experiments import maml as ex

EXACT_TOL = 1e-10
"""Float64 closed-form agreement (:func:`~metatheory.numerics.rel_err_norm`): ~30 flops of
rounding per entry times N <= 10 inner steps stays below 1e-13; 1e-10 leaves three orders of
margin and still rejects any missing term."""
FD_TOL = 1e-6
"""Central differences with h = 1e-5, max |FD − ⟨g, v⟩| / ‖g‖ over unit directions:
truncation O(h² |f'''|) ~ 1e-10, rounding O(eps |f| / h) ~ 1e-11; 1e-6 is safe against both,
while a dropped or sign-flipped Hessian term is O(α)."""
LOOP_TOL = 1e-12
"""vmap vs a plain loop compute the same float64 sums in a different order."""


@claim(
    "G1",
    name="maml_product_formula",
    statement="The MAML meta-gradient is (I−αH_0)…(I−αH_{N−1})∇L_Q(θ_N).",
    latex=r"$\nabla_{\theta_0} L_Q(\theta_N) = (I-\alpha H_0)(I-\alpha H_1)\cdots"
    r"(I-\alpha H_{N-1})\,\nabla L_Q(\theta_N)$, $H_j = \nabla^2 L_S(\theta_j)$",
    source="Finn et al. 2017, Sec. 2.2; chain rule",
    experiment=ex.product_formula,
    evidence="identity",
    cites=["finn2017maml"],
    presets=ex.MAML_PRODUCT_FORMULA_PRESETS,
    seed=0,
    mutants=[
        mutants.maml_hessian_sign(),
        mutants.maml_first_order(),
        mutants.maml_off_by_one(-1),
        mutants.maml_alpha_scaled(0.5),
    ],
)
def check_g1(r: ex.MamlProductFormulaResult) -> Verdict:
    return Verdict.of(
        [
            Check.at_most(
                "closed-form",
                r.closed.max(),
                EXACT_TOL,
                what=f"N = 1..{r.n_inner.max()}: ",
                digits=2,
            ),
            Check.at_most("finite-differences", r.fd.max(), FD_TOL, digits=2),
            Check.at_most("vmap-vs-loop", r.loop, LOOP_TOL, digits=2),
            Check(
                "control: no Hessian factor",
                r.closed_control.min() > EXACT_TOL and r.fd_control.min() > FD_TOL,
                f"≥ {r.closed_control.min():.2g} (closed form), ≥ {r.fd_control.min():.2g} (FD)",
                control=True,
            ),
        ],
        predicted="autodiff = product formula (closed form, FD, plain loop)",
        measured=f"max rel. err {r.closed.max():.1e} (closed form), {r.fd.max():.1e} (FD), "
        f"{r.loop:.1e} (loop)",
        tolerance=f"{EXACT_TOL:g} exact, {FD_TOL:g} FD, {LOOP_TOL:g} loop",
        numbers={
            "closed": r.closed.max(),
            "fd": r.fd.max(),
            "loop": r.loop,
            "control": r.closed_control.min(),
            "fdcontrol": r.fd_control.min(),
        },
        evidence=r,
        summary=Summary.identity(r.closed.max(), len(r.n_inner), what="inner-step counts N"),
    )


@claim(
    "G2",
    name="fomaml_truncated",
    statement="First-order MAML is ∇L_Q(θ_N); truncation to the last k steps keeps the last "
    "k factors.",
    latex=r"$g_{\mathrm{FO}} = \nabla L_Q(\theta_N)$; truncated to the last $k$ steps: "
    r"$(I-\alpha H_{N-k})\cdots(I-\alpha H_{N-1})\,\nabla L_Q(\theta_N)$",
    source="Finn et al. 2017, Sec. 5.2; Nichol et al. 2018",
    experiment=ex.truncated_products,
    evidence="identity",
    cites=["finn2017maml", "nichol2018reptile"],
    presets=ex.FOMAML_TRUNCATED_PRESETS,
    seed=1,
    mutants=[
        mutants.maml_truncate_first(),
        mutants.maml_hessian_sign(),
        mutants.maml_off_by_one(+1),
    ],
)
def check_g2(r: ex.FomamlTruncatedResult) -> Verdict:
    return Verdict.of(
        [
            Check.at_most(
                "last-k-factors",
                r.err.max(),
                EXACT_TOL,
                what=f"{len(r.cases)} (task, N, k) cases: ",
                digits=2,
            ),
            Check(
                "control: truncation ignored",
                r.err_control.min() > EXACT_TOL,
                f"≥ {r.err_control.min():.2g}",
                control=True,
            ),
        ],
        predicted="autodiff = product of the last k factors, k = 0..N",
        numbers={"err": r.err.max(), "control": r.err_control.min(), "cases": len(r.cases)},
        evidence=r,
        summary=Summary.identity(r.err.max(), len(r.cases), what="(task, N, k) cases"),
    )
