r"""The implicit-MAML family's shared problem: the closed-form proximal solve on linear
regression, the tanh-MLP Hessian, a sinusoid task, CG's A-norm errors, and the compiled memory
of an iMAML meta step (G7 reads the sweep G6 compiles: :func:`imaml_memory`, one program per
inner-step count). Float64 where a result is compared with a closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory import nets
from metatheory.autodiff import dense_hessian
from metatheory.experiments import experiment
from metatheory.experiments._compiled import (
    MemoryConfig,
    PolyFit,
    compiled_stats,
    instance,
    polyfit,
)
from metatheory.learners.imaml import batched_imaml_meta_gradient, imaml_meta_gradient
from metatheory.numerics import flatten, tanh_mse
from metatheory.tasks import linear, sinusoid

__all__ = [
    "tanh_hessian",
    "phi_star",
    "closed_form",
    "sinusoid_task",
    "cg_errors",
    "ImamlMemoryResult",
    "imaml_memory",
]


@jax.jit
def tanh_hessian(phi, x, y):
    """Dense Hessian of :func:`tanh_mse` at ``phi`` (compiled once per shape)."""
    return dense_hessian(lambda p: tanh_mse(p, x, y), phi)


def phi_star(loss_fn, theta, support, query, lam):
    """The proximal solution from the same compiled iMAML program as the meta-gradients
    (``imaml_meta_gradient(..., return_info=True)``), so that no extra compilation is needed."""
    return imaml_meta_gradient(loss_fn, theta, support, query, lam=lam, return_info=True)[1].phi


def closed_form(theta, support, query, lam):
    (xs, ys), (xq, yq) = support, query
    h = linear.hessian(xs)
    d = h.shape[0]
    b = np.asarray(xs, np.float64).T @ np.asarray(ys, np.float64) / xs.shape[0]
    phi = np.linalg.solve(h + lam * np.eye(d), lam * np.asarray(theta, np.float64) + b)
    gq = linear.gradient(phi, xq, yq)
    return phi, np.linalg.solve(np.eye(d) + h / lam, gq), gq, h


def sinusoid_task(key, k):
    s, q = sinusoid.sample_batch(key, 1, k, k)
    return jax.tree_util.tree_map(lambda a: a[0], (s, q))


def cg_errors(a: np.ndarray, b: np.ndarray, n_iter: int) -> np.ndarray:
    """``||x_k - x*||_A / ||x_0 - x*||_A`` for ``k = 0..n_iter`` of
    ``jax.scipy.sparse.linalg.cg`` from ``x_0 = 0`` (``maxiter = k``, no early stop)."""
    with jax.enable_x64(True):
        a_j, b_j = jnp.asarray(a), jnp.asarray(b)
        x_star = np.linalg.solve(a, b)
        run = jax.jit(
            lambda k: jax.scipy.sparse.linalg.cg(lambda v: a_j @ v, b_j, tol=0.0, maxiter=k)[0]
        )
        xs = np.asarray(jax.vmap(run)(jnp.arange(n_iter + 1)))
        e = xs - x_star
        norms = np.sqrt(np.maximum(np.einsum("ki,ij,kj->k", e, a, e), 0.0))
        return norms / norms[0]


@dataclass(frozen=True, kw_only=True)
class ImamlMemoryResult:
    n_inner: np.ndarray  # inner (L-BFGS) iterations; one compiled program per N
    temp: np.ndarray  # compiled temp bytes per N
    param_bytes: float  # one copy of the task batch's parameters
    copies: np.ndarray  # temp / param_bytes
    fit: PolyFit  # straight line of copies against N
    sizes: tuple[int, ...]
    n_tasks: int


@experiment
def imaml_memory(config: MemoryConfig, key: jax.Array) -> ImamlMemoryResult:
    """G6 and G7: compiled temp memory of one iMAML meta step (meta-gradient by
    :func:`metatheory.batched_imaml_meta_gradient` with exactly N L-BFGS iterations, then the
    SGD update) on the instance ``key`` draws, **compiled once per N with N a compile-time
    constant**, so that an implementation whose memory grew with N would show it."""
    c = config
    sizes, b, params, s, q = instance(c.widths, c.n_tasks, c.k_shot, key)

    def step(n):
        def fn(p, s, q):
            g = batched_imaml_meta_gradient(
                nets.mse_loss,
                p,
                s,
                q,
                lam=c.lam,
                inner_tol=0.0,
                inner_maxiter=n,
                cg_tol=0.0,
                cg_maxiter=c.cg_maxiter,
            )
            return jax.tree_util.tree_map(lambda a, d: a - c.beta * d, p, g)

        return fn

    ns = np.array(c.imaml_n_inner)
    dep = ("metatheory.learners.imaml",)
    temp = np.array(
        [
            compiled_stats(step(int(n)), params, s, q, memo=("imaml", int(n), c), depends=dep)[
                "temp"
            ]
            for n in ns
        ]
    )
    flat = flatten(params)
    pb = float(flat.size * flat.dtype.itemsize * b)
    return ImamlMemoryResult(
        n_inner=ns,
        temp=temp,
        param_bytes=pb,
        copies=temp / pb,
        fit=polyfit(ns, temp / pb, 1),
        sizes=sizes,
        n_tasks=b,
    )
