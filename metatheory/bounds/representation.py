r"""The contraction factor of ANIL's representation distance (claim R1), derived here.

On multitask linear regression with Gaussian inputs, a ground-truth representation
:math:`B_*` and task heads of covariance :math:`\Sigma` (Collins et al., ICML 2022, show
exponentially fast recovery; their constants were not read), ANIL with one inner step of size
:math:`\alpha` on the head (from :math:`w_0 = 0`) and outer step :math:`\beta` on the
representation contracts the principal-angle distance :math:`\|B_{*\perp}^\top Q_B\|_2`
asymptotically by

.. math:: \rho = 1 - \alpha\beta\lambda_{\min}(\Sigma)

per outer step (:mod:`metatheory.symbolic.representation`); the fixed point is stable for
:math:`\alpha\beta\lambda_{\max}(\Sigma) < 1/2`.
"""

from __future__ import annotations

import numpy as np

from metatheory.bounds._validate import Args

__all__ = ["anil_contraction_rate"]


def anil_contraction_rate(alpha, beta, sigma_min):
    r""":math:`\rho = 1 - \alpha\beta\sigma_{\min}`, the asymptotic factor by which one outer
    ANIL step multiplies the distance between the learned and the true representation.

    Args:
        alpha: inner (head) step size, in (0, inf).
        beta: outer (representation) step size, in (0, inf).
        sigma_min: smallest eigenvalue of the task heads' covariance, in (0, inf).

    The product :math:`\alpha\beta\sigma_{\min}` must be below 1/2 (necessary for the fixed
    point to be stable, :math:`\alpha\beta\lambda_{\max} < 1/2`); concrete input violating it
    raises ``ValueError``. Broadcasts; jit/grad/vmap-safe (NaN where a traced argument is
    invalid). Example: ``anil_contraction_rate(0.5, 0.6, 0.3) = 0.91``.
    """
    v = Args()
    fin = dict(low=0.0, low_open=True, high=np.inf, high_open=True)
    a = v("alpha", alpha, **fin)
    b = v("beta", beta, **fin)
    s = v("sigma_min", sigma_min, **fin)
    a, b, s = v.floats(a, b, s)
    with v.errstate():
        x = a * b * s
    v.require(
        "alpha*beta*sigma_min",
        x < 0.5,
        lambda: (
            "alpha*beta*sigma_min must be in (0, 0.5) (a stable outer step), got "
            f"{float(np.max(np.asarray(x))):g}"
        ),
    )
    return v.out(1.0 - x)
