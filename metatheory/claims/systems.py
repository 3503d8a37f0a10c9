"""Ledger rows S1 (Hessian-vector products) and S2 (sharding the task batch)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metatheory.claims import Check, Mutant, Summary, Verdict, claim
from metatheory.experiments import systems as ex

HVP_TOL = 1e-12
"""Float64, :func:`~metatheory.numerics.rel_err_norm`: both HVP modes and the dense product
sum the same O(d) terms in other orders, rounding ~d·eps ≈ 1e-13 at d ≈ 2000."""
SHARD_TOL = 1e-12
"""Float64, :func:`~metatheory.numerics.rel_err_norm`: sharding changes only the order of the
cross-device sum over tasks (~n_tasks·eps)."""


def _fd_hvp(orig):
    """A finite-difference shortcut, (∇f(x+εv) − ∇f(x))/ε, for the exact product."""

    def hvp(f, x, v, mode="fwd-rev"):
        eps = 1e-6
        xe = jax.tree_util.tree_map(lambda a, b: a + eps * b, x, v)
        return jax.tree_util.tree_map(lambda a, b: (a - b) / eps, jax.grad(f)(xe), jax.grad(f)(x))

    return hvp


def _half_rev_rev(orig):
    """Reverse-over-reverse through ½⟨∇f, v⟩ (a factor ½ from a 'symmetrized' inner product)."""

    def hvp(f, x, v, mode="fwd-rev"):
        out = orig(f, x, v, mode)
        return jax.tree_util.tree_map(lambda a: 0.5 * a, out) if mode == "rev-rev" else out

    return hvp


def _first_leaf(orig):
    """The tangent kept on the first leaf only (the others zeroed by a tree-handling bug)."""

    def hvp(f, x, v, mode="fwd-rev"):
        leaves, tree = jax.tree_util.tree_flatten(v)
        leaves = [leaves[0]] + [jnp.zeros_like(a) for a in leaves[1:]]
        return orig(f, x, jax.tree_util.tree_unflatten(tree, leaves), mode)

    return hvp


@claim(
    "S1",
    name="hvp_modes",
    statement="Hessian-vector products by forward-over-reverse and reverse-over-reverse equal "
    "the explicit Hessian product.",
    latex=r"$\partial_\epsilon \nabla f(x+\epsilon v)|_{\epsilon=0} = "
    r"\nabla_x\langle\nabla f(x), v\rangle = \nabla^2 f(x)\,v$",
    source="Pearlmutter 1994",
    evidence="identity",
    cites=["pearlmutter1994fast"],
    experiment=ex.hvp_agreement,
    presets=ex.HVP_MODES_PRESETS,
    seed=2,
    mutants=[
        Mutant(
            "finite-difference",
            "HVP by forward differences of the gradient (ε = 1e-6)",
            "metatheory.autodiff:hvp",
            _fd_hvp,
        ),
        Mutant(
            "rev-rev-half",
            "reverse-over-reverse HVP off by a factor ½",
            "metatheory.autodiff:hvp",
            _half_rev_rev,
        ),
        Mutant(
            "first-leaf-only",
            "tangent kept on the first parameter leaf only",
            "metatheory.autodiff:hvp",
            _first_leaf,
        ),
    ],
)
def check_s1(r: ex.HvpModesResult) -> Verdict:
    worst = max(r.fwd_rev.max(), r.rev_rev.max(), r.fwd_vs_rev.max())
    return Verdict.of(
        [
            Check.at_most("fwd-rev", r.fwd_rev.max(), HVP_TOL, what="rel_err_norm ", digits=2),
            Check.at_most("rev-rev", r.rev_rev.max(), HVP_TOL, what="rel_err_norm ", digits=2),
            Check.at_most("fwd-vs-rev", r.fwd_vs_rev.max(), HVP_TOL, digits=2),
            Check.at_least("control: diag(H)·v", r.control.min(), HVP_TOL, control=True, digits=2),
        ],
        predicted="Hv equal in all three modes",
        measured=f"max rel. err {r.fwd_rev.max():.1e} (fwd-rev), {r.rev_rev.max():.1e} "
        f"(rev-rev), d = {r.n_params}",
        tolerance=f"{HVP_TOL:g} (float64)",
        numbers={
            "fwdrev": r.fwd_rev.max(),
            "revrev": r.rev_rev.max(),
            "dim": r.n_params,
            "control": r.control.min(),
        },
        evidence=r,
        summary=Summary.identity(worst, len(r.fwd_rev), what="random vectors"),
    )


def _scaled_by_devices(orig):
    """The cross-device reduction sums the per-device means (1/n_devices missing)."""

    def sharded(loss_fn, params, supports, queries, *, mesh=None, **kw):
        from metatheory import parallel

        mesh = parallel.task_mesh() if mesh is None else mesh
        g = orig(loss_fn, params, supports, queries, mesh=mesh, **kw)
        return jax.tree_util.tree_map(lambda a: a * mesh.devices.size, g)

    return sharded


def _first_shard(orig):
    """No all-reduce: the gradient of the first device's tasks only."""

    def sharded(loss_fn, params, supports, queries, *, mesh=None, **kw):
        from metatheory import parallel

        mesh = parallel.task_mesh() if mesh is None else mesh
        per = supports[0].shape[0] // mesh.devices.size
        s, q = jax.tree_util.tree_map(lambda a: a[:per], (supports, queries))
        from metatheory.learners import maml

        return maml.batched_maml_meta_gradient(loss_fn, params, s, q, **kw)

    return sharded


@claim(
    "S2",
    name="sharded_meta_gradient",
    statement="A task batch sharded over devices gives the same meta-gradient as one device.",
    latex=r"$\frac1B\sum_{d}\sum_{i\in\mathrm{shard}_d} g_i = \frac1B\sum_{i=1}^B g_i$",
    source="Data parallelism over tasks with jax.sharding (JAX documentation)",
    evidence="identity",
    cites=["bradbury2018jax"],
    experiment=ex.sharded_vs_single,
    presets=ex.SHARDED_META_GRADIENT_PRESETS,
    seed=3,
    mutants=[
        Mutant(
            "sum-over-devices",
            "per-device means summed: 1/n_devices missing",
            "metatheory.parallel:sharded_meta_gradient",
            _scaled_by_devices,
        ),
        Mutant(
            "no-all-reduce",
            "only the first device's tasks: the all-reduce missing",
            "metatheory.parallel:sharded_meta_gradient",
            _first_shard,
        ),
    ],
)
def check_s2(r: ex.ShardedMetaGradientResult) -> Verdict:
    return Verdict.of(
        [
            Check.at_most(
                "sharded-vs-single", r.rel_err, SHARD_TOL, what="rel_err_norm ", digits=2
            ),
            Check(
                "tasks-split",
                "tasks" in r.placement and r.n_devices >= 2,
                r.placement,
                "task axis sharded over ≥ 2 devices",
            ),
            Check.at_least(
                "control: first shard only", r.rel_err_control, SHARD_TOL, control=True, digits=2
            ),
        ],
        predicted=f"sharded over {r.n_devices} devices = one device",
        measured=f"rel. err {r.rel_err:.1e}; task axis placed as {r.placement}",
        tolerance=f"{SHARD_TOL:g} (float64)",
        numbers={"relerr": r.rel_err, "devices": r.n_devices, "control": r.rel_err_control},
        evidence=r,
        summary=Summary.identity(r.rel_err, r.n_devices, what="devices"),
    )
