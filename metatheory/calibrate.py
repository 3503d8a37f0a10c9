"""Calibration of the checks: false alarms under the true code, power against each mutant.

For every claim, :func:`calibrate_claim` runs the check under ``n`` independent seeds (each a
fresh problem instance and fresh data) with the true code and with each declared
:class:`~metatheory.mutants.Mutant` patched in. It reports

- the **false-alarm rate**: the fraction of true-code runs whose verdict is ``fails``;
- each mutant's **power**: the fraction of runs whose verdict is not the claim's expected one
  (for a ``holds`` claim: not ``holds``);

with Clopper–Pearson 95% intervals, beside the check's designed false-alarm level (its
nominal test level, Bonferroni over sub-checks). Seeds are the claim's calibration seeds
``first_seed, …, first_seed + n − 1`` (:func:`metatheory.claims.calibration_seed`): a check
changed in view of a calibration is calibrated again on seeds it has not seen
(``first_seed = n``), and each row records its ``first_seed``. Seeds of a vmappable
experiment run as one program sharded over the JAX devices
(:func:`metatheory.experiments.map_seeds`). Every finished (claim, mutant, seed) verdict is
stored under the cache directory, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

from metatheory import claims, experiments, pool
from metatheory.mutants import mutated
from metatheory.stats import clopper_pearson

__all__ = ["calibrate_claim", "calibrate", "default_seeds", "LEVEL"]

LEVEL = 0.95
"""Confidence level of the Clopper–Pearson intervals."""
STATISTICAL_SEEDS = 50
EXACT_SEEDS = 10


def default_seeds(cid: str) -> int:
    """≥ 50 seeds for a statistical check, ≥ 10 random problem instances for an exact one."""
    c = claims.get(cid)
    return STATISTICAL_SEEDS if c.statistical else EXACT_SEEDS


def _interval(k: int, n: int) -> list[float]:
    ci = clopper_pearson(k, n, level=LEVEL)
    return [float(ci[0]), float(ci[1])]


def _record_path(cache_dir, cid, preset, mutant, seed):
    c = claims.get(cid)
    tag = experiments.source_hash(c.check.__module__)
    return Path(cache_dir) / "calibration" / f"{cid}-{preset}-{mutant or 'true'}-{seed}-{tag}.json"


def _runs(cid, preset, mutant, seeds, cache_dir, log):
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
                    p = _record_path(cache_dir, cid, preset, mutant, s)
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_text(json.dumps(rec))
                log(".")
    return [out[s] for s in seeds]


def calibrate_claim(
    cid: str,
    *,
    seeds: int | None = None,
    preset: str = "quick",
    cache_dir: Path | None = None,
    log=None,
    first_seed: int = 0,
) -> dict:
    """False alarms and power of claim ``cid``'s check over ``seeds`` seeds from the
    ``first_seed``-th calibration seed on (see module)."""
    c = claims.get(cid)
    n = default_seeds(cid) if seeds is None else int(seeds)
    if n < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds!r}")
    if first_seed < 0:
        raise ValueError(f"first_seed must be >= 0, got {first_seed!r}")
    log = log or (lambda s: None)
    seed_list = [claims.calibration_seed(cid, i) for i in range(first_seed, first_seed + n)]
    t0 = time.perf_counter()
    started = time.time()
    log(f"{cid} true code ")
    true = _runs(cid, preset, None, seed_list, cache_dir, log)
    k_fa = sum(r["verdict"] == "fails" for r in true)
    expected = c.expected_for(preset)
    unexpected = sum(r["verdict"] not in (expected, "fails") for r in true)
    design = _design_level(cid, preset)
    row = {
        "id": cid,
        "seeds": n,
        "first_seed": first_seed,
        "preset": preset,
        "statistical": c.statistical,
        "expected": expected,
        "false_alarm": {"k": k_fa, "n": n, "ci": _interval(k_fa, n)},
        "unexpected_verdicts": unexpected,
        "failed_subchecks": _tally(true),
        "design_level": design,
        "mutants": [],
    }
    log(f" {k_fa}/{n} false alarms\n")
    for m in c.mutants:
        log(f"{cid} {m.name} ")
        runs = _runs(cid, preset, m.name, seed_list, cache_dir, log)
        k = sum(r["verdict"] != expected for r in runs)
        row["mutants"].append(
            {
                "name": m.name,
                "description": m.description,
                "target": m.target,
                "power": {"k": k, "n": n, "ci": _interval(k, n)},
                "failed_subchecks": _tally(runs),
            }
        )
        log(f" power {k}/{n}\n")
    row["seconds"] = round(time.perf_counter() - t0, 1)
    row["started"], row["finished"] = round(started, 1), round(time.time(), 1)
    return row


def _tally(runs) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in runs:
        for name in r["failed"]:
            out[name] = out.get(name, 0) + 1
    return out


def _design_level(cid, preset) -> float:
    """The designed false-alarm level, read from a run of the check at its ledger seed."""
    return float(claims.run(cid, preset).design_level)


def _claim_row(seeds, preset, cache_dir, log, jobs, first_seed, run, cid) -> dict:
    row = calibrate_claim(
        cid, seeds=seeds, preset=preset, cache_dir=cache_dir, log=log, first_seed=first_seed
    )
    row["jobs"], row["run"] = jobs, run
    return row


def calibrate(
    cids=None,
    *,
    seeds: int | None = None,
    preset: str = "quick",
    cache_dir: Path | None = None,
    json_path: Path | None = None,
    log=None,
    jobs: int = 1,
    first_seed: int = 0,
) -> list[dict]:
    """:func:`calibrate_claim` for each claim (default: all); rows written to ``json_path``
    after each claim, so a partial run leaves a valid file. Each row records its ``seconds``,
    its ``started`` and ``finished`` times (Unix seconds), ``jobs`` and ``run`` (the start time
    of this call, shared by its rows), so the wall time of a run is the span of its rows.
    ``jobs=2`` shares the claims with one worker process (:class:`metatheory.pool.SharedRuns`:
    it calibrates from the last claim backwards; its progress goes to its own log). ``log`` must
    then be picklable (a module-level function such as :func:`stderr_log`)."""
    if jobs not in (1, 2):
        raise ValueError(f"jobs must be 1 or 2, got {jobs!r}")
    cids = [claims.get(c).id for c in cids] if cids else claims.ids()
    started = round(time.time(), 1)
    run = functools.partial(_claim_row, seeds, preset, cache_dir, log, jobs, first_seed, started)
    shared = None
    if jobs == 2 and len(cids) > 1:
        shared = pool.SharedRuns([(c,) for c in cids], run, cache_dir=cache_dir)
    rows = []
    try:
        for cid in cids:
            rows.append(shared.get(cid) if shared is not None else run(cid))
            if json_path is not None:
                write_json(rows, json_path)
    finally:
        if shared is not None:
            shared.close()
    return rows


def write_json(rows, path: Path) -> None:
    """Merge ``rows`` into the calibration file at ``path`` (by claim id, ledger order)."""
    path = Path(path)
    old = {}
    if path.exists():
        try:
            old = {r["id"]: r for r in json.loads(path.read_text())}
        except (json.JSONDecodeError, KeyError, TypeError):
            old = {}
    old.update({r["id"]: r for r in rows})
    order = {cid: i for i, cid in enumerate(claims.ids())}
    merged = sorted(old.values(), key=lambda r: order.get(r["id"], 999))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(merged, indent=1) + "\n")
    tmp.replace(path)


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


def stderr_log(msg: str) -> None:
    print(msg, end="", file=sys.stderr, flush=True)
