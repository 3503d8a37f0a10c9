r"""G7 ``implicit_maml``: implicit MAML (Rajeswaran et al. 2019), all in float64.

1. :func:`exact_and_fd`: :func:`metatheory.imaml_meta_gradient` against the closed-form solve
   on linear-regression tasks, and against central finite differences of the proximal solution
   (the Jacobian :math:`d\phi^*/d\theta` on quadratics; :math:`L_Q(\phi^*(\theta))` on a smooth
   tanh MLP).
2. :func:`unrolled_limit`: unrolled gradient descent on the proximal objective, differentiated
   through its :math:`N` steps, tends to the implicit gradient at the predicted rate
   :math:`\rho = \max_i|1-\alpha(\lambda+h_i)|` (:func:`metatheory.symbolic.imaml.derive_unrolled`).
3. :func:`cg_convergence`: the CG error in the :math:`A`-norm, :math:`A = I + H/\lambda`, per
   iteration (the check compares it with :func:`metatheory.bounds.imaml.cg_error_bound`), on
   the test value :math:`H = \mathrm{diag}(1, 10, 100)`, :math:`\lambda = 1`, on a Chebyshev
   spectrum spread over :math:`[1, 100]` and on the MLP's own system.
4. :func:`~metatheory.experiments.imaml.imaml_memory`: compiled memory of an iMAML meta step,
   one program per inner-step count (shared with G6's memory sweep).

:func:`implicit_maml` gathers the four for claim G7. Errors are
:func:`metatheory.numerics.rel_err_norm`, :math:`\|a-b\|/\|b\|`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from metatheory import nets
from metatheory.experiments import experiment
from metatheory.experiments._compiled import MEMORY_SEED, MemoryConfig
from metatheory.experiments.imaml._common import (
    ImamlMemoryResult,
    cg_errors,
    closed_form,
    imaml_memory,
    phi_star,
    sinusoid_task,
    tanh_hessian,
)
from metatheory.learners.imaml import imaml_meta_gradient
from metatheory.numerics import flatten, rel_err_norm, tanh_mse
from metatheory.tasks import linear

__all__ = [
    "ImplicitMamlConfig",
    "IMPLICIT_MAML_PRESETS",
    "ImamlExactResult",
    "exact_and_fd",
    "ImamlUnrolledResult",
    "unrolled_limit",
    "ImamlCGResult",
    "cg_convergence",
    "ImplicitMamlResult",
    "implicit_maml",
]


@dataclass(frozen=True)
class ImplicitMamlConfig:
    lams: tuple[float, ...] = (0.1, 1.0, 10.0)
    n_tasks: int = 3  # linear-regression tasks per lambda
    d: int = 6
    m: int = 12
    n_directions: int = 4
    fd_step_quad: float = 1e-3  # phi* is linear in theta on quadratics: no truncation error
    fd_step_mlp: float = 1e-4
    mlp_sizes: tuple[int, ...] = (1, 8, 8, 1)
    mlp_lam: float = 2.0
    k_shot: int = 10
    unrolled_floor: float = 1e-11  # stop the unrolled sweep where rho^N reaches this
    unrolled_max: int = 3000
    cg_test_eigs: tuple[float, ...] = (1.0, 10.0, 100.0)  # test value, lambda = 1
    cg_spread_dim: int = 100
    cg_iters: int = 40
    # G6's quick memory sweep (shared through the cache): fixed shapes w = 16, B = 8
    memory: MemoryConfig = field(default_factory=lambda: MemoryConfig(widths=(16,), n_tasks=(8,)))


IMPLICIT_MAML_PRESETS = {
    "quick": ImplicitMamlConfig(),
    "full": ImplicitMamlConfig(
        n_tasks=16,
        n_directions=16,
        mlp_sizes=(1, 16, 16, 1),
        cg_spread_dim=400,
        memory=MemoryConfig(
            n_inner=tuple(range(1, 11)),
            imaml_n_inner=(1, 5, 10),
            widths=(40,),
            n_tasks=(25,),
        ),
    ),
}
"""The memory configs equal :data:`metatheory.experiments.cost.MAML_MEMORY_PRESETS` (a unit test
checks it), so G7's memory sub-check reads the sweep G6 compiled."""


