"""Ctrl-C (SIGINT) during ``metatheory verify``: during the import, during compilation and
during a run, the command prints one line, ``metatheory: interrupted``, exits 130, and leaves
the cache so that the next ``--cache`` run finishes (and reuses what was finished).

The moments are found from the process itself, not from fixed sleeps: the import has begun
once the interrupt-watching thread exists (the console entry starts it before importing the
package), compilation once XLA writes its first program to the cache, and the second claim's
run once the first claim's experiment result is in the cache."""

import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")

METATHEORY = Path(sys.executable).parent / "metatheory"
PROGRESS = re.compile(r"^\[\d+/\d+\] ")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}


def _start(cwd: Path, *ids: str, env=None) -> subprocess.Popen:
    argv = [str(METATHEORY), "verify", *ids, "--cache"]
    return subprocess.Popen(argv, cwd=cwd, env=env or ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _interrupt_when(proc: subprocess.Popen, ready, timeout: float = 600.0) -> tuple[int, str]:
    t0 = time.monotonic()
    while not ready():
        assert proc.poll() is None, f"finished before the moment came: {proc.communicate()}"
        assert time.monotonic() - t0 < timeout, "the moment never came"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def _threads(proc) -> int:
    try:
        return len(os.listdir(f"/proc/{proc.pid}/task"))
    except FileNotFoundError:
        return 0


def _files(d: Path) -> list[Path]:
    return [p for p in d.glob("*") if not p.name.endswith(".tmp")] if d.is_dir() else []


def _assert_interrupted(code: int, err: str) -> None:
    lines = [x for x in err.splitlines() if x.strip() and not PROGRESS.match(x)]
    assert code == 130, err[-3000:]
    assert lines == ["metatheory: interrupted"], err[-3000:]


def _finish(cwd: Path, *ids: str, env=None) -> str:
    proc = _start(cwd, *ids, env=env)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "Error reading" not in err, err[-3000:]
    for p in _files(cwd / ".metatheory-cache" / "experiments"):
        pickle.loads(p.read_bytes())  # every stored result is whole
    return err


def test_interrupt_during_import_compilation_and_run(tmp_path):
    if not METATHEORY.exists():
        pytest.skip("the metatheory console script is not installed")
    cache = tmp_path / ".metatheory-cache"

    # during the import: the watcher thread is up, the package is being imported
    proc = _start(tmp_path, "C1")
    _assert_interrupted(*_interrupt_when(proc, lambda: _threads(proc) >= 2))

    # during compilation: XLA has just written its first program
    proc = _start(tmp_path, "C1")
    _assert_interrupted(*_interrupt_when(proc, lambda: _files(cache / "xla")))
    _finish(tmp_path, "C1")

    # during a run: C1's result is stored (its programs come from the compilation cache
    # above), C2 runs
    fresh = tmp_path / "run"
    fresh.mkdir()
    env = {**ENV, "JAX_COMPILATION_CACHE_DIR": str(cache / "xla")}
    proc = _start(fresh, "C1", "C2", env=env)
    stored = fresh / ".metatheory-cache" / "experiments"
    _assert_interrupted(*_interrupt_when(proc, lambda: _files(stored)))
    err = _finish(fresh, "C1", "C2", env=env)
    assert re.search(r"C1 \w[\w-]* \(cached\)", err), err  # the finished claim is reused


def test_a_sigint_before_the_pipe_still_reaches_the_watcher(monkeypatch):
    """A SIGINT that came before the wakeup pipe was set reaches the main thread's handler
    only after ``install`` (the C-level handler wrote nothing): the handler writes it to the
    pipe, so the watcher still leaves."""
    import metatheory_cli

    r, w = os.pipe()
    monkeypatch.setattr(metatheory_cli, "_PIPE_W", w)
    metatheory_cli._handler(signal.SIGINT, None)
    assert os.read(r, 8) == bytes([signal.SIGINT])
    os.close(r)
    os.close(w)
