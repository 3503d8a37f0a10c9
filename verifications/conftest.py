"""Verifications run each claim's check through the ledger, so that pytest asserts exactly
what ``metatheory verify`` reports, and each declared mutant through the same check.
``pytest --full`` uses the paper-scale presets.

``verdict("G1")`` is the claim's verdict at its ledger seed; ``verdict("G1", "hessian-sign")``
the verdict with that mutant patched in. Experiment results are cached for the session, so a
mutant that cannot reach an experiment reuses the true result.
"""

import pytest

from metatheory import claims, experiments


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", help="run paper-scale presets")


@pytest.fixture(scope="session")
def preset(request):
    return "full" if request.config.getoption("--full") else "quick"


@pytest.fixture(scope="session")
def verdict(preset):
    """``verdict(id, mutant=None)``: the claim's verdict, computed once per session."""
    cache = {}
    with experiments.caching():

        def get(cid, mutant=None):
            if (cid, mutant) not in cache:
                cache[cid, mutant] = claims.run(cid, preset, mutant=mutant)
            return cache[cid, mutant]

        yield get
