"""Calibration of the checks: false alarms under the true code, power against each mutant.

For every claim, the check runs under ``n`` independent seeds (each a fresh problem instance
and fresh data) with the true code and with each declared :class:`~metatheory.mutants.Mutant`
patched in. A row reports

- the **false-alarm rate**: the fraction of true-code runs whose verdict is ``fails``;
- each mutant's **power**: the fraction of runs whose verdict is not the claim's expected one
  (for a ``holds`` claim: not ``holds``);

with Clopper–Pearson 95% intervals, beside the check's designed false-alarm level (its
nominal test level, Bonferroni over sub-checks, read from a run at the ledger seed). Seeds are
the claim's calibration seeds ``first_seed, …, first_seed + n − 1``
(:func:`metatheory.claims.calibration_seed`, a function of the claim and the seed index only):
a check changed in view of a calibration is calibrated again on seeds it has not seen
(``first_seed = n``), and each row records its ``first_seed`` and ``preset``.

The unit of work is a :class:`Task`: one claim, preset, block of seeds, and either the true
code or one mutant. Across tasks the engine is Dask distributed (an embedded ``LocalCluster``
of ``jobs`` single-threaded worker processes, or any cluster by its scheduler address); one
process runs them in order when ``jobs=1`` (the Dask driver is
:func:`metatheory.parallel.run_on_dask`). Within a task JAX is the engine: the seeds of a
vmappable experiment run as one program sharded over the JAX devices
(:func:`metatheory.experiments.map_seeds`). A task patches its mutant in the process that runs
it and restores the true code when it ends, and tasks of one process never overlap. Every
finished (claim, mutant, seed) verdict is stored under the cache directory, so an interrupted
run resumes where it stopped; rows of a JSON file that match the request are not recomputed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from metatheory import claims, experiments, parallel
from metatheory.mutants import mutated
from metatheory.stats import clopper_pearson

__all__ = [
    "Task",
    "TaskFailed",
    "calibrate_claim",
    "calibrate",
    "claim_tasks",
    "run_task",
    "default_seeds",
    "LEVEL",
    "BLOCK",
]

LEVEL = 0.05
"""Tail probability of the Clopper–Pearson intervals (95% intervals)."""
STATISTICAL_SEEDS = 50
EXACT_SEEDS = 10
BLOCK = 10
"""Seeds per task: the grain of the work spread over workers."""
RETRIES = 1
"""A task whose worker raised is run once more; one whose worker died is moved once."""


def default_seeds(cid: str) -> int:
    """≥ 50 seeds for a statistical check, ≥ 10 random problem instances for an exact one."""
    c = claims.get(cid)
    return STATISTICAL_SEEDS if c.statistical else EXACT_SEEDS


def _interval(k: int, n: int) -> list[float]:
    ci = clopper_pearson(k, n, level=LEVEL)
    return [float(ci[0]), float(ci[1])]


@dataclass(frozen=True)
class Task:
    """One unit of calibration work. ``kind`` is ``"runs"`` (the verdicts of ``seeds`` under
    ``mutant``, ``None`` for the true code) or ``"design"`` (the designed level, from a run at
    the ledger seed)."""

    cid: str
    preset: str
    kind: str
    mutant: str | None = None
    seeds: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        """A readable, unique name (the Dask key)."""
        if self.kind == "design":
            return f"{self.cid}-{self.preset}-design"
        lo, hi = self.seeds[0], self.seeds[-1]
        return f"{self.cid}-{self.preset}-{self.mutant or 'true'}-seeds{lo}..{hi}"


def claim_tasks(
    cid: str, preset: str, seeds: list[int], block: int = BLOCK, mutant_seeds: int | None = None
) -> list[Task]:
    """The tasks of one claim: its design run, then each block of ``block`` seeds under the
    true code and under each mutant (on the first ``mutant_seeds`` seeds; default all). The
    blocks depend on the seeds only."""
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block!r}")
    if mutant_seeds is not None and mutant_seeds < 1:
        raise ValueError(f"mutant_seeds must be >= 1, got {mutant_seeds!r}")
    c = claims.get(cid)

    def blocks(s):
        return [tuple(s[i : i + block]) for i in range(0, len(s), block)]

    tasks = [Task(c.id, preset, "design")]
    tasks.extend(Task(c.id, preset, "runs", None, b) for b in blocks(seeds))
    for m in c.mutants:
        tasks.extend(Task(c.id, preset, "runs", m.name, b) for b in blocks(seeds[:mutant_seeds]))
    return tasks


def _record_path(cache_dir, cid, preset, mutant, seed):
    c = claims.get(cid)
    tag = experiments.source_hash(c.check.__module__)
    return Path(cache_dir) / "calibration" / f"{cid}-{preset}-{mutant or 'true'}-{seed}-{tag}.json"


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader (or a run
    interrupted at any instant) sees the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _runs(cid, preset, mutant, seeds, cache_dir):
    """Verdict summaries ``{"seed", "verdict", "failed"}`` of ``cid`` under ``mutant``."""
    c = claims.get(cid)
    mut = c.mutant(mutant) if mutant else None
    out, todo = {}, []
    for s in seeds:
        p = _record_path(cache_dir, cid, preset, mutant, s) if cache_dir else None
        if p is not None and p.exists():
            out[s] = json.loads(p.read_text())
        else:
            todo.append(s)
    if todo:
        with experiments.caching(cache_dir), mutated(mut):
            results = (
                experiments.map_seeds(c.experiment, c.presets[preset], todo)
                if hasattr(c.experiment, "core")
                else [None] * len(todo)
            )
            for s, r in zip(todo, results, strict=True):
                v = claims.run(cid, preset, seed=s, result=r)
                rec = {"seed": s, "verdict": v.verdict, "failed": v.failed}
                out[s] = rec
                if cache_dir:
                    _write_atomic(_record_path(cache_dir, cid, preset, mutant, s), json.dumps(rec))
    return [out[s] for s in seeds]


_ONE_AT_A_TIME = threading.Lock()
"""Tasks of one process never overlap: a mutant patches module globals of the process."""


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):  # not inside a Dask worker
        return "local"


def run_task(task: Task, cache_dir: str | None = None) -> dict:
    """Run ``task`` in this process: ``{"records"}`` (``"runs"``) or ``{"design_level"}``
    (``"design"``), with the ``worker`` that ran it and its ``started``/``finished`` times.
    The mutant is patched in for the task's duration only."""
    from metatheory.runtime import sync_cpu_dispatch

    with _ONE_AT_A_TIME:
        sync_cpu_dispatch()
        started = time.time()
        cache = None if cache_dir is None else Path(cache_dir)
        if task.kind == "design":
            with experiments.caching(cache):
                out = {"design_level": float(claims.run(task.cid, task.preset).design_level)}
        elif task.kind == "runs":
            out = {"records": _runs(task.cid, task.preset, task.mutant, task.seeds, cache)}
        else:
            raise ValueError(f"task kind must be 'runs' or 'design', got {task.kind!r}")
        out.update(worker=_worker_address(), started=started, finished=time.time())
        return out


