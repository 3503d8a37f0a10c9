"""Settings for every pytest run in this repository (tests, verifications, benchmarks)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from metatheory.runtime import sync_cpu_dispatch

sync_cpu_dispatch()  # a rare hang of asynchronous CPU dispatch (see its docstring)

FAST_COMPILE = "--xla_backend_optimization_level=0"
"""Tests and verifications compile far more than they run (every mutant recompiles the code
under test), so XLA's CPU backend is asked for LLVM -O0: compile time roughly halves. Verdicts
are unchanged; float32 reductions may differ in their last bits (another summation order; no
fast-math either way), so the experiment cache keys on ``XLA_FLAGS`` and the CLI does not reuse
these results. FLOP counts and buffer sizes are read from XLA's optimized HLO, before the LLVM
backend. Benchmarks keep XLA's default level, and an explicit level in ``XLA_FLAGS`` wins."""

LEGACY_EMITTERS = "--xla_cpu_use_fusion_emitters=false"
"""XLA's CPU backend emits fusions through its older LLVM emitter: on 2 cores, G2, G7, C5 and P5
with all their mutants took 125.9 s with it and 163.7 s without (C5's long runs also execute
faster). The sinusoid benchmark's quick preset asks for the same (``FAST_COMPILE`` there). Added
only where the installed XLA knows the flag (an unknown flag aborts JAX), and never over an
explicit setting in ``XLA_FLAGS``."""


def _xla_accepts(flag: str) -> bool:
    """Whether JAX starts its CPU backend with ``flag`` in ``XLA_FLAGS`` (in a subprocess)."""
    env = {**os.environ, "XLA_FLAGS": flag, "JAX_PLATFORMS": "cpu"}
    probe = [sys.executable, "-c", "import jax; jax.devices()"]
    return subprocess.run(probe, env=env, capture_output=True, timeout=120).returncode == 0


def pytest_configure(config):
    """Set :data:`FAST_COMPILE` and :data:`LEGACY_EMITTERS` before JAX creates its CPU client,
    unless only benchmarks run (xdist's workers inherit the environment)."""
    flags = os.environ.get("XLA_FLAGS", "")
    only_benchmarks = config.args and all("benchmarks" in str(a) for a in config.args)
    if only_benchmarks:
        return
    if "xla_backend_optimization_level" not in flags:
        flags = f"{flags} {FAST_COMPILE}"
    if "xla_cpu_use_fusion_emitters" not in flags and _xla_accepts(LEGACY_EMITTERS):
        flags = f"{flags} {LEGACY_EMITTERS}"
    os.environ["XLA_FLAGS"] = flags.strip()


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to under ``pytest -n`` (``--dist loadgroup``).

    A verification test goes with the claim whose verdict it asks for: its claim parameter
    (``test_verdict[C5]``, ``test_mutant_rejected[C5-first-order]``), else the first claim id its
    name starts with (``test_c5_theorem_...``), else the first claim of its family (the file's
    stem). A claim's verdict and mutants are so computed once, on one worker. Any other test
    goes with its module, so a module-scoped fixture (e.g. ``test_calibrate_dask``'s cluster)
    starts once."""
    import re

    from metatheory import claims

    path, _, test = nodeid.partition("::")
    if Path(path).parent.name != "verifications":
        return path
    known = {c.lower(): c for c in claims.ids()}
    name, _, params = test.partition("[")
    first = params.split("-", 1)[0].rstrip("]").lower()
    if first in known:
        return known[first]
    part = re.match(r"[a-z]+\d+|[a-z]+", name.removeprefix("test_"))
    if part and part.group() in known:
        return known[part.group()]
    family = Path(path).stem.removeprefix("test_")
    return next((c for c in claims.ids() if claims.get(c).family == family), path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with :func:`work_unit` as the group of each test.

    xdist's own loadgroup reads ``xdist_group`` marks through a suffix it writes into node ids,
    which pytest 9.2's structured node ids ignore: every test then runs alone (pytest-xdist
    issue 1386). Groups computed from the node id itself do not depend on that."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)
