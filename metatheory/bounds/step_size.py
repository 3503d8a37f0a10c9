r"""The inner step size of N-step MAML and the limit of its smoothness constant (claim C6).

Ji, Yang, Liang (JMLR 23, 2022, abstract) suggest an inner step size inversely proportional
to the number N of inner steps. With C2's constant
:math:`L_N(\alpha) = q^{2N}L + (\rho G/L)q^{N-1}(q^N-1)`, :math:`q = 1+\alpha L`
(:func:`metatheory.bounds.maml_smoothness`), derived in :mod:`metatheory.symbolic.step_size`:

- ``inverse_n_step_size``: :math:`\alpha_N = c/(NL)`;
- ``maml_smoothness_limit``: :math:`\lim_{N\to\infty}L_N(c/(NL)) =
  e^{2c}L + (\rho G/L)e^{c}(e^{c}-1)`, an upper bound on :math:`L_N(c/(NL))` for every N
  (each factor increases with N).
"""

from __future__ import annotations

import numpy as np

from metatheory.bounds._validate import Args, mul0

__all__ = ["inverse_n_step_size", "maml_smoothness_limit"]


def inverse_n_step_size(c, L, n_steps):
    r"""The inner step size :math:`\alpha_N = c/(NL)` of ``n_steps``-step MAML.

    Args:
        c: step constant, in (0, inf).
        L: gradient Lipschitz constant of each task loss, in (0, inf).
        n_steps: number of inner steps N, an integer in [1, inf).

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid).
    Example: ``inverse_n_step_size(0.5, 2.0, 4) = 0.0625``.
    """
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    c = v("c", c, low=0.0, low_open=True, **fin)
    L = v("L", L, low=0.0, low_open=True, **fin)
    n = v("n_steps", n_steps, low=1.0, integer=True, **fin)
    c, L, n = v.floats(c, L, n)
    with v.errstate():
        out = c / (n * L)
    return v.out(out)


def maml_smoothness_limit(c, L, rho, G):
    r""":math:`L_\infty = e^{2c}L + (\rho G/L)e^{c}(e^{c}-1)`, the limit as
    :math:`N\to\infty` of the N-step MAML smoothness constant at :math:`\alpha = c/(NL)`, and
    its upper bound for every N.

    Args:
        c: step constant of :math:`\alpha = c/(NL)`, in (0, inf).
        L: gradient Lipschitz constant of each task loss, in (0, inf).
        rho: Hessian Lipschitz constant, in [0, inf).
        G: bound on :math:`\|\nabla f_i\|` at the inner iterates, in [0, inf).

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid); ``inf`` on
    overflow. Example: ``maml_smoothness_limit(0.5, 1, 0, 1) = e = 2.71828...``.
    """
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    c = v("c", c, low=0.0, low_open=True, **fin)
    L = v("L", L, low=0.0, low_open=True, **fin)
    rho = v("rho", rho, low=0.0, **fin)
    G = v("G", G, low=0.0, **fin)
    c, L, rho, G = v.floats(c, L, rho, G)
    xp = v.xp
    with v.errstate():
        head = L * xp.exp(2.0 * c)
        tail = xp.exp(c) * xp.expm1(c)
        out = head + mul0(xp, rho * G / L, tail)
    return v.out(out)
