"""The verdict pool: runs computed by the worker process equal those computed here, and a
failure in the worker is raised here with its traceback."""

import functools
import time

import numpy as np
import pytest

from metatheory import pool


def _wait_until_worker_took(p, i, timeout=120.0):
    t0 = time.monotonic()
    while p.state[i] != pool._WORKER:
        assert time.monotonic() - t0 < timeout, "the worker never started"
        time.sleep(0.05)


_compute = functools.partial(pool.verdict_of, "quick")


def test_worker_runs_equal_local_runs():
    jobs = [("C2", None), ("C2", "exponent-N"), ("P2", None), ("P2", "am_meta_dropped")]
    with pool.SharedRuns(jobs, _compute) as p:
        _wait_until_worker_took(p, 2)  # the worker starts with the last claim, P2
        got = [p.get(*j) for j in jobs]
        assert p.state[2] == pool._WORKER
    for j, v in zip(jobs, got, strict=True):
        local = _compute(*j)
        assert (v.id, v.mutant, v.verdict) == (local.id, local.mutant, local.verdict)
        assert [c.name for c in v.checks] == [c.name for c in local.checks]
        assert np.array_equal([c.passed for c in v.checks], [c.passed for c in local.checks])
    assert [v.verdict for v in got] == ["holds", "fails", "holds", "fails"]


def test_worker_failure_is_raised_here_with_its_traceback():
    jobs = [("P2", None), ("P2", "no-such-mutant")]
    with pool.SharedRuns(jobs, _compute) as p:
        _wait_until_worker_took(p, 1)
        with pytest.raises(RuntimeError, match="failed in the worker process(.|\n)*KeyError"):
            p.get("P2", "no-such-mutant")


def test_runs_outside_the_list_are_computed_here():
    with pool.SharedRuns([("P2", None), ("C2", None)], _compute) as p:
        assert p.get("C1").id == "C1"