@dataclass(frozen=True, kw_only=True)
class ImamlExactResult:
    lams: np.ndarray
    exact: np.ndarray  # max rel. err vs the closed-form solve, per lambda
    exact_control: np.ndarray  # min rel. err of the first-order grad L_Q(phi*), per lambda
    jac_fd: np.ndarray  # max rel. err of (I+H/lam)^{-1} v vs FD of phi*, per lambda
    jac_fd_control: np.ndarray  # min rel. err of v (Jacobian = I, no inverse) vs FD
    mlp_fd: float  # max |FD - <g, v>| / ||g|| on the tanh MLP
    mlp_fd_control: float  # same with the first-order grad L_Q(phi*)
    mlp_min_eig: float  # smallest eigenvalue of H + lam I at phi* (must be > 0)
    inner_grad_norm: float  # largest final gradient norm of the proximal solves


@experiment
def exact_and_fd(config: ImplicitMamlConfig, key: jax.Array) -> ImamlExactResult:
    """G7 (1): the closed-form solve and finite differences of the proximal solution."""
    with jax.enable_x64(True):
        c = config
        k_lin, k_th, k_dir, k_mlp, k_dat = jax.random.split(key, 5)
        exact, exact_ctl, jfd, jfd_ctl, gnorms = [], [], [], [], []
        xs, ys, _ = linear.sample_tasks(k_lin, 2 * c.n_tasks, c.m, c.d)
        for li, lam in enumerate(c.lams):
            e, ec, j, jc = [], [], [], []
            for t in range(c.n_tasks):
                s, q = (xs[2 * t], ys[2 * t]), (xs[2 * t + 1], ys[2 * t + 1])
                theta = jax.random.normal(jax.random.fold_in(k_th, 100 * li + t), (c.d,))
                g, info = imaml_meta_gradient(linear.loss, theta, s, q, lam=lam, return_info=True)
                phi, g_ex, gq, h = closed_form(theta, s, q, lam)
                gnorms.append(float(info.inner_grad_norm))
                e.append(rel_err_norm(g, g_ex))
                ec.append(rel_err_norm(gq, g_ex))
                jac = np.linalg.inv(np.eye(c.d) + h / lam)
                dirs = jax.random.normal(jax.random.fold_in(k_dir, 100 * li + t), (2, c.d))
                for v in dirs[: c.n_directions]:
                    hh = c.fd_step_quad
                    plus = phi_star(linear.loss, theta + hh * v, s, q, lam)
                    minus = phi_star(linear.loss, theta - hh * v, s, q, lam)
                    fd = (np.asarray(plus) - np.asarray(minus)) / (2 * hh)
                    j.append(rel_err_norm(jac @ np.asarray(v), fd))
                    jc.append(rel_err_norm(np.asarray(v), fd))
            exact.append(max(e))
            exact_ctl.append(min(ec))
            jfd.append(max(j))
            jfd_ctl.append(min(jc))

        params = nets.init(k_mlp, c.mlp_sizes, jnp.float64)
        s, q = sinusoid_task(k_dat, c.k_shot)
        lam = c.mlp_lam
        g, info = imaml_meta_gradient(tanh_mse, params, s, q, lam=lam, return_info=True)
        gnorms.append(float(info.inner_grad_norm))
        g_fo = jax.grad(tanh_mse)(info.phi, *q)
        flat, unravel = ravel_pytree(params)
        gf, gfo = np.asarray(flatten(g)), np.asarray(flatten(g_fo))
        hess = np.asarray(tanh_hessian(info.phi, *s))
        min_eig = float(np.linalg.eigvalsh(hess).min() + lam)

        def meta(z):
            phi = phi_star(tanh_mse, unravel(z), s, q, lam)
            return float(tanh_mse(phi, *q))

        dirs = jax.random.normal(jax.random.fold_in(k_dir, 999), (c.n_directions, flat.size))
        dirs = np.asarray(dirs / jnp.linalg.norm(dirs, axis=1, keepdims=True))
        hh = c.fd_step_mlp
        fds = np.array([(meta(flat + hh * v) - meta(flat - hh * v)) / (2 * hh) for v in dirs])
        return ImamlExactResult(
            lams=np.array(c.lams),
            exact=np.array(exact),
            exact_control=np.array(exact_ctl),
            jac_fd=np.array(jfd),
            jac_fd_control=np.array(jfd_ctl),
            mlp_fd=float(np.max(np.abs(fds - dirs @ gf)) / np.linalg.norm(gf)),
            mlp_fd_control=float(np.max(np.abs(fds - dirs @ gfo)) / np.linalg.norm(gf)),
            mlp_min_eig=min_eig,
            inner_grad_norm=max(gnorms),
        )


