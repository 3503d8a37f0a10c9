"""Process-wide JAX settings shared by the CLI, the test suites and subprocesses."""

from __future__ import annotations

import jax

__all__ = ["sync_cpu_dispatch"]


def sync_cpu_dispatch() -> None:
    """Turn off JAX's asynchronous CPU dispatch for this process.

    Asynchronous dispatch occasionally left a jitted Cholesky waiting forever on a 2-core
    machine (all threads on a futex; cf. jax-ml/jax#25861). Synchronous dispatch costs little
    here and removed the hang; every process that runs checks calls this first."""
    jax.config.update("jax_cpu_enable_async_dispatch", False)
