"""Verifications run each claim's check through the ledger, so that pytest asserts exactly
what ``metatheory verify`` reports, and each declared mutant through the same check.
``pytest --full`` uses the paper-scale presets.

``verdict("G1")`` is the claim's verdict at its ledger seed; ``verdict("G1", "hessian-sign")``
the verdict with that mutant patched in. Experiment results are cached for the session and on
disk (``.metatheory-cache/``, shared with the CLI), so a mutant that cannot reach an
experiment reuses the true result and ``metatheory reproduce`` reuses what pytest computed.

Mutant runs recompile the code under test (JAX's caches are cleared), which costs minutes for
the training-heavy and compile-heavy checks. By default pytest runs the mutants of the claims in
:data:`QUICK_MUTANTS` (none with ``--full``); ``pytest --mutants`` runs every declared mutant (``metatheory calibrate``
runs them all over many seeds: ``paper/results/calibration.json``).
"""

from pathlib import Path

import pytest

from metatheory import claims, experiments

QUICK_MUTANTS = {"G1", "G2", "H1", "H2", "P1", "P2", "P3", "P4", "P5", "M1", "M2", "B1", "S1"}
"""Claims whose mutant runs take seconds on two cores; the others need ``--mutants``."""


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", help="run paper-scale presets")
    parser.addoption(
        "--mutants", action="store_true", help="run every declared mutant (slow: recompiles)"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--mutants"):
        return
    full = config.getoption("--full")
    skip = pytest.mark.skip(
        reason="mutant run recompiles for minutes: pytest --mutants, or see "
        "paper/results/calibration.json (metatheory calibrate)"
    )
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "mutant" in params and (full or params.get("cid") not in QUICK_MUTANTS):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def preset(request):
    return "full" if request.config.getoption("--full") else "quick"


@pytest.fixture(scope="session")
def verdict(preset):
    """``verdict(id, mutant=None)``: the claim's verdict, computed once per session."""
    cache = {}
    root = Path(__file__).resolve().parent.parent
    with experiments.caching(root / ".metatheory-cache"):

        def get(cid, mutant=None):
            if (cid, mutant) not in cache:
                cache[cid, mutant] = claims.run(cid, preset, mutant=mutant)
            return cache[cid, mutant]

        yield get
