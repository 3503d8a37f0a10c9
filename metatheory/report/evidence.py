"""Compact stored evidence: a run's verdicts and their experiment results on disk, so that the
paper's figures, tables and macros render from committed results without rerunning a claim.

Each claim is stored as ``<ID>.json`` (the ledger row, and the result's structure with every
scalar) and ``<ID>.npz`` (its arrays). Results are frozen dataclasses of arrays, numbers,
strings, tuples, dicts and nested dataclasses (fits, intervals, configs); they are rebuilt as
the same classes, so ``render_<id>(verdict, outdir)`` cannot tell a stored run from a live one.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

__all__ = ["save", "load", "load_all", "encode", "decode", "run_info"]

MAX_ARRAY_BYTES = 2_000_000
"""Arrays larger than this are not stored (the figure that needs one must summarize it)."""


def encode(obj, arrays: dict, path: str = "r"):
    """A JSON-able description of ``obj``; arrays go into ``arrays`` under their path."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        return {
            "__dataclass__": f"{cls.__module__}:{cls.__qualname__}",
            "fields": {
                f.name: encode(getattr(obj, f.name), arrays, f"{path}.{f.name}")
                for f in dataclasses.fields(obj)
            },
        }
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and getattr(obj, "ndim", 0) > 0:
        a = np.asarray(obj)
        if a.dtype == object:
            return {"__list__": [encode(x, arrays, f"{path}.{i}") for i, x in enumerate(a)]}
        if a.nbytes > MAX_ARRAY_BYTES:
            return {"__omitted__": f"array {a.shape} {a.dtype} ({a.nbytes} bytes)"}
        arrays[path] = a
        return {"__array__": path}
    if hasattr(obj, "dtype") and hasattr(obj, "item"):  # numpy / jax scalars
        return encode(np.asarray(obj).item(), arrays, path)
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else {"__float__": repr(obj)}
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, tuple | list):
        items = [encode(x, arrays, f"{path}.{i}") for i, x in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else {"__list__": items}
    if isinstance(obj, dict):
        return {
            "__dict__": [
                [encode(k, arrays, f"{path}.k{i}"), encode(v, arrays, f"{path}.{i}")]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    return {"__repr__": repr(obj)}


def decode(desc, arrays):
    """Inverse of :func:`encode`; ``ValueError`` for a dataclass that cannot be imported."""
    if not isinstance(desc, dict):
        return desc
    if "__array__" in desc:
        return arrays[desc["__array__"]]
    if "__float__" in desc:
        return float(desc["__float__"])
    if "__tuple__" in desc:
        return tuple(decode(x, arrays) for x in desc["__tuple__"])
    if "__list__" in desc:
        return [decode(x, arrays) for x in desc["__list__"]]
    if "__dict__" in desc:
        return {_hashable(decode(k, arrays)): decode(v, arrays) for k, v in desc["__dict__"]}
    if "__dataclass__" in desc:
        fields = {k: decode(v, arrays) for k, v in desc["fields"].items()}
        name = desc["__dataclass__"]
        mod, qual = name.split(":")
        try:
            cls = importlib.import_module(mod)
            for part in qual.split("."):
                cls = getattr(cls, part)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"stored evidence names dataclass {name}, which is unknown") from e
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"stored evidence names {name}, which is not a dataclass")
        init = {f.name for f in dataclasses.fields(cls) if f.init}
        obj = cls(**{k: v for k, v in fields.items() if k in init})
        for k, v in fields.items():
            if k not in init:
                object.__setattr__(obj, k, v)
        return obj
    if "__omitted__" in desc or "__repr__" in desc:
        return None
    return desc


def _hashable(x):
    return tuple(x) if isinstance(x, list) else x


def save(verdict, row: dict, directory: Path) -> list[Path]:
    """Store ``verdict``'s evidence and its ledger ``row`` under ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict = {}
    desc = encode(verdict.evidence, arrays)
    js = directory / f"{verdict.id}.json"
    js.write_text(json.dumps({"row": row, "evidence": desc}, separators=(",", ":")) + "\n")
    npz = directory / f"{verdict.id}.npz"
    np.savez_compressed(npz, **arrays)
    return [js, npz]


def load(cid: str, directory: Path):
    """The stored verdict of ``cid`` (a :class:`~metatheory.claims.Verdict` with evidence)."""
    from metatheory.claims import Check, Verdict

    directory = Path(directory)
    data = json.loads((directory / f"{cid}.json").read_text())
    with np.load(directory / f"{cid}.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    row = data["row"]
    return Verdict(
        verdict=row["verdict"],
        checks=tuple(Check(**c) for c in row.get("checks", [])),
        predicted=row["predicted"],
        measured=row["measured"],
        tolerance=row["tolerance"],
        numbers=row["numbers"],
        note=row.get("note", ""),
        evidence=decode(data["evidence"], arrays),
        id=row["id"],
        seconds=row["seconds"],
        preset=row.get("preset", "full"),
        seed=row.get("seed"),
    )


def load_all(directory: Path, cids) -> list:
    """Stored verdicts of ``cids`` that exist under ``directory``, in order."""
    return [load(c, directory) for c in cids if (Path(directory) / f"{c}.json").exists()]


def run_info(preset: str) -> dict:
    """Date, machine and versions of a run, for the paper."""
    import jax
    import jaxlib

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "preset": preset,
        "machine": f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}",
        "backend": jax.default_backend(),
        "devices": len(jax.devices()),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
    }