@partial(jax.jit, static_argnames=("loss_fn", "n_max"))
def _unrolled_grads(loss_fn, theta, support, query, *, lam, alpha, n_max):
    """``g_N`` for ``N = 1..n_max``: the gradient in ``theta`` of ``L_Q(phi_N)``, ``phi_N`` after
    ``N`` gradient steps on ``L_S + lam/2 ||phi - theta||^2`` from ``phi_0 = theta``.

    Forward mode through one ``lax.scan`` (the Jacobian ``d phi_N / d theta`` is carried along),
    so every ``N`` comes from one compiled sweep (``lam`` and ``alpha`` are runtime arguments);
    it is the same derivative that reverse-mode unrolled MAML computes."""
    flat, unravel = ravel_pytree(theta)

    def prox_grad(phi, th):
        f = lambda z: loss_fn(unravel(z), *support) + 0.5 * lam * jnp.sum((z - th) ** 2)
        return jax.grad(f)(phi)

    def step(phi, th):
        return phi - alpha * prox_grad(phi, th)

    def body(carry, _):
        phi, jac = carry
        # d/dtheta of step(phi(theta), theta) = D_phi step . jac + D_theta step
        dphi = jax.vmap(lambda col: jax.jvp(lambda p: step(p, flat), (phi,), (col,))[1], 1, 1)(jac)
        dth = jax.jacfwd(lambda th: step(phi, th))(flat)
        phi = step(phi, flat)
        jac = dphi + dth
        gq = jax.grad(lambda z: loss_fn(unravel(z), *query))(phi)
        return (phi, jac), jac.T @ gq

    (_, _), gs = jax.lax.scan(body, (flat, jnp.eye(flat.size)), None, length=n_max)
    return gs


@dataclass(frozen=True, kw_only=True)
class ImamlUnrolledResult:
    n: np.ndarray  # 1..N_max, quadratic task
    err: np.ndarray  # rel. error of unrolled MAML vs iMAML, per N (quadratic)
    rho: float  # predicted rate max_i |1 - alpha (lam + h_i)|
    rho_fit: float  # exp(slope) of log err vs N over the fitted window
    fit_lo: int  # fitted window [fit_lo, fit_hi]
    fit_hi: int
    rho_control: float  # the rate without the proximal term, max_i |1 - alpha h_i|
    mlp_n: np.ndarray
    mlp_err: np.ndarray  # same on the tanh MLP
    mlp_rho: float  # predicted from the Hessian at phi*
    plain_err: float  # unrolled MAML on L_S alone (no proximal term) vs iMAML, at N_max


@experiment
def unrolled_limit(config: ImplicitMamlConfig, key: jax.Array) -> ImamlUnrolledResult:
    """G7 (2): unrolled MAML on the proximal objective converges to the implicit gradient."""
    with jax.enable_x64(True):
        c = config
        k_lin, k_th, k_mlp, k_dat = jax.random.split(key, 4)
        xs, ys, _ = linear.sample_tasks(k_lin, 2, c.m, c.d)
        s, q = (xs[0], ys[0]), (xs[1], ys[1])
        theta = jax.random.normal(k_th, (c.d,))
        lam = 1.0
        hs = np.linalg.eigvalsh(linear.hessian(xs[0]))
        alpha = 1.0 / (lam + hs.max())
        rho = float(np.max(np.abs(1 - alpha * (lam + hs))))
        n_max = int(min(c.unrolled_max, np.ceil(np.log(c.unrolled_floor) / np.log(rho))))
        g_star = np.asarray(
            imaml_meta_gradient(linear.loss, theta, s, q, lam=lam, return_info=True)[0]
        )
        gs = np.asarray(
            _unrolled_grads(linear.loss, theta, s, q, lam=lam, alpha=alpha, n_max=n_max)
        )
        err = np.linalg.norm(gs - g_star, axis=1) / np.linalg.norm(g_star)
        n = np.arange(1, n_max + 1)
        # fit the tail where the slowest mode dominates: err from 1e-3 down to the floor
        lo = int(np.ceil(np.log(1e-3) / np.log(rho)))
        window = (n >= lo) & (err > 100 * c.unrolled_floor)
        slope = np.polyfit(n[window], np.log(err[window]), 1)[0]
        rho_ctl = float(np.max(np.abs(1 - alpha * hs)))

        params = nets.init(k_mlp, c.mlp_sizes, jnp.float64)
        ms, mq = sinusoid_task(k_dat, c.k_shot)
        mlam = c.mlp_lam
        g_mlp, info = imaml_meta_gradient(tanh_mse, params, ms, mq, lam=mlam, return_info=True)
        g_mlp = np.asarray(flatten(g_mlp))
        h_eigs = np.linalg.eigvalsh(np.asarray(tanh_hessian(info.phi, *ms)))
        m_alpha = 1.0 / (mlam + h_eigs.max())
        m_rho = float(np.max(np.abs(1 - m_alpha * (mlam + h_eigs))))
        m_max = int(min(c.unrolled_max, np.ceil(np.log(c.unrolled_floor) / np.log(m_rho))))
        mg = np.asarray(
            _unrolled_grads(tanh_mse, params, ms, mq, lam=mlam, alpha=m_alpha, n_max=m_max)
        )
        m_err = np.linalg.norm(mg - g_mlp, axis=1) / np.linalg.norm(g_mlp)
        plain = np.asarray(
            _unrolled_grads(tanh_mse, params, ms, mq, lam=0.0, alpha=m_alpha, n_max=m_max)[-1]
        )
        return ImamlUnrolledResult(
            n=n,
            err=err,
            rho=rho,
            rho_fit=float(np.exp(slope)),
            fit_lo=int(n[window][0]),
            fit_hi=int(n[window][-1]),
            rho_control=rho_ctl,
            mlp_n=np.arange(1, m_max + 1),
            mlp_err=m_err,
            mlp_rho=m_rho,
            plain_err=rel_err_norm(plain, g_mlp),
        )