def _tally(runs) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in runs:
        for name in r["failed"]:
            out[name] = out.get(name, 0) + 1
    return out


def _row(cid, preset, n, first_seed, results: dict[Task, dict]) -> dict:
    """A claim's row from the results of all its tasks."""
    c = claims.get(cid)
    expected = c.expected_for(preset)

    def records(mutant):
        ts = sorted((t for t in results if t.kind == "runs" and t.mutant == mutant),
                    key=lambda t: t.seeds[0])  # fmt: skip
        return [r for t in ts for r in results[t]["records"]]

    (design,) = (v for t, v in results.items() if t.kind == "design")
    true = records(None)
    k_fa = sum(r["verdict"] == "fails" for r in true)
    row = {
        "id": c.id,
        "seeds": n,
        "first_seed": first_seed,
        "preset": preset,
        "statistical": c.statistical,
        "expected": expected,
        "false_alarm": {"k": k_fa, "n": n, "ci": _interval(k_fa, n)},
        "unexpected_verdicts": sum(r["verdict"] not in (expected, "fails") for r in true),
        "failed_subchecks": _tally(true),
        "design_level": design["design_level"],
        "mutants": [],
    }
    for m in c.mutants:
        runs = records(m.name)
        k, n_m = sum(r["verdict"] != expected for r in runs), len(runs)
        row["mutants"].append(
            {
                "name": m.name,
                "description": m.description,
                "target": m.target,
                "power": {"k": k, "n": n_m, "ci": _interval(k, n_m)},
                "failed_subchecks": _tally(runs),
            }
        )
    vals = list(results.values())
    row["seconds"] = round(sum(v["finished"] - v["started"] for v in vals), 1)
    row["started"] = round(min(v["started"] for v in vals), 1)
    row["finished"] = round(max(v["finished"] for v in vals), 1)
    row["workers"] = sorted({v["worker"] for v in vals})
    return row


