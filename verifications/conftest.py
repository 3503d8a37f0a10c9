"""Verifications run each claim's check through the ledger, so that pytest asserts exactly
what ``metatheory verify`` reports, and each declared mutant through the same check.
``pytest --full`` uses the paper-scale presets.

``verdict("G1")`` is the claim's verdict at its ledger seed; ``verdict("G1", "hessian-sign")``
the verdict with that mutant patched in. Experiment results are cached for the session and on
disk (``.metatheory-cache/``), so a mutant that cannot reach an experiment reuses the true
result. The CLI shares the directory but not these results: the tests compile with other XLA
flags (root ``conftest.py``), and the cache keys on them.

With pytest-xdist (``pytest`` runs ``-n auto --dist loadgroup``) each claim's tests form one
unit of work (``work_unit`` in the root ``conftest.py``), so a claim's verdict and its mutants
are computed once, on one worker, which reuses the true result for the mutants that cannot
reach it; ``pytest -n 0`` runs everything in one process (e.g. to debug a check).

Mutant runs recompile the code under test (JAX's caches are cleared; XLA's persistent cache
under ``.metatheory-cache/xla`` returns the programs a mutant leaves unchanged, and the root
``conftest.py`` asks XLA for fast compiles). By default pytest runs every declared mutant at
the quick preset; with ``--full`` the mutants are skipped unless
``--mutants`` is given (``metatheory calibrate`` runs them all over many seeds:
``paper/results/calibration.json``).
"""

from pathlib import Path

import pytest

from metatheory import claims, experiments


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", help="run paper-scale presets")
    parser.addoption(
        "--mutants", action="store_true", help="with --full: also run every declared mutant"
    )


def pytest_collection_modifyitems(config, items):
    """Skip mutants under ``--full`` unless asked."""
    if not config.getoption("--full") or config.getoption("--mutants"):
        return
    skip = pytest.mark.skip(
        reason="mutants run at the quick preset: pytest --full --mutants runs them at paper "
        "scale (see also paper/results/calibration.json, metatheory calibrate)"
    )
    for item in items:
        if "mutant" in getattr(getattr(item, "callspec", None), "params", {}):
            item.add_marker(skip)


CACHE_DIR = Path(__file__).resolve().parent.parent / ".metatheory-cache"


@pytest.fixture(scope="session")
def preset(request):
    return "full" if request.config.getoption("--full") else "quick"


@pytest.fixture(scope="session")
def verdict(preset):
    """``verdict(id, mutant=None)``: the claim's verdict, computed once per worker process
    (experiment results are also shared between workers through the disk cache)."""
    cache = {}
    with experiments.caching(CACHE_DIR):

        def get(cid, mutant=None):
            if (cid, mutant) not in cache:
                cache[cid, mutant] = claims.run(cid, preset, mutant=mutant)
            return cache[cid, mutant]

        yield get
