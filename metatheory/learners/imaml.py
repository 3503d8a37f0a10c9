r"""Implicit MAML (Rajeswaran, Finn, Kakade, Levine 2019), for any ``loss_fn(params, x, y)``.

The inner problem is proximal regularisation towards the meta-parameters,

.. math:: \phi^*(\theta) = \arg\min_\phi\; L_S(\phi) + \tfrac{\lambda}{2}\|\phi-\theta\|^2 .

Its stationarity condition :math:`\nabla L_S(\phi^*) + \lambda(\phi^*-\theta) = 0`, differentiated
in :math:`\theta` (implicit function theorem), gives
:math:`d\phi^*/d\theta = (I + H/\lambda)^{-1}` with :math:`H = \nabla^2 L_S(\phi^*)`, so the
meta-gradient of :math:`L_Q(\phi^*(\theta))` is (iMAML, Lemma 1, Eq. 6; claim G7)

.. math:: g = (I + H/\lambda)^{-1}\,\nabla L_Q(\phi^*),

which needs only :math:`\phi^*`, not the inner trajectory: memory is flat in the number of
inner iterations. :func:`proximal_solve` finds :math:`\phi^*` by L-BFGS with a zoom line search
(``optax.lbfgs``) inside a ``lax.while_loop``, then one Newton-CG step if it helps;
:func:`imaml_meta_gradient` then solves :math:`(I + H/\lambda)\,g = \nabla L_Q(\phi^*)` by
conjugate gradients
(``jax.scipy.sparse.linalg.cg``) on Hessian-vector products (:func:`metatheory.autodiff.hvp`).
CG needs :math:`I + H/\lambda` positive definite, i.e. :math:`\lambda > -\lambda_{\min}(H)`
(always true for convex support losses); a CG direction of non-positive curvature counts as a
CG failure (at a saddle of the proximal objective CG can otherwise stop with a small residual).

Default tolerances depend on the parameters' dtype: ``eps ** 0.75`` (1.8e-12 in float64,
6.4e-6 in float32), relative to the initial gradient norm (inner solve) and to
:math:`\|\nabla L_Q(\phi^*)\|` (CG). When either misses its tolerance (a diverging inner
problem, an iteration cap) :func:`imaml_meta_gradient` returns NaN, never a wrong gradient,
and its :class:`ImamlInfo` says which (``inner_converged``, ``cg_converged``); with
``strict=True`` a concrete call raises instead. A tolerance of 0 asks for exactly
``maxiter`` iterations and is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metatheory.autodiff import HVP_MODES, hvp

__all__ = [
    "proximal_solve",
    "imaml_meta_gradient",
    "batched_imaml_meta_gradient",
    "ImamlInfo",
    "default_tol",
]

PyTree = Any

INNER_MAXITER = 1000
"""Default cap on L-BFGS iterations of the proximal solve (each: one gradient plus line search)."""
LBFGS_MEMORY = 20
"""Default number of (step, gradient-change) pairs L-BFGS keeps."""
POLISH_CG_MAXITER = 100
"""CG iterations of the final Newton step of the proximal solve."""
CG_RESIDUAL_SLACK = 10.0
r"""The recomputed CG residual :math:`\|(I+H/\lambda)g - b\|/\|b\|` may exceed ``cg_tol`` by
this factor before it counts as a miss: CG stops on its recursively updated residual, which
drifts from the true one by a few roundoff units times the condition number."""


def default_tol(params: PyTree) -> float:
    """``eps ** 0.75`` of the parameters' floating dtype (1.8e-12 float64, 6.4e-6 float32):
    well above the roundoff floor of a gradient norm, well below any error that matters."""
    leaves = jax.tree_util.tree_leaves(params)
    dtype = jnp.result_type(*leaves) if leaves else jnp.zeros(()).dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.zeros(()).dtype
    return float(jnp.finfo(dtype).eps) ** 0.75


def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_lam(lam):
    if _concrete(lam):
        a = np.asarray(lam, dtype=np.float64)
        if a.shape != () or not np.isfinite(a) or a <= 0:
            raise ValueError(f"lam must be a finite scalar > 0, got {lam!r}")


def _check_tol(name, tol):
    if tol is not None and _concrete(tol):
        a = np.asarray(tol, dtype=np.float64)
        if a.shape != () or not np.isfinite(a) or a < 0:
            raise ValueError(f"{name} must be a finite scalar >= 0, got {tol!r}")


def _check_iter(name, n, allow_none=False):
    if (n is None and allow_none) or not _concrete(n):
        return
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")


def _check_pair(name, pair):
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        raise ValueError(f"{name} must be an (x, y) pair, got {type(pair).__name__}")


def _sq_norm(tree):
    return sum(jnp.vdot(a, a).real for a in jax.tree_util.tree_leaves(tree))


def proximal_solve(
    loss_fn,
    params: PyTree,
    support,
    *,
    lam,
    tol: float | None = None,
    maxiter: int = INNER_MAXITER,
    memory_size: int = LBFGS_MEMORY,
    init: PyTree | None = None,
):
    r"""``(phi_star, n_iter, grad_norm)`` of the proximal inner problem.

    :math:`\phi^* = \arg\min_\phi L_S(\phi) + \frac{\lambda}{2}\|\phi-\theta\|^2` by
    L-BFGS (``optax.lbfgs``, zoom line search) from ``init`` (default ``params``) until the
    proximal objective's gradient norm is ``<= tol`` times its initial value (``tol=None``:
    :func:`default_tol`; ``tol=0`` runs exactly ``maxiter`` iterations) or ``maxiter`` is
    reached; then one Newton step (CG on Hessian-vector products, at most
    ``POLISH_CG_MAXITER`` iterations), kept only if it lowers the gradient norm.
    ``grad_norm`` is the final gradient norm; check it when convergence matters.
    """
    _check_pair("support", support)
    _check_lam(lam)
    _check_tol("tol", tol)
    _check_iter("maxiter", maxiter)
    _check_iter("memory_size", memory_size)
    tol = default_tol(params) if tol is None else tol
    init = params if init is None else init
    return _prox(loss_fn, params, tuple(support), lam, tol, maxiter, int(memory_size), init)


@partial(jax.jit, static_argnums=(0, 6))
def _prox(loss_fn, params, support, lam, tol, maxiter, memory_size, init=None):
    x, y = support
    params = jax.lax.stop_gradient(params)

    def objective(phi):
        diff = jax.tree_util.tree_map(jnp.subtract, phi, params)
        return loss_fn(phi, x, y) + 0.5 * lam * _sq_norm(diff)

    opt = optax.lbfgs(memory_size=memory_size)
    value_and_grad = optax.value_and_grad_from_state(objective)
    phi0 = params if init is None else init
    g0 = jnp.sqrt(_sq_norm(jax.grad(objective)(phi0)))
    stop = tol * g0

    def step(carry):
        phi, state, k, _ = carry
        value, grad = value_and_grad(phi, state=state)
        updates, state = opt.update(grad, state, phi, value=value, grad=grad, value_fn=objective)
        phi = optax.apply_updates(phi, updates)
        gnorm = optax.tree_utils.tree_norm(optax.tree_utils.tree_get(state, "grad"))
        return phi, state, k + 1, gnorm

    def cont(carry):
        _, _, k, gnorm = carry
        return (k < maxiter) & (gnorm > stop)

    carry = (phi0, opt.init(phi0), jnp.asarray(0), g0)
    phi, _, n_iter, gnorm = jax.lax.while_loop(cont, step, carry)

    # One Newton step by CG on Hessian-vector products, kept only if it lowers the gradient
    # norm: exact (to CG precision) on quadratic losses, where L-BFGS's line search stalls
    # above the roundoff floor in float32; never worse than the L-BFGS iterate.
    grad = jax.grad(objective)(phi)
    step_, _ = jax.scipy.sparse.linalg.cg(
        lambda v: hvp(objective, phi, v), grad, tol=tol, maxiter=POLISH_CG_MAXITER
    )
    polished = jax.tree_util.tree_map(jnp.subtract, phi, step_)
    gnorm_p = jnp.sqrt(_sq_norm(jax.grad(objective)(polished)))
    better = jnp.isfinite(gnorm_p) & (gnorm_p < gnorm)
    phi = jax.tree_util.tree_map(lambda a, b: jnp.where(better, a, b), polished, phi)
    return phi, n_iter, jnp.where(better, gnorm_p, gnorm)


@dataclass
class ImamlInfo:
    """Diagnostics of one :func:`imaml_meta_gradient` call."""

    phi: PyTree  # the proximal solution phi*
    inner_iters: jax.Array  # L-BFGS iterations used
    inner_grad_norm: jax.Array  # final gradient norm of the proximal objective
    cg_residual: jax.Array  # ||(I + H/lam) g - grad L_Q(phi*)|| / ||grad L_Q(phi*)||
    inner_converged: jax.Array = True  # inner_grad_norm <= inner_tol * initial norm (finite)
    cg_converged: jax.Array = True  # cg_residual <= CG_RESIDUAL_SLACK * cg_tol (finite), and
    # every CG direction had positive curvature (I + H/lam positive definite along them)
    cg_min_curvature: jax.Array = float("inf")  # min p^T (I + H/lam) p / p^T p over CG's p

    @property
    def converged(self):
        """Both the inner solve and CG met their tolerances (the gradient is not NaN)."""
        return jnp.logical_and(self.inner_converged, self.cg_converged)


jax.tree_util.register_dataclass(
    ImamlInfo,
    data_fields=[
        "phi",
        "inner_iters",
        "inner_grad_norm",
        "cg_residual",
        "inner_converged",
        "cg_converged",
        "cg_min_curvature",
    ],
    meta_fields=[],
)


def imaml_meta_gradient(
    loss_fn,
    params: PyTree,
    support,
    query,
    *,
    lam,
    inner_tol: float | None = None,
    inner_maxiter: int = INNER_MAXITER,
    cg_tol: float | None = None,
    cg_maxiter: int | None = None,
    hvp_mode: str = "fwd-rev",
    return_info: bool = False,
    strict: bool = False,
):
    r"""iMAML meta-gradient :math:`(I + H/\lambda)^{-1}\nabla L_Q(\phi^*)` of one task.

    ``support`` and ``query`` are ``(x, y)`` pairs; the result is shaped like ``params``.
    ``lam > 0`` is the proximal strength :math:`\lambda`. The inner problem is solved by
    :func:`proximal_solve` to ``inner_tol`` (gradient norm relative to its initial value) in
    at most ``inner_maxiter`` iterations; the linear system by CG to ``cg_tol`` (relative
    residual) in at most ``cg_maxiter`` iterations (default ``10 * size``); ``None`` means
    :func:`default_tol`. If either misses its tolerance the gradient is NaN (a diverging
    inner problem or a cap that is too low, never a silently wrong gradient); with
    ``strict=True`` a concrete (not traced) call raises ``RuntimeError`` instead.
    ``return_info=True`` also returns an :class:`ImamlInfo` (which solve missed, by how much).
    """
    _check_pair("support", support)
    _check_pair("query", query)
    _check_lam(lam)
    _check_tol("inner_tol", inner_tol)
    _check_tol("cg_tol", cg_tol)
    _check_iter("inner_maxiter", inner_maxiter)
    _check_iter("cg_maxiter", cg_maxiter, allow_none=True)
    if hvp_mode not in HVP_MODES:
        raise ValueError(f"hvp_mode must be one of {HVP_MODES}, got {hvp_mode!r}")
    cg_tol = default_tol(params) if cg_tol is None else cg_tol
    inner_tol = default_tol(params) if inner_tol is None else inner_tol
    g, info = _imaml(
        loss_fn,
        params,
        tuple(support),
        tuple(query),
        lam,
        inner_tol,
        cg_tol,
        inner_maxiter=inner_maxiter,
        cg_maxiter=None if cg_maxiter is None else int(cg_maxiter),
        hvp_mode=hvp_mode,
    )
    if strict and _concrete(info.inner_converged) and not bool(info.converged):
        raise RuntimeError(
            "imaml_meta_gradient missed its tolerance: "
            f"inner solve {'ok' if bool(info.inner_converged) else 'FAILED'} "
            f"(gradient norm {float(info.inner_grad_norm):.3g} after "
            f"{int(info.inner_iters)} iterations, inner_tol {float(inner_tol):.3g} relative), "
            f"CG {'ok' if bool(info.cg_converged) else 'FAILED'} "
            f"(relative residual {float(info.cg_residual):.3g}, cg_tol {float(cg_tol):.3g}, "
            f"smallest curvature {float(info.cg_min_curvature):.3g}: "
            "I + H/lam must be positive definite)"
        )
    return (g, info) if return_info else g


def _vdot_real_tree(x, y):
    dot = partial(jnp.vdot, precision=jax.lax.Precision.HIGHEST)
    return sum(jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda a, b: dot(a, b), x, y)))


def _cg(A, b, *, tol, maxiter):
    """Conjugate gradients from 0, the iteration of ``jax.scipy.sparse.linalg.cg`` (same
    operations, no preconditioner), also returning the smallest curvature
    :math:`p^\top A p / p^\top p` along its search directions. CG needs ``A`` positive
    definite; a direction of curvature <= 0 shows it is not (e.g. ``I + H/lam`` at a saddle),
    and the iterate then solves nothing the theory states."""
    tm = jax.tree_util.tree_map
    if maxiter is None:
        maxiter = 10 * sum(leaf.size for leaf in jax.tree_util.tree_leaves(b))
    x0 = tm(jnp.zeros_like, b)
    bs = _vdot_real_tree(b, b)
    atol2 = jnp.maximum(jnp.square(tol) * bs, 0.0)
    r0 = tm(jnp.subtract, b, A(x0))
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(r0))
    gamma0 = _vdot_real_tree(r0, r0).astype(dtype)

    def cond(value):
        _, _, gamma, _, k, _ = value
        return (gamma.real > atol2) & (k < maxiter)

    def body(value):
        x, r, gamma, p, k, curv = value
        Ap = A(p)
        pAp = _vdot_real_tree(p, Ap)
        alpha = gamma / pAp.astype(dtype)
        x_ = tm(jnp.add, x, tm(lambda a: alpha * a, p))
        r_ = tm(jnp.subtract, r, tm(lambda a: alpha * a, Ap))
        gamma_ = _vdot_real_tree(r_, r_).astype(dtype)
        beta_ = gamma_ / gamma
        p_ = tm(jnp.add, r_, tm(lambda a: beta_ * a, p))
        curv = jnp.minimum(curv, pAp / _vdot_real_tree(p, p))
        return x_, r_, gamma_, p_, k + 1, curv

    init = (x0, r0, gamma0, r0, 0, jnp.asarray(jnp.inf, dtype))
    x, *_, curv = jax.lax.while_loop(cond, body, init)
    return x, curv


@partial(
    jax.jit,
    static_argnames=("loss_fn", "cg_maxiter", "hvp_mode"),
)
def _imaml(
    loss_fn,
    params,
    support,
    query,
    lam,
    inner_tol,
    cg_tol,
    inner_maxiter,
    *,
    cg_maxiter,
    hvp_mode,
):
    # jitted with loss_fn static, so repeated calls with the same loss reuse the compilation
    phi, n_iter, gnorm = _prox(
        loss_fn, params, support, lam, inner_tol, inner_maxiter, LBFGS_MEMORY
    )
    xs, ys = support
    g_q = jax.grad(loss_fn)(phi, *query)

    def matvec(v):
        hv = hvp(lambda p: loss_fn(p, xs, ys), phi, v, hvp_mode)
        return jax.tree_util.tree_map(lambda a, b: a + b / lam, v, hv)

    g, curvature = _cg(matvec, g_q, tol=cg_tol, maxiter=cg_maxiter)
    r = jax.tree_util.tree_map(jnp.subtract, matvec(g), g_q)
    res = jnp.sqrt(_sq_norm(r) / jnp.maximum(_sq_norm(g_q), jnp.finfo(gnorm.dtype).tiny))
    # the stated tolerances (0: a fixed iteration count, not checked); NaN norms fail
    g0 = jnp.sqrt(_sq_norm(jax.grad(loss_fn)(jax.lax.stop_gradient(params), xs, ys)))
    inner_ok = (inner_tol == 0) | (jnp.isfinite(gnorm) & (gnorm <= inner_tol * g0))
    # a search direction of non-positive curvature: I + H/lam is not positive definite (phi*
    # is a saddle of the proximal objective), and CG's answer is no solution of the theory
    cg_ok = ((cg_tol == 0) | (jnp.isfinite(res) & (res <= CG_RESIDUAL_SLACK * cg_tol))) & (
        curvature > 0
    )
    ok = (
        inner_ok
        & cg_ok
        & jnp.all(jnp.asarray([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(g)]))
    )
    g = jax.tree_util.tree_map(lambda a: jnp.where(ok, a, jnp.nan), g)
    return g, ImamlInfo(phi, n_iter, gnorm, res, inner_ok, cg_ok, curvature)


def batched_imaml_meta_gradient(
    loss_fn, params: PyTree, supports, queries, *, lam, return_info: bool = False, **kw
):
    """Mean over a leading task axis of :func:`imaml_meta_gradient` (tasks vectorized with
    vmap); keyword arguments as there. With ``return_info`` the info fields carry the task
    axis. A task whose solve missed its tolerance makes the mean NaN."""
    _check_pair("supports", supports)
    _check_pair("queries", queries)
    _check_lam(lam)

    def one(s, q):
        return imaml_meta_gradient(loss_fn, params, s, q, lam=lam, return_info=return_info, **kw)

    out = jax.vmap(one)(tuple(supports), tuple(queries))
    if return_info:
        g, info = out
        return jax.tree_util.tree_map(lambda a: jnp.mean(a, axis=0), g), info
    return jax.tree_util.tree_map(lambda a: jnp.mean(a, axis=0), out)
