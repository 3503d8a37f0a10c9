"""Verifications run each claim's check through the ledger, so that pytest asserts exactly
what ``metatheory verify`` reports. ``pytest --full`` uses the paper-scale presets."""

import pytest

from metatheory import claims


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", help="run paper-scale presets")


@pytest.fixture(scope="session")
def preset(request):
    return "full" if request.config.getoption("--full") else "quick"


@pytest.fixture(scope="session")
def verdict(preset):
    """``verdict("G1")``: the claim's verdict, computed once per session."""
    cache = {}

    def get(cid):
        if cid not in cache:
            cache[cid] = claims.run(cid, preset)
        return cache[cid]

    return get
