"""Calibration on a Dask cluster started by hand (``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1): both workers run tasks, the rows equal those of one process, and a
mutant task leaves the true code of its worker intact."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metatheory import calibrate, claims, cli, experiments, parallel

BIN = Path(sys.executable).parent
XLA_CACHE = {
    "JAX_COMPILATION_CACHE_DIR": str(Path(__file__).resolve().parents[1] / ".metatheory-cache/xla"),
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": str(experiments.XLA_CACHE_MIN_SECONDS),
}
"""Every process here shares the repository's compilation cache (compiled programs never
change a result), while each calibration has its own, empty, result cache."""
ENV = {**os.environ, **XLA_CACHE}
TIMING = ("seconds", "started", "finished", "jobs", "run", "workers")
"""Row fields that describe how a run went, not what it found."""


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name) or pytest.skip(f"no {name}")


def _wait_for(cond, what: str, procs, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not cond():
        for p in procs:
            assert p.poll() is None, f"{what}: {p.args[:2]} exited with {p.returncode}"
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``(address, [worker address, ...])`` of a scheduler with two one-thread workers."""
    from distributed import Client

    d = tmp_path_factory.mktemp("dask")
    info = d / "scheduler.json"
    common = ["--host", "127.0.0.1", "--no-dashboard"]
    procs = []
    logs = []

    def start(args, name):
        log = open(d / f"{name}.log", "w")  # closed in the finally below
        logs.append(log)
        procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=d, env=ENV))

    try:
        start([_tool("dask"), "scheduler", "--scheduler-file", str(info), "--port", "0",
               *common], "scheduler")  # fmt: skip
        _wait_for(info.exists, "the scheduler file", procs)
        address = json.loads(info.read_text())["address"]
        for i in range(2):
            start([_tool("dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                   "--name", f"w{i}", "--memory-limit", "0", *common], f"worker{i}")  # fmt: skip
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            workers = sorted(client.scheduler_info()["workers"])
        yield address, workers
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs[::-1]:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()


def _calibrate(cwd: Path, *extra: str) -> list[dict]:
    cwd.mkdir()
    out = cwd / "rows.json"
    argv = [_tool("metatheory"), "calibrate", "M1", "P1", "--seeds", "3", "--json", str(out)]
    proc = subprocess.run([*argv, *extra], cwd=cwd, capture_output=True, text=True, timeout=900,
                          env=ENV)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_two_workers_give_the_rows_of_one_process(cluster, tmp_path):
    address, workers = cluster
    on_cluster = _calibrate(tmp_path / "cluster", "--scheduler", address)
    alone = _calibrate(tmp_path / "alone", "--jobs", "1")
    assert {w for r in on_cluster for w in r["workers"]} == set(workers)  # both ran tasks
    assert {r["jobs"] for r in on_cluster} == {2} and {r["jobs"] for r in alone} == {1}
    assert all(r["workers"] == ["local"] for r in alone)
    for r in on_cluster + alone:
        assert r["preset"] == "quick" and r["started"] <= r["finished"]
        for k in TIMING:
            del r[k]
    assert [r["id"] for r in on_cluster] == ["P1", "M1"]  # ledger order
    assert on_cluster == alone


def test_a_mutant_task_leaves_its_worker_true(cluster):
    """A mutant task, then a true task on the same worker: the true verdicts are those of a
    fresh process, although the mutant is caught on every seed (so a leaked patch would show)."""
    from distributed import Client

    address, workers = cluster
    c = claims.get("M1")
    seeds = (claims.calibration_seed("M1", 0), claims.calibration_seed("M1", 1))
    mutant = calibrate.Task("M1", "quick", "runs", c.mutants[0].name, seeds)
    true = calibrate.Task("M1", "quick", "runs", None, seeds)
    with Client(address, timeout=60) as client:
        pin = {"workers": [workers[0]], "allow_other_workers": False, "pure": False}
        wrong = client.submit(calibrate.run_task, mutant, None, **pin).result()
        after = client.submit(calibrate.run_task, true, None, **pin).result()
    assert wrong["worker"] == after["worker"] == workers[0]
    assert all(r["verdict"] == "fails" for r in wrong["records"])
    here = calibrate.run_task(true)
    assert after["records"] == here["records"]
    assert all(r["verdict"] == c.expected for r in after["records"])


def test_a_failing_task_is_reported_in_one_line(cluster):
    """A task that raises is retried once, then reported in one line; no row is made."""
    address, _ = cluster
    bad = calibrate.Task("M1", "quick", "runs", "no-such-mutant", (1,))
    events, done = [], []
    parallel.run_on_dask(
        calibrate.run_task, [bad], (None,), key=lambda t: t.key, scheduler=address,
        on_result=lambda *a: done.append(a), on_event=events.append,
    )  # fmt: skip
    assert not done and len(events) == 1, events
    assert "KeyError" in events[0] and bad.key in events[0] and "\n" not in events[0]


def test_scheduler_is_documented(capsys):
    with pytest.raises(SystemExit):
        cli.main(["calibrate", "--help"])
    out = capsys.readouterr().out
    assert "--scheduler ADDRESS" in out and "dask worker" in out and "--jobs N" in out
