"""Settings for every pytest run in this repository (tests, verifications, benchmarks)."""

import os

from metatheory.runtime import sync_cpu_dispatch

sync_cpu_dispatch()  # a rare hang of asynchronous CPU dispatch (see its docstring)

FAST_COMPILE = "--xla_backend_optimization_level=0"
"""Tests and verifications compile far more than they run (every mutant recompiles the code
under test), so XLA's CPU backend is asked for LLVM -O0: compile time roughly halves. Verdicts
are unchanged; float32 reductions may differ in their last bits (another summation order; no
fast-math either way), so the experiment cache keys on ``XLA_FLAGS`` and the CLI does not reuse
these results. FLOP counts and buffer sizes are read from XLA's optimized HLO, before the LLVM
backend. Benchmarks keep XLA's default level, and an explicit level in ``XLA_FLAGS`` wins."""


def pytest_configure(config):
    """Set :data:`FAST_COMPILE` before JAX creates its CPU client, unless only benchmarks run."""
    flags = os.environ.get("XLA_FLAGS", "")
    only_benchmarks = config.args and all("benchmarks" in str(a) for a in config.args)
    if "xla_backend_optimization_level" not in flags and not only_benchmarks:
        os.environ["XLA_FLAGS"] = f"{flags} {FAST_COMPILE}".strip()
