"""Tolerances shared by the first-order family's checks (G3, G4, G8)."""

from __future__ import annotations

__all__ = ["LINEAR_TOL", "COEF_TOL"]

LINEAR_TOL = 1e-10
"""Float64 matrix identities on linear regression (d × d products over N ≤ 10 steps), as in G1."""
COEF_TOL = 1e-9
"""Taylor coefficients: forward-mode autodiff at α = 0 through a float64 MLP (rounding ~1e-14
relative), or interpolation at Chebyshev nodes: the Vandermonde systems of degree ≤ 2(k−1) ≤ 8
have condition number ≤ 1e5, so rounding of ~1e-15 in the values gives ≤ 1e-10 in the
coefficients; 1e-9 still rejects a wrong coefficient, which is off by O(1)."""
