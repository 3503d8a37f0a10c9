"""Numerical experiments: pure functions ``f(config, key) -> Result`` of a frozen config and a
PRNG key, returning frozen result dataclasses built by keyword (arrays, fitted numbers,
intervals). No plotting, no verdicts.

Every public experiment is decorated with :func:`experiment`, which caches its result by
(experiment, config, key, the source of the modules it depends on, the active mutant when
that mutant can reach it, ``XLA_FLAGS``). So two claims that share an experiment (G6 and G7
share one memory sweep) run it once, a mutant of a PAC-Bayes calculator does not retrain a
neural process, and editing one family's file expires only the experiments that import it.

An experiment whose body is pure JAX may be split as ``core(config, key) -> arrays`` (vmappable
over keys) and ``finish(config, arrays) -> Result`` with :func:`vmappable`; calibration then
runs its seeds as one vmapped program sharded over devices (:func:`map_seeds`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import inspect
import os
import pickle
import sys
import types
import warnings
from pathlib import Path

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from metatheory import mutants, parallel

__all__ = [
    "experiment",
    "vmappable",
    "caching",
    "lookup",
    "remember",
    "module_closure",
    "source_hash",
    "active_mutant",
    "map_seeds",
    "LONG_RUNNING",
    "PARTIAL_READ",
]

LONG_RUNNING = {"xla_backend_optimization_level": 2}
"""``compiler_options`` for the experiments whose run time dominates their compile time (the
long SGD runs of C3–C5): XLA's default backend optimization whatever ``XLA_FLAGS`` says. The
test suite lowers the process default to LLVM -O0, which halves compile time elsewhere but would
triple the run time of these programs. (The optimization level can change the last bits of a
float32 reduction, never a verdict.)"""

_CACHE: contextvars.ContextVar = contextvars.ContextVar("metatheory_cache", default=None)
active_mutant = mutants.active
"""The mutant patched in right now (``None`` with the true code)."""


@contextlib.contextmanager
def caching(directory: Path | None = None):
    """Cache experiment results inside the block: in memory, and on disk under ``directory``.

    With a directory, XLA's compiled programs are also kept there (JAX's persistent compilation
    cache, ``directory/xla``, unless one is configured already): a mutant run clears JAX's
    in-memory caches, and the programs it did not change (random draws, evaluation code) are
    then loaded instead of recompiled. The cache is keyed by the program, the XLA flags and
    the jax/jaxlib versions, so it never changes a result. Processes that share it may read an
    entry another is still writing: JAX's warning (:data:`PARTIAL_READ`) is silenced here."""
    store = {"mem": {}, "dir": Path(directory) if directory is not None else None, "computed": 0}
    token = _CACHE.set(store)
    saved = None
    if store["dir"] is not None and not jax.config.jax_compilation_cache_dir:
        repair_xla_cache(store["dir"] / "xla")
        names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
        saved = {n: getattr(jax.config, n) for n in names}
        jax.config.update(names[0], str(store["dir"] / "xla"))
        jax.config.update(names[1], XLA_CACHE_MIN_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=PARTIAL_READ, category=UserWarning)
            yield store
    finally:
        _CACHE.reset(token)
        for n, v in (saved or {}).items():
            jax.config.update(n, v)


PARTIAL_READ = "Error reading persistent compilation cache entry"
"""JAX's warning when a compiled program in the persistent cache does not decompress. Worker
processes share that cache and JAX writes an entry in place, so one can read an entry that
another is still writing (seen once in a 28-claim quick calibration on 2 workers); JAX then
compiles the program itself, and the entry is whole once written. An entry left damaged by an
interrupted write is removed, in one line, when the cache is opened (:func:`repair_xla_cache`)."""


