"""Ledger row B1 ``gp_oracle``: the exact GP posterior predictive (RBF kernel, Cholesky) is the
reference predictive of the GP task family (Rasmussen & Williams 2006, Eq. 2.23-2.24)."""

from __future__ import annotations

from metatheory.claims import Check, Summary, Verdict, claim, fmt_num
from metatheory.claims.neural_process._common import (
    _lengthscale_squared,
    _missing_half,
    _noise_off_diagonal,
    _variance_no_reduction,
)
from metatheory.experiments import neural_process as ex

ORACLE_TOL = 1e-9
"""B1, float64 (:func:`~metatheory.numerics.rel_err_max`): κ(K_CC + σ_n²I) ≤ 1 + n s²/σ_n²
≈ 6e3 at n = 60 (2e4 at n = 200), so a backward-stable solve is accurate to ~κε ≈ 1e-12;
the variance s² − k_*ᵀ(K+σ²I)⁻¹k_* cancels down to ≥ σ_n², which amplifies relative errors by
≤ (s² + σ_n²)/σ_n² = 101: ~1e-10. 1e-9 keeps a margin and is far below the control (σ_n² left
out of the variance: ≥ 1e-2)."""


@claim(
    "B1",
    name="gp_oracle",
    statement="The exact GP posterior predictive (RBF kernel, Cholesky) is the reference "
    "predictive of the GP task family.",
    latex=r"$\mu_* = K_{*C}(K_{CC}+\sigma_n^2I)^{-1}y_C$, "
    r"$\sigma_*^2 = k_{**} - K_{*C}(K_{CC}+\sigma_n^2I)^{-1}K_{C*} + \sigma_n^2$",
    source="Rasmussen & Williams 2006, Eq. 2.23-2.24; Garnelo et al. 2018",
    evidence="identity",
    cites=["rasmussen2006gp", "garnelo2018conditional"],
    experiment=ex.gp_oracle,
    presets=ex.GP_ORACLE_PRESETS,
    seed=80,
    statistical=True,
    mutants=[
        _lengthscale_squared(),
        _missing_half(),
        _noise_off_diagonal(),
        _variance_no_reduction(),
    ],
)
def check_b1(r: ex.GpOracleResult) -> Verdict:
    """Exact agreement with an independent float64 computation (dense inverse, scipy solve,
    NumPy joint density) of the textbook formula, and calibration on tasks drawn from the
    family: held-out targets have E[z²] = 1 (t-interval at the tail level of ``r.z2``)."""
    worst = max(
        r.err_mean.max(),
        r.err_var.max(),
        r.err_logpdf.max(),
        r.err_solve.max(),
        r.err_mask,
        r.err_joint,
    )
    return Verdict.of(
        [
            Check.at_most(
                "mean and variance",
                max(r.err_mean.max(), r.err_var.max(), r.err_solve.max()),
                ORACLE_TOL,
                what=f"{fmt_num(r.err_mean.max(), 2)} (mean), {fmt_num(r.err_var.max(), 2)} "
                f"(var), {fmt_num(r.err_solve.max(), 2)} (scipy); rel_err_max ",
                digits=2,
            ),
            Check.at_most(
                "densities and mask",
                max(r.err_logpdf.max(), r.err_mask, r.err_joint),
                ORACLE_TOL,
                what=f"{fmt_num(r.err_logpdf.max(), 2)} (pointwise), {fmt_num(r.err_joint, 2)} "
                f"(joint), {fmt_num(r.err_mask, 2)} (mask); max ",
                digits=2,
            ),
            Check.ci_contains("calibrated", r.z2, 1.0),
            Check(
                "control: σ_n² left out; noise/3",
                r.control_err.min() > ORACLE_TOL and not r.z2_control.contains(1.0),
                f"rel. err ≥ {r.control_err.min():.2g}; E[z²] = {r.z2_control}",
                control=True,
            ),
        ],
        predicted="Cholesky = dense inverse = solve (float64); E[z²] = 1 on held-out targets",
        measured=f"max rel. err {worst:.1e} (n ≤ {r.context_sizes.max()}); E[z²] = {r.z2}",
        numbers={
            "err": worst,
            "errmean": r.err_mean.max(),
            "errvar": r.err_var.max(),
            "errjoint": r.err_joint,
            "nmax": int(r.context_sizes.max()),
            "ztwo": r.z2.estimate,
            "ztwolow": r.z2.low,
            "ztwohigh": r.z2.high,
            "control": r.control_err.min(),
            "ztwocontrol": r.z2_control.estimate,
        },
        evidence=r,
        summary=Summary.identity(
            worst, r.n_tasks * len(r.context_sizes), what="(task, context size) instances"
        ),
    )
