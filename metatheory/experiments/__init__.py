"""Numerical experiments: pure functions of a frozen config and a PRNG key, returning result
dataclasses (arrays, fitted numbers, intervals). No plotting, no asserting."""