def _seed_list(cid, seeds, first_seed) -> list[int]:
    n = default_seeds(cid) if seeds is None else int(seeds)
    if n < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds!r}")
    if first_seed < 0:
        raise ValueError(f"first_seed must be >= 0, got {first_seed!r}")
    return [claims.calibration_seed(cid, i) for i in range(first_seed, first_seed + n)]


def calibrate_claim(
    cid: str,
    *,
    seeds: int | None = None,
    preset: str = "quick",
    cache_dir: Path | None = None,
    first_seed: int = 0,
    block: int = BLOCK,
    mutant_seeds: int | None = None,
) -> dict:
    """False alarms and power of claim ``cid``'s check over ``seeds`` seeds from the
    ``first_seed``-th calibration seed on (mutants on the first ``mutant_seeds``), computed in
    this process (see module)."""
    seed_list = _seed_list(cid, seeds, first_seed)
    cache = None if cache_dir is None else str(cache_dir)
    todo = claim_tasks(cid, preset, seed_list, block, mutant_seeds)
    results = {t: run_task(t, cache) for t in todo}
    return _row(cid, preset, len(seed_list), first_seed, results)


class TaskFailed(RuntimeError):
    """Tasks failed after their retry; the rows of the other claims were written."""


def _same_request(
    row: dict, n: int, first_seed: int, preset: str, source: str, n_mutant: int
) -> bool:
    powers = {m["power"]["n"] for m in row.get("mutants", [])} or {n_mutant}
    return (row.get("seeds"), row.get("first_seed", 0), row.get("preset", "quick"),
            row.get("source"), powers) == (n, first_seed, preset, source, {n_mutant})  # fmt: skip


def calibrate(
    cids=None,
    *,
    seeds: int | None = None,
    preset: str = "quick",
    cache_dir: Path | None = None,
    json_path: Path | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    first_seed: int = 0,
    block: int = BLOCK,
    mutant_seeds: int | None = None,
    on_task: Callable[[Task, dict], None] | None = None,
    on_row: Callable[[dict], None] | None = None,
    on_event: Callable[[str], None] | None = None,
) -> list[dict]:
    """Calibrate each claim (default: all): its :func:`claim_tasks` run in this process
    (``jobs=1``), on an embedded ``LocalCluster`` of ``jobs`` worker processes, or on the Dask
    cluster at ``scheduler``. Mutants run on the first ``mutant_seeds`` seeds (default: all
    ``seeds``; power needs fewer runs than a false-alarm rate). Each claim's row is merged into
    ``json_path`` as soon as its tasks are done, so a partial run leaves a valid file; a row
    already there for the same seeds, preset and check source is kept, not recomputed. Rows
    record ``seconds`` (the compute time of their tasks), ``started``/``finished`` (Unix
    seconds), ``jobs`` (worker processes), ``run`` (the start of this call), the ``workers``
    that ran their tasks and ``source`` (the hash of the check's code). ``on_task(task,
    result)`` is called as each task finishes, ``on_row(row)`` as each claim's row is complete,
    ``on_event(line)`` for a worker that died or a task that failed. Raises :class:`TaskFailed`
    if a task failed after its retry."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs!r}")
    if preset not in claims.PRESETS:
        raise ValueError(f"preset must be one of {claims.PRESETS}, got {preset!r}")
    cids = [claims.get(c).id for c in cids] if cids else claims.ids()
    started = round(time.time(), 1)
    cache = None if cache_dir is None else str(Path(cache_dir).resolve())
    old = _read_rows(json_path) if json_path is not None else {}
    seed_lists = {cid: _seed_list(cid, seeds, first_seed) for cid in cids}
    sources = {cid: experiments.source_hash(claims.get(cid).check.__module__) for cid in cids}
    n_mut = {cid: min(len(seed_lists[cid]), mutant_seeds or len(seed_lists[cid])) for cid in cids}
    request = {
        cid: (len(seed_lists[cid]), first_seed, preset, sources[cid], n_mut[cid]) for cid in cids
    }
    kept = {
        c: old[(c, preset)]
        for c in cids
        if (c, preset) in old and _same_request(old[(c, preset)], *request[c])
    }
    tasks = {cid: claim_tasks(cid, preset, seed_lists[cid], block, n_mut[cid]) for cid in cids}
    todo = [t for cid in cids if cid not in kept for t in tasks[cid]]
    results: dict[str, dict[Task, dict]] = {cid: {} for cid in cids}
    rows: dict[str, dict] = dict(kept)
    for cid in kept:
        if on_row is not None:
            on_row(kept[cid])

    def finish(task: Task, result: dict, n_jobs: int) -> None:
        if on_task is not None:
            on_task(task, result)
        got = results[task.cid]
        got[task] = result
        if len(got) == len(tasks[task.cid]):
            cid = task.cid
            row = _row(cid, preset, len(seed_lists[cid]), first_seed, got)
            row.update(jobs=n_jobs, run=started, source=sources[cid])
            rows[cid] = row
            if json_path is not None:
                write_json([row], json_path)
            if on_row is not None:
                on_row(row)

    on_event = on_event or (lambda line: None)
    if jobs == 1 and scheduler is None:
        for t in todo:
            for attempt in range(RETRIES + 1):
                try:
                    result = run_task(t, cache)
                    break
                except Exception as e:  # reported in one line, as from a worker
                    if attempt == RETRIES:
                        msg = str(e).splitlines()[0] if str(e) else ""
                        on_event(f"task {t.key} failed: {type(e).__name__}: {msg}")
            else:
                continue
            finish(t, result, 1)
    elif todo:
        parallel.run_on_dask(
            run_task, todo, (cache,), key=lambda t: t.key, jobs=jobs, scheduler=scheduler,
            retries=RETRIES, on_result=finish, on_event=on_event,
        )  # fmt: skip
    missing = [cid for cid in cids if cid not in rows]
    if missing:
        raise TaskFailed(f"no row for {', '.join(missing)}: a task failed (see above)")
    return [rows[cid] for cid in cids]


def _key(row: dict) -> tuple[str, str]:
    """A row's place in the file: its claim and preset (rows without a preset are quick)."""
    return row["id"], row.get("preset", "quick")


