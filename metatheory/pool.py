"""Share a known list of runs between this process and one worker process.

JAX compiles on one core, and most of the test suite's time is compilation (every mutant
recompiles the code under test), so on a two-core machine a second process nearly halves the
wall time. :class:`SharedRuns` takes the runs (argument tuples of one function ``fn``) in the
order this process will ask for them. A spawned worker takes them group by group (a group is
one claim: its true run first, whose results the claim's mutants reuse where they cannot reach
them) from the **last** group backwards, while this process computes, on demand, the runs the
worker has not started: the two meet in the middle without a cost table, and this process waits
at most for the one run the worker is busy with. Both share the on-disk experiment cache
(writes are atomic), so a true result computed by one is read by the other.

The worker calls ``fn`` exactly as this process would, with the same environment
(``XLA_FLAGS`` included); results come back pickled. A failure in the worker is raised here
with its traceback, and a dead worker is reported, never waited on. pytest uses it for the
verdicts (:func:`verdict_of`), ``metatheory calibrate --jobs 2`` for whole claims.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["SharedRuns", "verdict_of"]

_FREE, _HERE, _WORKER = 0, 1, 2


def verdict_of(preset: str, cid: str, mutant: str | None = None):
    """``claims.run(cid, preset, mutant=mutant)`` (a picklable run function for the worker)."""
    from metatheory import claims

    return claims.run(cid, preset, mutant=mutant)


def _work(fn, jobs, order, state, cache_dir, out) -> None:
    """The worker: ``fn(*job)`` for the free jobs in ``order``, each result pickled to
    ``out``; its output goes to ``out/worker.log``, not into the caller's terminal."""
    log = os.open(Path(out) / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    import jax

    jax.config.update("jax_cpu_enable_async_dispatch", False)  # as the root conftest.py
    from metatheory import experiments

    with experiments.caching(None if cache_dir is None else Path(cache_dir)):
        for i in order:
            with state.get_lock():
                if state[i] != _FREE:
                    continue
                state[i] = _WORKER
            try:
                payload = (True, fn(*jobs[i]))
            except Exception:  # reported to the process that asks for this run
                payload = (False, traceback.format_exc())
            tmp = Path(out) / f"{i}.tmp"
            tmp.write_bytes(pickle.dumps(payload))
            tmp.replace(Path(out) / f"{i}.pkl")


class SharedRuns:
    """``fn(*job)`` for each of ``jobs`` (tuples, in the order :meth:`get` will ask for them),
    shared with one worker process. ``fn`` must be picklable (a module-level function or a
    ``functools.partial`` of one); this process calls it inside the caller's experiment cache,
    the worker inside ``experiments.caching(cache_dir)``. ``group(job)`` names the group a job
    belongs to (default: its first element, the claim id). Use as a context manager; the
    worker is stopped on exit."""

    def __init__(self, jobs: Sequence[tuple], fn: Callable, *, cache_dir: Path | None = None,
                 group: Callable[[tuple], object] = lambda job: job[0]):  # fmt: skip
        self.jobs = list(dict.fromkeys(tuple(j) for j in jobs))
        self.index = {j: i for i, j in enumerate(self.jobs)}
        self.fn = fn
        groups = list(dict.fromkeys(group(j) for j in self.jobs))
        # the worker's order: groups from the last, each group's jobs in the given order
        order = [i for g in reversed(groups) for i, j in enumerate(self.jobs) if group(j) == g]
        ctx = mp.get_context("spawn")  # never fork a process that has started JAX
        self.state = ctx.Array("b", len(self.jobs))
        self.out = Path(tempfile.mkdtemp(prefix="metatheory-pool-"))
        cache = None if cache_dir is None else str(cache_dir)
        args = (fn, self.jobs, order, self.state, cache, str(self.out))
        self.proc = ctx.Process(target=_work, args=args, daemon=True)
        self.proc.start()

    def get(self, *job):
        """``fn(*job)``: computed here unless the worker has taken it (then its result)."""
        i = self.index.get(job)
        if i is not None:
            with self.state.get_lock():
                if self.state[i] == _FREE:
                    self.state[i] = _HERE
                theirs = self.state[i] == _WORKER
            if theirs:
                return self._wait(i)
        return self.fn(*job)

    def _wait(self, i: int):
        path = self.out / f"{i}.pkl"
        while not path.exists():
            if not self.proc.is_alive() and not path.exists():
                log = self.out / "worker.log"
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise RuntimeError(
                    f"the worker process died (exit code {self.proc.exitcode}) "
                    f"while running {self.jobs[i]}; its output ends:\n{tail}"
                )
            time.sleep(0.05)
        ok, payload = pickle.loads(path.read_bytes())
        if not ok:
            raise RuntimeError(f"{self.jobs[i]} failed in the worker process:\n{payload}")
        return payload

    def close(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join()
        shutil.rmtree(self.out, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
