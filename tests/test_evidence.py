"""Stored evidence round-trips: the figures cannot tell a stored run from a live one."""

from dataclasses import dataclass

import numpy as np

from metatheory.report import evidence
from metatheory.stats import loglog_slope


@dataclass(frozen=True, kw_only=True)
class _Result:
    xs: np.ndarray
    fit: object
    pairs: tuple
    table: dict
    inf: float
    name: str
    nested: list


def test_round_trip_preserves_classes_arrays_and_specials():
    x = np.array([1.0, 10.0, 100.0, 1000.0])
    r = _Result(
        xs=x,
        fit=loglog_slope(x, x**-0.5 * (1 + 0.01 * np.arange(4))),
        pairs=(("a", 1, 2), ("b", 3, 4)),
        table={"k": np.arange(3), 5: "v"},
        inf=float("inf"),
        name="n",
        nested=[np.ones(2), 3.0],
    )
    arrays = {}
    back = evidence.decode(evidence.encode(r, arrays), arrays)
    assert isinstance(back, _Result) and type(back.fit) is type(r.fit)
    assert np.array_equal(back.xs, x) and back.fit.estimate == r.fit.estimate
    assert back.pairs == r.pairs and back.inf == float("inf") and back.name == "n"
    assert np.array_equal(back.table["k"], np.arange(3)) and back.table[5] == "v"
    assert np.array_equal(back.nested[0], np.ones(2)) and back.nested[1] == 3.0


def test_run_info_names_machine_and_versions():
    info = evidence.run_info("full")
    assert {"date", "machine", "jax", "jaxlib", "backend"} <= set(info)


def test_a_cached_replay_keeps_the_stored_run_time(tmp_path):
    """Re-judging a stored run from the experiment cache must not record the check's 0.1 s as
    the run's time, nor today's date as its date."""
    import json

    from metatheory import report
    from metatheory.claims import Verdict

    def verdict(seconds, cached):
        return Verdict(verdict="holds", predicted="p", measured="m", tolerance="t", id="G1",
                       seconds=seconds, cached=cached)  # fmt: skip

    report.store_results([verdict(560.0, False)], tmp_path, "full")
    info = json.loads((tmp_path / "run-full.json").read_text())
    info["G1"]["date"] = "2026-01-01 00:00 UTC"
    (tmp_path / "run-full.json").write_text(json.dumps(info))
    report.store_results([verdict(0.2, True)], tmp_path, "full")
    (row,) = json.loads((tmp_path / "ledger-full.json").read_text())
    assert row["seconds"] == 560.0
    assert json.loads((tmp_path / "run-full.json").read_text())["G1"]["date"].startswith("2026-01")
    report.store_results([verdict(300.0, False)], tmp_path, "full")  # a real rerun replaces both
    (row,) = json.loads((tmp_path / "ledger-full.json").read_text())
    assert row["seconds"] == 300.0


def test_an_unknown_dataclass_raises():
    """Evidence naming a class that cannot be imported is an error, not a namespace that a
    figure would read as if it were the result."""
    import pytest

    arrays = {}
    desc = evidence.encode(_Result(xs=np.ones(2), fit=None, pairs=(), table={}, inf=0.0,
                                   name="n", nested=[]), arrays)  # fmt: skip
    desc["__dataclass__"] = f"{__name__}:_NoSuchResult"
    with pytest.raises(ValueError, match="_NoSuchResult"):
        evidence.decode(desc, arrays)
    desc["__dataclass__"] = "metatheory.no_such_module:Result"
    with pytest.raises(ValueError, match="no_such_module"):
        evidence.decode(desc, arrays)
