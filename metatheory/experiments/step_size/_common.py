r"""The shared problem of the step-size family (claim C6): N-step MAML on circular tasks.

The circular task family (:mod:`metatheory.tasks.circular`) has exact constants :math:`L`,
:math:`\rho = L`, :math:`G = L\sqrt d`. With ``d = 1`` the inner step is
:math:`w\mapsto w - \alpha L\sin(w-\theta_i)`, with Jacobian :math:`1 - \alpha L\cos(w-\theta_i)`,
so the gradient of :math:`F_N(w) = \frac1n\sum_i f_i(w^i_N)` is
:math:`\frac1n\sum_i L\sin(w^i_N - \theta_i)\prod_j(1-\alpha L\cos(w^i_j-\theta_i))`, computed
here in closed form (a forward recursion, independent of the learners) with the number of
steps a traced value, so one compiled program serves every N and every step size.
At :math:`w = \theta_i + \pi` task ``i``'s iterates stay put and each step multiplies the
Jacobian by :math:`1+\alpha L`: the curvature of :math:`F_N` there approaches
:math:`(1+\alpha L)^{2N}L`, the leading term of the bound.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metatheory.tasks import circular

__all__ = ["Family", "sample_pool", "meta_gradient", "meta_gradients"]

Family = circular.CircularFamily


def sample_pool(key, n_tasks: int, family: Family) -> jax.Array:
    """``(n_tasks, d)`` task angles of ``family`` in float64 (the task distribution is uniform
    over this pool)."""
    return circular.sample_tasks(key, n_tasks, family).astype(jnp.float64)


def meta_gradient(w, thetas, L, alpha, n_inner):
    r""":math:`\nabla F_N(w)` over the task pool ``thetas`` (``(n, d)``); ``n_inner`` may be
    traced."""

    def one(theta):
        def body(_, carry):
            x, jac = carry
            return x - alpha * L * jnp.sin(x - theta), jac * (1.0 - alpha * L * jnp.cos(x - theta))

        x, jac = jax.lax.fori_loop(0, n_inner, body, (w, jnp.ones_like(w)))
        return L * jnp.sin(x - theta) * jac

    return jnp.mean(jax.vmap(one)(thetas), axis=0)


@jax.jit
def meta_gradients(points, thetas, L, alpha, n_inner):
    """:func:`meta_gradient` at each row of ``points``."""
    return jax.vmap(meta_gradient, in_axes=(0, None, None, None, None))(
        points, thetas, L, alpha, n_inner
    )
