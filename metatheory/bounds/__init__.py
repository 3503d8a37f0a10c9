"""Importable calculators for the bounds and constants of meta-learning theory.

Every calculator validates its arguments (``ValueError`` naming the argument and the accepted
range), broadcasts over arrays, and is listed in :data:`CALCULATORS` under the name the
``metatheory bound NAME`` command uses.
"""

from __future__ import annotations

CALCULATORS: dict = {}
"""CLI name -> calculator function; ``metatheory bound NAME --arg value`` calls it."""

__all__ = ["CALCULATORS"]
