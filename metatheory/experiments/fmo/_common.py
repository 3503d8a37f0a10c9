r"""The convergence family's shared problem (Fallah, Mokhtari, Ozdaglar 2020; C1–C5).

All on the circular task family (:mod:`metatheory.tasks.circular`), whose constants
:math:`L`, :math:`\rho = L`, :math:`G = L\sqrt d` are exact. The task distribution is uniform
over a pool of ``n_tasks`` tasks drawn from the key, so the reference objective
:math:`F_N(w) = \frac1n\sum_i f_i(w^i_N)`, :math:`w^i_{j+1} = w^i_j - \alpha\nabla f_i(w^i_j)`,
and its gradient are exact (:func:`meta_objective`, written from the task's closed form and
independent of the learners, so that a learner mutant cannot move the reference). The
stochastic meta-gradients of the claims are computed by the public learners, and every
constant of a bound by the calculators of :mod:`metatheory.bounds.fmo`, through module globals.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.autodiff import dense_hessian
from metatheory.tasks import circular

__all__ = [
    "Family",
    "adapt",
    "meta_objective",
    "grad_norms",
    "dense_norm",
    "points",
    "wloss",
    "design",
    "samples",
    "fast_key",
    "pool",
    "torus_grid",
    "gauss_hermite",
]

Family = circular.CircularFamily


def adapt(w, theta, fam, alpha, n_inner):
    """Exact inner steps on the population loss (closed form: ``grad f_i = L sin(w - theta)``)."""
    for _ in range(n_inner):
        w = w - alpha * fam.L * jnp.sin(w - theta)
    return w


def meta_objective(w, thetas, fam: Family, alpha, n_inner: int = 1):
    r""":math:`F_N(w) = \frac1n\sum_i f_i(w^i_N)` over the pool ``thetas`` (``(n, d)``)."""

    def one(theta):
        return circular.population_loss(adapt(w, theta, fam, alpha, n_inner), theta, fam)

    return jnp.mean(jax.vmap(one)(thetas))


def grad_norms(w, thetas, fam, alpha):
    """``(||grad f_i(w)||, ||grad f_i(w~_i)||)`` per task."""
    g0 = fam.L * jnp.sin(w[None] - thetas)
    g1 = fam.L * jnp.sin(adapt(w[None], thetas, fam, alpha, 1) - thetas)
    return jnp.linalg.norm(g0, axis=1), jnp.linalg.norm(g1, axis=1)


def dense_norm(f, w):
    """Largest |eigenvalue| of the dense Hessian (small ``d``: the exact reference)."""
    return jnp.max(jnp.abs(jnp.linalg.eigvalsh(dense_hessian(f, w))))


def points(key, n, fam, thetas):
    """``n`` uniform points of the torus plus the mean task's curvature maximum (every task
    near its own maximum, where ``F`` is least smooth)."""
    w = jax.random.uniform(key, (n, fam.d), minval=-np.pi, maxval=np.pi, dtype=thetas.dtype)
    worst = jnp.mean(thetas, axis=0) + np.pi
    return jnp.concatenate([worst[None], w])


def wloss(w, x, y):
    r"""Per-sample circular loss with a per-sample weight in the last column of ``x``:
    :math:`\mathrm{mean}_j\,x_{j,d}(1-\cos(x_{j,:d}^\top w - y_j))` (the ``loss_fn`` of the
    learners). Noisy samples carry :math:`\lambda = Ld/\kappa`, so their expected loss is
    :math:`f_i`; the noise-free design (:func:`design`) carries :math:`Ld`, so its loss has
    exactly the gradient and Hessian of :math:`f_i` (an exact inner step)."""
    return jnp.mean(x[:, -1] * (1.0 - jnp.cos(x[:, :-1] @ w - y)))


def design(theta, fam):
    """The noise-free design of one task: every coordinate once, weight ``L d``."""
    x = jnp.concatenate([jnp.eye(fam.d, dtype=theta.dtype), jnp.full((fam.d, 1), fam.L * fam.d)], 1)
    return x.astype(theta.dtype), theta


def samples(coord, eps, theta, fam):
    """Noisy samples (coordinates ``coord``, standard normal ``eps``) of task ``theta``."""
    x = jax.nn.one_hot(coord, fam.d, dtype=theta.dtype)
    y = theta[coord] + fam.noise * eps
    w = jnp.full(coord.shape + (1,), fam.lam, theta.dtype)
    return jnp.concatenate([x, w], -1), y


def fast_key(key):
    """A key of JAX's ``rbg`` generator (XLA's RngBitGenerator) seeded from ``key``: the noise
    inside the long loops of C4 and C5 compiles several times faster than with threefry."""
    return jax.random.wrap_key_data(jax.random.bits(key, (4,), jnp.uint32), impl="rbg")


def pool(key, n_tasks, n_far, far, fam, dtype):
    """``n_tasks`` task angles; the first ``n_far`` are shifted by ``far`` in every coordinate
    (a skewed task distribution: the mean adapted gradient at MAML's optimum is then far from
    zero, so an estimator that misses the Hessian term has a floor of a definite size)."""
    th = circular.sample_tasks(key, n_tasks, fam).astype(dtype)
    return th.at[:n_far].add(far)


def torus_grid(n: int, d: int):
    r"""The ``n^d`` points of a regular grid on the torus :math:`[-\pi, \pi)^d`, ``(n^d, d)``."""
    g = jnp.linspace(-np.pi, np.pi, n, endpoint=False)
    return jnp.stack(jnp.meshgrid(*[g] * d, indexing="ij"), -1).reshape(-1, d)


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``n``-point Gauss–Hermite quadrature for a standard normal
    (probabilists' Hermite polynomials; the weights sum to one)."""
    xg, wg = np.polynomial.hermite_e.hermegauss(n)
    return xg, wg / wg.sum()