@dataclass(frozen=True, kw_only=True)
class ImamlCGResult:
    names: tuple[str, ...]  # "test value", "spread", "MLP"
    hessian_eigs: tuple[np.ndarray, ...]  # eigenvalues of H, per problem
    lams: np.ndarray  # lambda, per problem (A = I + H / lambda)
    errors: tuple[np.ndarray, ...]  # A-norm error ratio per iteration k = 0..K
    test_exact_iters: int  # first k with error <= 1e-12 on the test value


@experiment
def cg_convergence(config: ImplicitMamlConfig, key: jax.Array) -> ImamlCGResult:
    """G7 (3): CG's A-norm error against the rate bound on three systems ``I + H/lam``."""
    with jax.enable_x64(True):
        c = config
        k_b, k_mlp, k_dat = jax.random.split(key, 3)
        problems = []  # (name, eigenvalues of H (or H itself), lambda, b, iterations)
        # test value: H = diag(1, 10, 100), lambda = 1, b = ones
        h = np.array(c.cg_test_eigs)
        problems.append(("test value", np.diag(h), 1.0, np.ones(h.size), h.size + 2))
        # eigenvalues of H at Chebyshev points of [1, 100] (CG's worst case), lambda = 1
        d = c.cg_spread_dim
        cheb = 0.5 * (1 + 100) + 0.5 * (100 - 1) * np.cos(np.pi * (np.arange(d) + 0.5) / d)
        b = np.asarray(jax.random.normal(k_b, (d,)))
        problems.append(("spread", np.diag(cheb), 1.0, b, c.cg_iters))
        # the MLP's own iMAML system at phi*
        params = nets.init(k_mlp, c.mlp_sizes, jnp.float64)
        s, q = sinusoid_task(k_dat, c.k_shot)
        phi = phi_star(tanh_mse, params, s, q, c.mlp_lam)
        hess = np.asarray(tanh_hessian(phi, *s))
        gq = np.asarray(flatten(jax.grad(tanh_mse)(phi, *q)))
        problems.append(("MLP", 0.5 * (hess + hess.T), c.mlp_lam, gq, c.cg_iters))
        names, eigs, lams, errors = [], [], [], []
        for name, hm, lam, b, k in problems:
            names.append(name)
            eigs.append(np.linalg.eigvalsh(hm))
            lams.append(lam)
            errors.append(cg_errors(np.eye(hm.shape[0]) + hm / lam, b, k))
        exact = int(np.argmax(errors[0] <= 1e-12)) if np.any(errors[0] <= 1e-12) else -1
        return ImamlCGResult(
            names=tuple(names),
            hessian_eigs=tuple(eigs),
            lams=np.array(lams),
            errors=tuple(errors),
            test_exact_iters=exact,
        )


@dataclass(frozen=True, kw_only=True)
class ImplicitMamlResult:
    exact: ImamlExactResult
    unrolled: ImamlUnrolledResult
    cg: ImamlCGResult
    memory: ImamlMemoryResult


@experiment
def implicit_maml(config: ImplicitMamlConfig, key: jax.Array) -> ImplicitMamlResult:
    """G7: the exact solve and finite differences, the unrolled limit and CG's convergence on
    instances drawn by ``key``; iMAML's memory from G6's sweep (key ``MEMORY_SEED``)."""
    k_ex, k_un, k_cg = jax.random.split(key, 3)
    return ImplicitMamlResult(
        exact=exact_and_fd(config, k_ex),
        unrolled=unrolled_limit(config, k_un),
        cg=cg_convergence(config, k_cg),
        memory=imaml_memory(config.memory, jax.random.key(MEMORY_SEED)),
    )