def _read_rows(path) -> dict[tuple[str, str], dict]:
    path = Path(path)
    if not path.exists():
        return {}
    try:
        return {_key(r): r for r in json.loads(path.read_text())}
    except (json.JSONDecodeError, KeyError, TypeError):
        return {}


def write_json(rows, path: Path) -> None:
    """Merge ``rows`` into the calibration file at ``path``: one row per claim and preset, in
    ledger order, quick before full."""
    path = Path(path)
    old = _read_rows(path)
    old.update({_key(r): r for r in rows})
    order = {cid: i for i, cid in enumerate(claims.ids())}
    presets = {p: i for i, p in enumerate(claims.PRESETS)}
    merged = sorted(old.values(), key=lambda r: (order.get(r["id"], 999), presets[_key(r)[1]]))
    _write_atomic(path, json.dumps(merged, indent=1) + "\n")


def format_table(rows) -> str:
    """Calibration as a plain-text table (one line per claim and per mutant)."""
    lines = [f"{'claim / mutant':34s} {'seeds':>5s} {'rate':>12s}  95% CI"]
    for r in rows:
        fa = r["false_alarm"]
        lines.append(
            f"{r['id'] + ' false alarms':34s} {fa['n']:5d} {fa['k']:5d}/{fa['n']:<6d}"
            f" [{fa['ci'][0]:.3f}, {fa['ci'][1]:.3f}]  design {r['design_level']:.3g}"
        )
        for m in r["mutants"]:
            p = m["power"]
            lines.append(
                f"  {m['name']:32s} {p['n']:5d} {p['k']:5d}/{p['n']:<6d}"
                f" [{p['ci'][0]:.3f}, {p['ci'][1]:.3f}]"
            )
    return "\n".join(lines)


def summary_line(row: dict) -> str:
    """One line per claim: false alarms and each mutant's power."""
    fa = row["false_alarm"]
    power = " ".join(f"{m['power']['k']}/{m['power']['n']}" for m in row["mutants"])
    return f"{row['id']}: {fa['k']}/{fa['n']} false alarms; power {power} ({row['seconds']} s)"
