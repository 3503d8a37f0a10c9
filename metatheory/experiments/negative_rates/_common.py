r"""Monte Carlo draws of one-step MAML on mixed linear regression (claim G10).

Tasks :math:`w = w_0 + u`, :math:`u \sim N(0, (\nu^2/p)I)`, with :math:`w_0 = 0` (the model is
equivariant under shifts of :math:`w_0` and :math:`\theta` together); inputs
:math:`x\sim N(0, I_p)`; outputs :math:`y = x^\top w + \sigma\varepsilon`. Products
:math:`(I - \alpha X^\top X/n)v` are formed as :math:`v - \frac\alpha n X^\top(Xv)`.

One program serves every setting: arrays have the static shapes ``P``, ``N_T``, ``N_V``, ``N_R``
and the entries outside a setting's :math:`p` columns and :math:`n` rows are zero, which leaves
every product above equal to the unpadded one (zero rows add nothing to :math:`X^\top X` or
:math:`X^\top y`; zero columns of :math:`X` and zero coordinates of :math:`u` stay zero).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

__all__ = ["P", "N_T", "N_V", "N_R", "gradient_noise_draws", "test_loss_draws"]


P, N_T, N_V, N_R = 16, 8, 4, 4
"""Largest dimension and sample counts of a setting (the padded shapes)."""


def _mask(n, size):
    return (jnp.arange(size) < n).astype(jnp.result_type(float))


@partial(jax.jit, static_argnames=("n_draws",))
def gradient_noise_draws(key, alphas, nu, sigma, p, n_t, n_v, *, n_draws):
    r""":math:`\|\nabla f_i(w_0)\|^2` for ``n_draws`` tasks and each rate in ``alphas``:
    shape (n_draws, len(alphas)). :math:`f_i(\theta) = \frac1{2n_v}\|y^v - X^v\theta'\|^2`,
    :math:`\theta' = \theta + \frac{\alpha}{n_t}X^\top(y - X\theta)`, gradient
    :math:`-\frac1{n_v}(I - \alpha X^\top X/n_t)X^{v\top}(y^v - X^v\theta')` at
    :math:`\theta = w_0 = 0`."""
    k = jax.random.split(key, 5)
    cols, rows, vrows = _mask(p, P), _mask(n_t, N_T), _mask(n_v, N_V)
    X = jax.random.normal(k[0], (n_draws, N_T, P)) * rows[:, None] * cols
    Xv = jax.random.normal(k[1], (n_draws, N_V, P)) * vrows[:, None] * cols
    u = nu / jnp.sqrt(p) * jax.random.normal(k[2], (n_draws, P)) * cols
    eps = jax.random.normal(k[3], (n_draws, N_T)) * rows
    y = jnp.einsum("bnp,bp->bn", X, u) + sigma * eps
    yv = jnp.einsum("bnp,bp->bn", Xv, u) + sigma * jax.random.normal(k[4], (n_draws, N_V)) * vrows

    def one(a):
        theta = a / n_t * jnp.einsum("bnp,bn->bp", X, y)
        r = yv - jnp.einsum("bnp,bp->bn", Xv, theta)
        v = -jnp.einsum("bnp,bn->bp", Xv, r) / n_v
        g = v - a / n_t * jnp.einsum("bnp,bn->bp", X, jnp.einsum("bnp,bp->bn", X, v))
        return jnp.sum(g * g, axis=1)

    return jax.vmap(one, out_axes=1)(alphas)


@partial(jax.jit, static_argnames=("n_draws",))
def test_loss_draws(key, alphas, nu, sigma, offset, p, n_r, *, n_draws):
    r""":math:`\tfrac12(y - x^\top\theta')^2` on a fresh sample after one step of each rate in
    ``alphas`` on :math:`n_r` samples from :math:`\theta = w_0 + \delta e_1`,
    :math:`\delta` = ``offset``: shape (n_draws, len(alphas))."""
    k = jax.random.split(key, 5)
    cols, rows = _mask(p, P), _mask(n_r, N_R)
    X = jax.random.normal(k[0], (n_draws, N_R, P)) * rows[:, None] * cols
    u = nu / jnp.sqrt(p) * jax.random.normal(k[1], (n_draws, P)) * cols
    y = jnp.einsum("bnp,bp->bn", X, u) + sigma * jax.random.normal(k[2], (n_draws, N_R)) * rows
    x = jax.random.normal(k[3], (n_draws, P)) * cols
    y_new = jnp.einsum("bp,bp->b", x, u) + sigma * jax.random.normal(k[4], (n_draws,))
    theta = jnp.zeros((n_draws, P)).at[:, 0].set(offset)

    def one(a):
        r = y - jnp.einsum("bnp,bp->bn", X, theta)
        th = theta + a / n_r * jnp.einsum("bnp,bn->bp", X, r)
        return 0.5 * (y_new - jnp.einsum("bp,bp->b", x, th)) ** 2

    return jax.vmap(one, out_axes=1)(alphas)
