"""Share a known list of claim runs between this process and one worker process.

JAX compiles on one core, and most of the test suite's time is compilation (every mutant
recompiles the code under test), so on a two-core machine a second process nearly halves the
wall time. :class:`VerdictPool` takes the runs ``(claim id, mutant name or None)`` in the
order this process will ask for them. A spawned worker takes the runs claim by claim from the
**last** claim backwards (within a claim, the true run first: its mutants reuse the true results
they cannot reach), while this process computes, on demand, the runs the worker has not
started: the two meet in the middle without a cost table, and this process waits at most for
the one run the worker is busy with. Both share the on-disk experiment cache (writes are
atomic), so a true result computed by one is read by the other.

The worker runs :func:`metatheory.claims.run` exactly as this process would, with the same
environment (``XLA_FLAGS`` included); verdicts come back pickled. A failure in the worker is
raised here with its traceback, and a dead worker is reported, never waited on.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import shutil
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

__all__ = ["VerdictPool"]

_FREE, _HERE, _WORKER = 0, 1, 2


def _work(jobs, order, state, preset, cache_dir, out) -> None:
    """The worker: the free runs of ``jobs`` in ``order``, each result pickled to ``out``; its
    output goes to ``out/worker.log``, not into the caller's terminal."""
    import os

    log = os.open(Path(out) / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    import jax

    jax.config.update("jax_cpu_enable_async_dispatch", False)  # as the root conftest.py
    from metatheory import claims, experiments

    with experiments.caching(None if cache_dir is None else Path(cache_dir)):
        for i in order:
            with state.get_lock():
                if state[i] != _FREE:
                    continue
                state[i] = _WORKER
            cid, mutant = jobs[i]
            try:
                payload = (True, claims.run(cid, preset, mutant=mutant))
            except Exception:  # reported to the process that asks for this run
                payload = (False, traceback.format_exc())
            tmp = Path(out) / f"{i}.tmp"
            tmp.write_bytes(pickle.dumps(payload))
            tmp.replace(Path(out) / f"{i}.pkl")


class VerdictPool:
    """``jobs``: the runs ``(claim id, mutant or None)`` in the order :meth:`get` will be asked
    for them; ``compute(cid, mutant)`` runs one in this process (e.g. ``claims.run`` with the
    caller's cache). Use as a context manager; the worker is stopped on exit."""

    def __init__(self, jobs: Sequence[tuple[str, str | None]], preset: str, compute, *,
                 cache_dir: Path | None = None):  # fmt: skip
        self.jobs = list(dict.fromkeys(jobs))
        self.index = {j: i for i, j in enumerate(self.jobs)}
        cids = list(dict.fromkeys(cid for cid, _ in self.jobs))
        # the worker's order: claims from the last, each claim's runs in the given order
        order = [i for cid in reversed(cids) for i, (c, _) in enumerate(self.jobs) if c == cid]
        self.compute = compute
        ctx = mp.get_context("spawn")  # never fork a process that has started JAX
        self.state = ctx.Array("b", len(self.jobs))
        self.out = Path(tempfile.mkdtemp(prefix="metatheory-pool-"))
        cache = None if cache_dir is None else str(cache_dir)
        args = (self.jobs, order, self.state, preset, cache)
        self.proc = ctx.Process(target=_work, args=(*args, str(self.out)), daemon=True)
        self.proc.start()

    def get(self, cid: str, mutant: str | None = None):
        """The verdict of ``(cid, mutant)``: computed here unless the worker has taken it."""
        i = self.index.get((cid, mutant))
        if i is not None:
            with self.state.get_lock():
                if self.state[i] == _FREE:
                    self.state[i] = _HERE
                theirs = self.state[i] == _WORKER
            if theirs:
                return self._wait(i)
        return self.compute(cid, mutant)

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
