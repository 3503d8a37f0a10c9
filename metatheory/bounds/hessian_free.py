r"""Error bounds of the finite-difference Hessian-vector product of Hessian-free MAML (C7).

As we implement Hessian-free MAML (Fallah, Mokhtari, Ozdaglar 2020; the estimator's form was
not read in the paper), :math:`\nabla^2 f(w)v` is replaced by the central difference
:math:`d_\delta = (\nabla f(w+\delta v) - \nabla f(w-\delta v))/(2\delta)`. Derived in
:mod:`metatheory.symbolic.hessian_free`:

- ``hf_maml_hvp_error_bound``: :math:`\|d_\delta - \nabla^2 f(w)v\|\le\rho\delta\|v\|^2/2`
  for a :math:`\rho`-Lipschitz Hessian (attained by :math:`(\rho/6)|a^\top w|^3`);
- ``hf_maml_hvp_error_bound_smooth``: :math:`\le\rho_3\delta^2\|v\|^3/6` for a
  :math:`\rho_3`-Lipschitz third derivative (attained by :math:`(\rho_3/24)(a^\top w)^4`).

The one-step HF-MAML meta-gradient then differs from MAML's by at most ``alpha`` times these.
"""

from __future__ import annotations

import numpy as np

from metatheory.bounds._validate import Args, mul0

__all__ = ["hf_maml_hvp_error_bound", "hf_maml_hvp_error_bound_smooth"]


def _args(name, lip, delta, v_norm):
    v = Args()
    fin = dict(high=np.inf, high_open=True)
    lip = v(name, lip, low=0.0, **fin)
    delta = v("delta", delta, low=0.0, low_open=True, **fin)
    v_norm = v("v_norm", v_norm, low=0.0, **fin)
    return v, v.floats(lip, delta, v_norm)


def hf_maml_hvp_error_bound(rho, delta, v_norm):
    r""":math:`\rho\delta\|v\|^2/2`: the largest error of the central-difference
    Hessian-vector product :math:`(\nabla f(w+\delta v)-\nabla f(w-\delta v))/(2\delta)`
    when the Hessian is :math:`\rho`-Lipschitz (also the one-sided difference's bound).

    Args:
        rho: Hessian Lipschitz constant, in [0, inf).
        delta: difference step, in (0, inf).
        v_norm: :math:`\|v\|`, in [0, inf).

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid).
    Example: ``hf_maml_hvp_error_bound(2, 0.1, 3) = 0.9``.
    """
    v, (rho, delta, vn) = _args("rho", rho, delta, v_norm)
    with v.errstate():
        out = 0.5 * mul0(v.xp, rho, delta * vn * vn)
    return v.out(out)


def hf_maml_hvp_error_bound_smooth(rho3, delta, v_norm):
    r""":math:`\rho_3\delta^2\|v\|^3/6`: the largest error of the central-difference
    Hessian-vector product when the third derivative is :math:`\rho_3`-Lipschitz (the
    one-sided difference has no such second-order bound).

    Args:
        rho3: Lipschitz constant of the third derivative, in [0, inf).
        delta: difference step, in (0, inf).
        v_norm: :math:`\|v\|`, in [0, inf).

    Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is invalid).
    Example: ``hf_maml_hvp_error_bound_smooth(6, 0.1, 2) = 0.08``.
    """
    v, (rho3, delta, vn) = _args("rho3", rho3, delta, v_norm)
    with v.errstate():
        out = mul0(v.xp, rho3, delta * delta * vn * vn * vn) / 6.0
    return v.out(out)
