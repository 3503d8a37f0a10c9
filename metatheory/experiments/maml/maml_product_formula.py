r"""G1 ``maml_product_formula``: the MAML meta-gradient equals the product
:math:`(I-\alpha H_0)\cdots(I-\alpha H_{N-1})\nabla L_Q(\theta_N)` (Finn et al. 2017,
Sec. 2.2; chain rule).

Autodiff vs the closed form on linear regression, vs central finite differences on a sinusoid
MLP, and vmap over tasks vs a plain loop; all in float64. Errors are
:func:`metatheory.numerics.rel_err_norm`, :math:`\|a-b\|/\|b\|`, unless a field says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from metatheory import nets
from metatheory.experiments import experiment
from metatheory.experiments.maml._common import flat, sinusoid_batch
from metatheory.learners.maml import (
    batched_maml_meta_gradient,
    maml_meta_gradient,
    maml_meta_loss,
)
from metatheory.numerics import rel_err_norm
from metatheory.tasks import linear

__all__ = [
    "MamlProductFormulaConfig",
    "MAML_PRODUCT_FORMULA_PRESETS",
    "MamlProductFormulaResult",
    "product_formula",
]


@dataclass(frozen=True)
class MamlProductFormulaConfig:
    n_inner: tuple[int, ...] = (1, 2, 5, 10)
    n_tasks: int = 4  # linear-regression tasks per N
    d: int = 6
    m: int = 12
    alpha: float = 0.1
    mlp_sizes: tuple[int, ...] = (1, 8, 8, 1)
    mlp_alpha: float = 0.01
    k_shot: int = 10
    n_directions: int = 6
    fd_step: float = 1e-5
    loop_tasks: int = 5


MAML_PRODUCT_FORMULA_PRESETS = {
    "quick": MamlProductFormulaConfig(n_inner=(1, 3, 6), n_tasks=3, n_directions=4, loop_tasks=3),
    "full": MamlProductFormulaConfig(
        n_tasks=32, mlp_sizes=(1, 40, 40, 1), mlp_alpha=1e-3, n_directions=32, loop_tasks=25
    ),
}
"""Full: Finn's width; with He-scaled weights the support-loss curvature reaches several
hundred on large-amplitude tasks, so ten steps of alpha = 0.01 diverge; alpha = 1e-3 keeps
alpha * L < 2."""


@dataclass(frozen=True, kw_only=True)
class MamlProductFormulaResult:
    n_inner: np.ndarray
    closed: np.ndarray  # max rel. error, autodiff vs (I - aH)^N grad L_Q(theta_N), per N
    closed_control: np.ndarray  # same, the prediction without the Hessian factor
    fd: np.ndarray  # max |FD - <g, v>| / ||g|| on the MLP, per N
    fd_control: np.ndarray  # same with the first-order gradient as the prediction
    loop: float  # batched (vmap) vs plain per-task loop, rel. error


@experiment
def product_formula(config: MamlProductFormulaConfig, key: jax.Array) -> MamlProductFormulaResult:
    """G1: autodiff meta-gradient vs closed form, vs finite differences, vs a plain loop."""
    with jax.enable_x64(True):
        k_lin, k_mlp, k_dat, k_dir = jax.random.split(key, 4)
        c = config
        closed, closed_ctl, fd, fd_ctl = [], [], [], []
        for n in c.n_inner:
            xs, ys, _ = linear.sample_tasks(jax.random.fold_in(k_lin, n), 2 * c.n_tasks, c.m, c.d)
            theta0 = np.asarray(jax.random.normal(jax.random.fold_in(k_lin, 1000 + n), (c.d,)))
            grads = jax.jit(
                jax.vmap(
                    lambda xs_, ys_, xq, yq, n=n, theta0=theta0: maml_meta_gradient(
                        linear.loss,
                        jnp.asarray(theta0),
                        (xs_, ys_),
                        (xq, yq),
                        alpha=c.alpha,
                        n_inner=n,
                    )
                )
            )(xs[0::2], ys[0::2], xs[1::2], ys[1::2])
            errs, ctl = [], []
            for t in range(c.n_tasks):
                (xs_, ys_), (xq, yq) = (xs[2 * t], ys[2 * t]), (xs[2 * t + 1], ys[2 * t + 1])
                theta_n = linear.gd_iterates(theta0, xs_, ys_, alpha=c.alpha, n_steps=n)[-1]
                gq = linear.gradient(theta_n, xq, yq)
                jac = np.linalg.matrix_power(np.eye(c.d) - c.alpha * linear.hessian(xs_), n)
                errs.append(rel_err_norm(grads[t], jac @ gq))
                ctl.append(rel_err_norm(grads[t], gq))
            closed.append(max(errs))
            closed_ctl.append(min(ctl))

            params = nets.init(jax.random.fold_in(k_mlp, n), c.mlp_sizes)
            (s, q) = sinusoid_batch(jax.random.fold_in(k_dat, n), 1, c.k_shot)
            s, q = jax.tree_util.tree_map(lambda a: a[0], (s, q))
            flat0, unravel = ravel_pytree(params)

            def meta(z, first_order=False, n=n, s=s, q=q, unravel=unravel):
                return maml_meta_loss(
                    nets.mse_loss,
                    unravel(z),
                    s,
                    q,
                    alpha=c.mlp_alpha,
                    n_inner=n,
                    first_order=first_order,
                )

            dirs = jax.random.normal(jax.random.fold_in(k_dir, n), (c.n_directions, flat0.size))
            dirs = dirs / jnp.linalg.norm(dirs, axis=1, keepdims=True)

            @jax.jit
            def evidence(z, dirs, meta=meta):
                """Second- and first-order meta-gradients and the FD directional derivatives,
                in one compiled program."""
                g_fo = jax.grad(partial(meta, first_order=True))(z)
                fds = jax.vmap(partial(_central_difference, meta, z, c.fd_step))(dirs)
                return jax.grad(meta)(z), g_fo, fds

            g, g_fo, fds = (np.asarray(a) for a in evidence(flat0, dirs))
            fds, dirs = np.asarray(fds), np.asarray(dirs)
            fd.append(float(np.max(np.abs(fds - dirs @ g)) / np.linalg.norm(g)))
            fd_ctl.append(float(np.max(np.abs(fds - dirs @ g_fo)) / np.linalg.norm(g)))

        n = max(c.n_inner)
        params = nets.init(k_mlp, c.mlp_sizes)
        s, q = sinusoid_batch(k_dat, c.loop_tasks, c.k_shot)
        batched = jax.jit(
            partial(batched_maml_meta_gradient, nets.mse_loss, alpha=c.mlp_alpha, n_inner=n)
        )(params, s, q)
        ref = _reference_loop(params, s, q, alpha=c.mlp_alpha, n_inner=n)
        return MamlProductFormulaResult(
            n_inner=np.array(c.n_inner),
            closed=np.array(closed),
            closed_control=np.array(closed_ctl),
            fd=np.array(fd),
            fd_control=np.array(fd_ctl),
            loop=rel_err_norm(flat(batched), ref),
        )


def _central_difference(f, x, h, v):
    """``(f(x + h v) - f(x - h v)) / 2h``, the directional derivative to O(h^2)."""
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


def _reference_loop(params, supports, queries, *, alpha, n_inner):
    """An independent meta-gradient: a Python loop over tasks and inner steps, no vmap."""

    def task_meta_loss(p, s, q):
        for _ in range(n_inner):
            g = jax.grad(nets.mse_loss)(p, *s)
            p = jax.tree_util.tree_map(lambda a, b: a - alpha * b, p, g)
        return nets.mse_loss(p, *q)

    n_tasks = supports[0].shape[0]
    task_grad = jax.jit(jax.grad(task_meta_loss))
    total = 0.0
    for t in range(n_tasks):
        s = (supports[0][t], supports[1][t])
        q = (queries[0][t], queries[1][t])
        total = total + flat(task_grad(params, s, q))
    return total / n_tasks
