"""Verifications run each claim's check through the ledger, so that pytest asserts exactly
what ``metatheory verify`` reports, and each declared mutant through the same check.
``pytest --full`` uses the paper-scale presets.

``verdict("G1")`` is the claim's verdict at its ledger seed; ``verdict("G1", "hessian-sign")``
the verdict with that mutant patched in. Experiment results are cached for the session and on
disk (``.metatheory-cache/``), so a mutant that cannot reach an experiment reuses the true
result. The CLI shares the directory but not these results: the tests compile with other XLA
flags (root ``conftest.py``), and the cache keys on them.

Verdicts are computed by this process and one worker process (:class:`metatheory.pool.
SharedRuns`): the worker takes the collected verification runs from the last one backwards
while the tests run forwards, so on two cores the suite takes about half the wall time.
``pytest --no-worker`` computes everything in this process (e.g. to debug a check).

Mutant runs recompile the code under test (JAX's caches are cleared; XLA's persistent cache
under ``.metatheory-cache/xla`` returns the programs a mutant leaves unchanged, and the root
``conftest.py`` asks XLA for fast compiles). By default pytest runs every declared mutant at
the quick preset (108 mutants of 28 claims: 6 min 50 s for the whole suite on two idle cores,
11 min 50 s without the worker process); with ``--full`` the mutants are skipped unless
``--mutants`` is given (``metatheory calibrate`` runs them all over many seeds:
``paper/results/calibration.json``).
"""

import functools
from pathlib import Path

import pytest

from metatheory import claims, experiments, pool


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", help="run paper-scale presets")
    parser.addoption(
        "--mutants", action="store_true", help="with --full: also run every declared mutant"
    )
    parser.addoption(
        "--no-worker", action="store_true", help="compute verdicts in this process only"
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--full") or config.getoption("--mutants"):
        return
    skip = pytest.mark.skip(
        reason="mutants run at the quick preset: pytest --full --mutants runs them at paper "
        "scale (see also paper/results/calibration.json, metatheory calibrate)"
    )
    for item in items:
        if "mutant" in getattr(getattr(item, "callspec", None), "params", {}):
            item.add_marker(skip)


_POOL = pytest.StashKey()
CACHE_DIR = Path(__file__).resolve().parent.parent / ".metatheory-cache"


def _preset(config) -> str:
    return "full" if config.getoption("--full") else "quick"


def _runs(items) -> list[tuple[str, str | None]]:
    """The claim runs the collected verification tests ask for, in test order: a test
    parametrized by ``cid`` (and ``mutant``) names its run; any other test of
    ``verifications/test_<family>.py`` may ask for the true verdict of each claim of that family."""
    by_family = {}
    for cid in claims.ids():
        by_family.setdefault(claims.get(cid).family, []).append(cid)
    runs = []
    for item in items:
        if item.get_closest_marker("skip") or item.path.parent.name != "verifications":
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "cid" in params:
            runs.append((params["cid"], params.get("mutant")))
        else:
            family = item.path.stem.removeprefix("test_")
            runs.extend((cid, None) for cid in by_family.get(family, []))
    return list(dict.fromkeys(runs))


def pytest_collection_finish(session):
    """Start the worker process as soon as the runs are known, so that it works while the
    unit tests run."""
    config = session.config
    runs = _runs(session.items)
    if len(runs) >= 2 and not config.getoption("--no-worker"):
        fn = functools.partial(pool.verdict_of, _preset(config))
        config.stash[_POOL] = pool.SharedRuns(runs, fn, cache_dir=CACHE_DIR)


def pytest_unconfigure(config):
    p = config.stash.get(_POOL, None)
    if p is not None:
        p.close()


@pytest.fixture(scope="session")
def preset(request):
    return _preset(request.config)


@pytest.fixture(scope="session")
def verdict(request, preset):
    """``verdict(id, mutant=None)``: the claim's verdict, computed once per session (here or
    by the worker process)."""
    cache = {}
    shared = request.config.stash.get(_POOL, None)
    compute = shared.get if shared is not None else functools.partial(pool.verdict_of, preset)
    with experiments.caching(CACHE_DIR):

        def get(cid, mutant=None):
            if (cid, mutant) not in cache:
                cache[cid, mutant] = compute(cid, mutant)
            return cache[cid, mutant]

        yield get