def repair_xla_cache(directory: Path) -> int:
    """Delete the entries of JAX's persistent compilation cache under ``directory`` that do
    not decompress (a file truncated by an interrupted or full write): JAX would warn about
    each on every run and never rewrite it. Entries already checked (same name, size and
    modification time, listed in ``.metatheory-checked``) are not read again. Returns the
    number deleted and says so in one line on stderr."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    try:
        from jax._src.compilation_cache import decompress_executable
    except ImportError:  # a JAX without this helper: leave the cache to JAX
        return 0
    manifest = directory / ".metatheory-checked"
    try:
        known = set(manifest.read_text().split())
    except OSError:
        known = set()
    good, removed = [], 0
    for f in sorted(directory.glob("*-cache")):
        try:
            st = f.stat()
            tag = f"{f.name}:{st.st_size}:{st.st_mtime_ns}"
            if tag not in known:
                decompress_executable(f.read_bytes())
            good.append(tag)
        except Exception:  # unreadable or damaged: JAX recompiles and rewrites it
            for g in (f, f.with_name(f.name.removesuffix("-cache") + "-atime")):
                with contextlib.suppress(OSError):
                    g.unlink()
            removed += 1
    with contextlib.suppress(OSError):
        manifest.write_text("\n".join(good))
    if removed:
        print(
            f"metatheory: removed {removed} damaged XLA cache entries from {directory} "
            "(they are recompiled and written again)",
            file=sys.stderr,
        )
    return removed


XLA_CACHE_MIN_SECONDS = 0.0
"""Programs that compile faster than this are not written to the persistent cache. Every
program is kept: a mutant run clears JAX's caches and then asks again for hundreds of small
programs it leaves unchanged (random draws, data, eager operations), and loading one costs
well under a millisecond where compiling it costs 10-20 ms. G2's three mutants took 20.6 s
with a threshold of 0.05 s (JAX's default, 1 s, keeps even fewer) and 11.8 s with none; the
cache of G1 and G2 with all their mutants is 3.6 MB."""


def module_closure(name: str) -> frozenset[str]:
    """The ``metatheory`` modules that module ``name`` can reach through its globals."""
    return _closure(name)


@functools.cache
def _closure(name: str) -> frozenset[str]:
    seen, todo = set(), [name]
    while todo:
        m = sys.modules.get(todo.pop())
        if m is None or m.__name__ in seen:
            continue
        seen.add(m.__name__)
        for v in map(mutants.true_object, vars(m).values()):
            dep = v.__name__ if isinstance(v, types.ModuleType) else getattr(v, "__module__", None)
            if m.__name__ == __name__ and isinstance(v, types.ModuleType):
                continue  # this package holds every loaded experiment module as an attribute
            if isinstance(dep, str) and dep.startswith("metatheory") and dep not in seen:
                todo.append(dep)
    return frozenset(seen)


@functools.cache
def source_hash(name: str) -> str:
    """Hash of the source files of :func:`module_closure` of ``name``."""
    h = hashlib.sha256()
    for dep in sorted(_closure(name)):
        f = getattr(sys.modules[dep], "__file__", None)
        if f:
            h.update(dep.encode())
            h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def _key_bytes(key) -> bytes:
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.asarray(key).tobytes()


def _cache_key(fn, config, key) -> str | None:
    mut = active_mutant()
    tag = ""
    if mut is not None:
        if mut.module in _closure(fn.__module__):
            tag = mut.name
        # else: the mutant cannot reach this experiment; the true result stands
    h = hashlib.sha256()
    # XLA's flags change the last bits of float32 reductions (e.g. the tests' -O0 sums in
    # another order than the default -O2), so results computed under other flags are not reused
    flags = os.environ.get("XLA_FLAGS", "")
    parts = (fn.__module__, fn.__qualname__, repr(config), source_hash(fn.__module__), tag, flags)
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    h.update(_key_bytes(key))
    return h.hexdigest()[:24]


def _path(store, fn, k):
    if store["dir"] is None:
        return None
    return store["dir"] / "experiments" / f"{fn.__module__}.{fn.__qualname__}-{k}.pkl"


def lookup(fn, config, key):
    """``(True, result)`` if the active cache holds ``fn(config, key)``, else ``(False, None)``."""
    store = _CACHE.get()
    if store is None:
        return False, None
    k = _cache_key(fn, config, key)
    if k in store["mem"]:
        return True, store["mem"][k]
    path = _path(store, fn, k)
    if path is not None and path.exists():
        try:
            entry = pickle.loads(path.read_bytes())
        except Exception:  # a truncated file from an interrupted run: recompute
            return False, None
        if not _valid_entry(entry, k):  # another writer's file or a damaged one: recompute
            return False, None
        res = entry["result"]
        store["mem"][k] = res
        return True, res
    return False, None


_FORMAT = "metatheory-experiment-cache/1"


def _type_name(x) -> str:
    return f"{type(x).__module__}.{type(x).__qualname__}"


def _entry(k: str, res) -> dict:
    """The on-disk record of one result: its cache key and its type travel with it, so a file
    that is not such a record (or holds another key's result) is recomputed, not returned."""
    return {"format": _FORMAT, "key": k, "type": _type_name(res), "result": res}


def _valid_entry(entry, k: str) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("format") == _FORMAT
        and entry.get("key") == k
        and "result" in entry
        and entry["result"] is not None
        and entry.get("type") == _type_name(entry["result"])
    )


def remember(fn, config, key, res) -> None:
    """Store ``res = fn(config, key)`` in the active cache (memory, and disk if it has one)."""
    store = _CACHE.get()
    if store is None:
        return
    k = _cache_key(fn, config, key)
    store["computed"] += 1
    store["mem"][k] = res
    path = _path(store, fn, k)
    if path is None:
        return
    try:
        blob = pickle.dumps(_entry(k, res))
    except (pickle.PicklingError, TypeError, AttributeError):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
    except OSError as e:  # the directory became unwritable: keep the result in memory only
        warnings.warn(
            f"experiment cache {path.parent} not writable ({e.strerror or e}); "
            "results are kept in memory only",
            RuntimeWarning,
            stacklevel=2,
        )
        store["dir"] = None


def experiment(fn):
    """Mark ``fn(config, key) -> Result`` as an experiment: results cached inside
    :func:`caching` blocks (see the module docstring)."""
    sig = list(inspect.signature(fn).parameters)
    if sig[:2] != ["config", "key"]:
        raise TypeError(f"experiment {fn.__qualname__} must take (config, key), got {sig}")

    @functools.wraps(fn)
    def wrapper(config, key):
        hit, res = lookup(fn, config, key)
        if hit:
            return res
        res = fn(config, key)
        remember(fn, config, key, res)
        return res

    wrapper.is_experiment = True
    return wrapper


def vmappable(core, finish, *, compiler_options=None):
    """An experiment ``finish(config, core(config, key))`` whose ``core`` is pure JAX over
    ``key`` (no Python control flow on traced values), so seeds can be vmapped and sharded.

    The returned function is an :func:`experiment`; ``.core``, ``.finish`` and
    ``.compiler_options`` stay reachable for :func:`map_seeds`.
    ``compiler_options`` (e.g. :data:`LONG_RUNNING`) go to the top-level ``jax.jit`` that runs
    ``core`` (JAX accepts them only there, not on a jit nested in a vmap)."""
    top = (
        core
        if compiler_options is None
        else jax.jit(core, static_argnums=0, compiler_options=compiler_options)
    )

    def run(config, key):
        return finish(config, top(config, key))

    run.__name__ = run.__qualname__ = core.__name__.removesuffix("_core")
    run.__module__ = core.__module__
    run.__doc__ = core.__doc__
    wrapped = experiment(run)
    wrapped.core, wrapped.finish = core, finish
    wrapped.compiler_options = compiler_options
    return wrapped


def _program_bytes(compiled) -> int:
    """Arguments, outputs and scratch of a compiled program, per device (XLA's own count)."""
    m = compiled.memory_analysis()
    if m is None:
        return 0
    sizes = ("argument", "output", "temp", "generated_code")
    return sum(int(getattr(m, f"{k}_size_in_bytes", 0) or 0) for k in sizes) - int(
        getattr(m, "alias_size_in_bytes", 0) or 0
    )


def map_seeds(experiment, config, seeds, *, mesh=None) -> list:
    """``[experiment(config, jax.random.key(s)) for s in seeds]``, batched where it can be.

    An experiment built with :func:`vmappable` runs its ``core`` once,
    vmapped over the seeds' keys, with the seed axis sharded over ``mesh`` (default: every
    JAX device, so a GPU machine's devices, or several hosts after
    ``jax.distributed.initialize``, share the sweep); keys are padded to a multiple of the
    device count. When that program would need more memory than
    :func:`~metatheory.parallel.memory_budget` (XLA's count, read before it runs), the seeds run
    in equal chunks that fit (:func:`~metatheory.parallel.seed_chunk`; B2's full preset needs
    about 10 GB per seed); ``MemoryError`` when one seed does not fit. Other experiments run
    seed by seed. Either way, results already in the active experiment cache are reused and new
    ones are stored there.
    """
    seeds = [int(s) for s in seeds]
    core = getattr(experiment, "core", None)
    if core is None or not seeds:
        return [experiment(config, jax.random.key(s)) for s in seeds]
    found = {s: lookup(experiment, config, jax.random.key(s)) for s in seeds}
    todo = [s for s in seeds if not found[s][0]]
    out = {s: r for s, (hit, r) in found.items() if hit}
    if todo:
        mesh = parallel.seed_mesh() if mesh is None else mesh
        n_dev = mesh.devices.size
        sharding = NamedSharding(mesh, PartitionSpec("seeds"))
        run = jax.jit(
            jax.vmap(lambda k: core(config, k)),
            compiler_options=getattr(experiment, "compiler_options", None),
        )

        def keys(part, size):  # padded to ``size`` seeds (a multiple of the device count)
            padded = part + [part[-1]] * (size - len(part))
            return jax.device_put(jax.vmap(jax.random.key)(np.asarray(padded, np.uint32)), sharding)

        size = len(todo) + (-len(todo) % n_dev)
        program = run.lower(keys(todo, size)).compile()
        need, budget = _program_bytes(program), parallel.memory_budget(mesh.devices.flat[0])
        chunk = parallel.seed_chunk(need, size, n_dev, budget)
        if chunk == 0:
            raise MemoryError(
                f"one seed of {experiment.__name__} needs {need / (size // n_dev) / 1e9:.1f} GB;"
                f" this process may use {budget / 1e9:.1f} GB more (run fewer workers)"
            )
        if chunk < size:  # equal chunks, so one more program is compiled, not two
            parts = -(-len(todo) // chunk)
            size = -(-len(todo) // parts)
            size += -size % n_dev
            program = run.lower(keys(todo[:size], size)).compile()
        for i in range(0, len(todo), size):
            part = todo[i : i + size]
            arrays = jax.device_get(program(keys(part, size)))
            for j, s in enumerate(part):
                res = experiment.finish(config, jax.tree_util.tree_map(lambda a, j=j: a[j], arrays))
                remember(experiment, config, jax.random.key(s), res)
                out[s] = res
    return [out[s] for s in seeds]
