"""Verifications run each claim's check through the ledger, so that pytest asserts exactly
what ``metatheory verify`` reports, and each declared mutant through the same check.
``pytest --full`` uses the paper-scale presets.

``verdict("G1")`` is the claim's verdict at its ledger seed; ``verdict("G1", "hessian-sign")``
the verdict with that mutant patched in. Experiment results are cached for the session and on
disk (``.metatheory-cache/``), so a mutant that cannot reach an experiment reuses the true
result. The CLI shares the directory but not these results: the tests compile with other XLA
flags (root ``conftest.py``), and the cache keys on them.

Mutant runs recompile the code under test (JAX's caches are cleared; XLA's persistent cache
under ``.metatheory-cache/xla`` returns the programs a mutant leaves unchanged, and the root
``conftest.py`` asks XLA for fast compiles). By default pytest runs the mutants of the claims in
:data:`QUICK_MUTANTS` (none with ``--full``); ``pytest --mutants`` runs every declared mutant
(``metatheory calibrate`` runs them all over many seeds: ``paper/results/calibration.json``).
"""

from pathlib import Path

import pytest

from metatheory import claims, experiments

QUICK_MUTANTS = {
    *("G1", "G2", "G5", "G6", "H1", "H2", "C1", "C2", "C4"),
    *("P1", "P2", "P3", "P4", "P5", "M1", "M2", "B1", "S1"),
}
"""Claims whose mutants run by default: 18 of 28 claims, 66 of 107 mutants, within the suite's
10 minutes on two cores with a margin (7 min 53 s measured idle on a fresh clone; 8 min 18 s
with C3's and C5's mutants, 8 min 48 s for that inside a CI-like run). The mutants of C3, C5,
G3, G4, G7, G8, G9, B2, M3 and S2 (retraining or long recompiles, about 5 more minutes) need
``pytest --mutants`` (15 minutes measured idle for the whole suite)."""


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
