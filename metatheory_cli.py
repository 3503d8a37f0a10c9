"""Console entry point of ``metatheory``: Ctrl-C handling is installed here, before the package
(and with it JAX) is imported, then :func:`metatheory.cli.main` runs.

On SIGINT the process writes one line, ``metatheory: interrupted``, to stderr and leaves at
once with exit code 130 (``os._exit``): the interpreter's finalisation, which could otherwise
run while XLA's threads still work, is skipped. Every cache file is written to a temporary
name and renamed into place, so the cache is consistent at any instant; JAX's own compilation
cache writes are waited for (:func:`guard_writes`). A thread watches the signal's wakeup pipe,
so the interrupt takes effect even while the main thread is inside a long XLA call.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

__all__ = ["main", "install", "guard_writes", "MESSAGE"]

MESSAGE = "metatheory: interrupted"
EXIT_INTERRUPTED = 130
WRITING = threading.Lock()
"""Held while a cache file is written by code that does not rename atomically."""
_ONCE = threading.Lock()
_WRITE_WAIT_SECONDS = 30.0


def _leave() -> None:
    """Print the one line and exit 130, once."""
    if not _ONCE.acquire(blocking=False):
        threading.Event().wait()  # another thread is leaving
    WRITING.acquire(timeout=_WRITE_WAIT_SECONDS)  # no half-written compilation cache entry
    try:
        lead = "\n" if sys.stderr.isatty() else ""  # end a progress bar's line
        os.write(2, f"{lead}{MESSAGE}\n".encode())
    finally:
        os._exit(EXIT_INTERRUPTED)


_PIPE_W: int | None = None
"""The write end of the wakeup pipe, once :func:`install` made it."""


def _handler(signum, frame) -> None:
    """The main thread's handler only writes the signal to the wakeup pipe (again: the C-level
    handler may have written it already, or not, for a signal that came before the pipe was
    set), and the watching thread leaves (after any write the main thread holds
    :data:`WRITING` for). Raising here would let library code swallow the interrupt."""
    if _PIPE_W is not None:
        try:
            os.write(_PIPE_W, bytes([signum]))
        except OSError:  # the pipe is full: the watcher has bytes to read already
            pass


def _watch(fd: int) -> None:
    while True:
        try:
            data = os.read(fd, 64)
        except InterruptedError:
            continue
        if not data:
            return
        if signal.SIGINT in data:
            _leave()


def install() -> None:
    """Handle SIGINT as described in the module docstring (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("install() must run in the main thread")
    global _PIPE_W
    r, w = os.pipe()
    os.set_blocking(w, False)
    _PIPE_W = w
    # the pipe and the handler first, the watcher last: a SIGINT that comes in between waits
    # in the pipe, and one that came before the pipe is written there by the handler
    signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    signal.signal(signal.SIGINT, _handler)
    threading.Thread(target=_watch, args=(r,), name="metatheory-sigint", daemon=True).start()


def guard_writes() -> None:
    """Make JAX's persistent compilation cache hold :data:`WRITING` while it writes an entry
    (it writes in place, without a rename), so an interrupt waits for the entry to be whole."""
    try:
        from jax._src import lru_cache
    except ImportError:  # another JAX layout: its cache then stands on its own
        return
    put = getattr(lru_cache.LRUCache, "put", None)
    if put is None or getattr(put, "_guarded", False):
        return

    def guarded(self, key, value):
        with WRITING:
            return put(self, key, value)

    guarded._guarded = True
    lru_cache.LRUCache.put = guarded


def main() -> None:
    try:
        install()
        from metatheory.cli import main as run
    except KeyboardInterrupt:  # a signal before the handler was in place
        _leave()
    sys.exit(run())


if __name__ == "__main__":
    main()
