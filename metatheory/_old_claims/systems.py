"""Ledger rows S1 (Hessian-vector products) and S2 (sharding the task batch)."""

from __future__ import annotations

import jax

from metatheory.claims import Verdict, claim
from metatheory.experiments import sharding
from metatheory.experiments import systems as ex

HVP_TOL = 1e-12
"""Float64: both HVP modes and the dense product sum the same O(d) terms in other orders."""


@claim(
    "S1",
    stem="hvp_modes",
    statement="Hessian-vector products by forward-over-reverse and reverse-over-reverse equal "
    "the explicit Hessian product.",
    source="Pearlmutter 1994",
)
def check_s1(preset: str) -> Verdict:
    cfg = ex.FULL if preset == "full" else ex.QUICK
    r = ex.hvp_agreement(cfg, jax.random.key(2))
    worst = max(r.fwd_rev.max(), r.rev_rev.max(), r.fwd_vs_rev.max())
    return Verdict(
        "S1",
        "holds" if worst <= HVP_TOL else "fails",
        predicted="Hv equal in all three modes",
        measured=f"max rel. err {r.fwd_rev.max():.1e} (fwd-rev), {r.rev_rev.max():.1e} "
        f"(rev-rev), {r.fwd_vs_rev.max():.1e} (between), d = {r.n_params}",
        tolerance=f"{HVP_TOL:g} (float64)",
        control=f"diag(H)·v: rel. err ≥ {r.control.min():.2g}",
        control_rejected=bool(r.control.min() > HVP_TOL),
        numbers={
            "fwdrev": r.fwd_rev.max(),
            "revrev": r.rev_rev.max(),
            "dim": r.n_params,
            "control": r.control.min(),
        },
        evidence=r,
    )


SHARD_TOL = 1e-12
"""Float64: sharding changes only the order of the cross-device sum over tasks."""


@claim(
    "S2",
    stem="sharded_meta_gradient",
    statement="A task batch sharded over devices gives the same meta-gradient as one device.",
    source="DESIGN.md (jax.sharding); data parallelism over tasks",
)
def check_s2(preset: str) -> Verdict:
    r = sharding.sharded_vs_single(sharding.FULL if preset == "full" else sharding.QUICK)
    return Verdict(
        "S2",
        "holds" if r.rel_err <= SHARD_TOL else "fails",
        predicted=f"sharded over {r.n_devices} devices = one device",
        measured=f"rel. err {r.rel_err:.1e}; task axis placed as {r.placement}",
        tolerance=f"{SHARD_TOL:g} (float64)",
        control=f"only one shard's tasks (a missing all-reduce): rel. err {r.rel_err_control:.2g}",
        control_rejected=bool(r.rel_err_control > SHARD_TOL),
        numbers={"relerr": r.rel_err, "devices": r.n_devices, "control": r.rel_err_control},
        evidence=r,
    )
