"""Sympy derivations, one module per family. Sympy only: nothing here imports JAX."""
