"""The ``metatheory`` command.

  metatheory list [--markdown | --json]   the claims, their statements and sources
  metatheory verify [ID ...] [--json P]   run checks, print the ledger, exit 0 iff all as expected
  metatheory calibrate [ID ...] [--seeds S] [--first-seed I] [--json P] [--full] [--jobs N]
                      [--scheduler ADDRESS] [--mutant-seeds K]
                                          false alarms and power of each check over S seeds
                                          (Dask: N local workers, or the cluster at ADDRESS)
  metatheory figures [--fresh [--full]]   figures, tables, macros -> paper/generated/ (from the
                                          committed results in paper/results/ unless --fresh)
  metatheory paper [--fresh [--full]]     the same, then build paper/main.pdf
  metatheory reproduce [--full]           verify every claim, JSON ledger, then the paper;
                                          --full stores the run in paper/results/
  metatheory bound NAME --arg V ...       evaluate one calculator of metatheory.bounds

Long commands show a progress bar on a terminal (``--quiet``: one line per claim). Bad
arguments give one line on stderr and exit code 2 (before any work starts); Ctrl-C gives one
line and exit code 130, and the next run resumes from the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from metatheory import claims
from metatheory.cli._bound import add_bound_parsers, cmd_bound
from metatheory.cli._errors import _Parser, _Usage
from metatheory.cli._progress import _Progress

CACHE = Path(".metatheory-cache")


def _out_path(cmd: str, path) -> Path | None:
    """Check an output path before any work starts: a file (not a directory) in an existing,
    writable directory."""
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        raise _Usage(f"metatheory {cmd}: --json {p}: is a directory (give a file name)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise _Usage(f"metatheory {cmd}: --json {p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise _Usage(f"metatheory {cmd}: --json {p}: not writable")
    return p


def _write_json(cmd: str, verdicts, out: Path) -> bool:
    """Write the ledger JSON; a write that fails after the run (a full disk, ``/dev/full``)
    is one line on stderr, not a traceback."""
    from metatheory import report

    try:
        report.write_json(verdicts, out)
    except OSError as e:
        print(f"metatheory {cmd}: --json {out}: {e.strerror or e}", file=sys.stderr)
        return False
    print(f"wrote {out}")
    return True


def _check_cache(cmd: str, directory: Path | None = None) -> None:
    """Before any work: the cache directory (default :data:`CACHE`; its ``experiments`` and
    ``xla`` folders too) is a writable directory, or can be created."""
    directory = CACHE if directory is None else Path(directory)
    for d in (directory, directory / "experiments", directory / "xla"):
        if d.exists() and not d.is_dir():
            raise _Usage(f"metatheory {cmd}: cache {d} is not a directory (remove or rename it)")
        if d.exists() and not os.access(d, os.W_OK | os.X_OK):
            raise _Usage(f"metatheory {cmd}: cache {d} is not writable (fix its permissions)")
        if not d.exists():
            parent = d.parent if d != directory else (d.parent if str(d.parent) else Path("."))
            if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
                raise _Usage(f"metatheory {cmd}: cannot create the cache {d}: not writable")
            break


def _unique_ids(cmd: str, ids) -> list[str]:
    """Claim ids in canonical spelling, each once (``G1 g1 G1`` runs G1 once, with a note)."""
    seen: list[str] = []
    for cid in ids or []:
        canon = claims.get(cid).id
        if canon in seen:
            print(f"metatheory {cmd}: {cid} repeats {canon}; running it once", file=sys.stderr)
        else:
            seen.append(canon)
    return seen


def _run_claims(cids, preset, *, cache: bool, quiet: bool = False):
    cids = [claims.get(c).id for c in cids] if cids else claims.ids()
    out = []
    progress = _Progress(len(cids), quiet=quiet, desc=preset)
    try:
        for i, cid in enumerate(cids, 1):
            if progress.bar is not None:
                progress.bar.set_postfix_str(cid, refresh=True)
            v = claims.run(cid, preset, cache_dir=CACHE if cache else None)
            out.append(v)
            took = "cached" if getattr(v, "cached", False) else f"{v.seconds:.1f} s"
            progress.step(line=f"[{i}/{len(cids)}] {cid} {v.verdict} ({took})")
    finally:
        progress.close()
    return out


def _all_expected(verdicts) -> bool:
    return all(v.verdict == claims.get(v.id).expected_for(v.preset) for v in verdicts)


def _paper_dir(arg: str) -> Path:
    p = Path(arg)
    if not (p / "main.tex").is_file():
        raise _Usage(
            f"metatheory: no main.tex in {p} (run from the repository root or pass --paper-dir)"
        )
    return p


def cmd_list(args) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    if args.json:
        print(json.dumps([_claim_row(claims.get(c)) for c in claims.ids()], indent=1))
        return 0
    for cid in claims.ids():
        c = claims.get(cid)
        print(f"{c.id:4s} {c.family:15s} [{c.expected}] {c.statement}  ({c.source})")
    return 0


def _claim_row(c) -> dict:
    """One claim of ``metatheory list --json``: its declaration, with its evidence kind and
    the BibTeX keys it cites."""
    return {
        "id": c.id,
        "name": c.name,
        "family": c.family,
        "statement": c.statement,
        "source": c.source,
        "expected": c.expected,
        "evidence": c.evidence,
        "cites": list(c.cites),
        "statistical": c.statistical,
        "seed": c.seed,
        "mutants": [m.name for m in c.mutants],
    }


def markdown_table() -> str:
    """The README's claims table: one row per registered claim."""
    lines = [
        "| id | family | claim | source | expected verdict | mutants |",
        "|---|---|---|---|---|---|",
    ]
    for cid in claims.ids():
        c = claims.get(cid)
        row = [c.id, f"`{c.family}`", c.statement, c.source, f"`{c.expected}`", str(len(c.mutants))]
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in row) + " |")
    return "\n".join(lines)


def cmd_verify(args) -> int:
    from metatheory import report

    out = _out_path("verify", args.json)
    if args.cache:
        _check_cache("verify")
    args.ids = _unique_ids("verify", args.ids)
    preset = "full" if args.full else "quick"
    verdicts = _run_claims(args.ids, preset, cache=args.cache, quiet=args.quiet)
    print(report.format_table(verdicts))
    if out is not None and not _write_json("verify", verdicts, out):
        return 1
    ok = _all_expected(verdicts)
    if not ok:
        bad = [v.id for v in verdicts if v.verdict != claims.get(v.id).expected_for(v.preset)]
        print(f"not as expected: {', '.join(bad)}", file=sys.stderr)
    return 0 if ok else 1


def cmd_calibrate(args) -> int:
    from metatheory import calibrate

    if args.seeds is not None and args.seeds < 1:
        raise _Usage(f"metatheory calibrate: --seeds must be >= 1, got {args.seeds}")
    if args.first_seed < 0:
        raise _Usage(f"metatheory calibrate: --first-seed must be >= 0, got {args.first_seed}")
    if args.jobs < 1:
        raise _Usage(f"metatheory calibrate: --jobs must be >= 1, got {args.jobs}")
    if args.block < 1:
        raise _Usage(f"metatheory calibrate: --block must be >= 1, got {args.block}")
    if args.mutant_seeds is not None and args.mutant_seeds < 1:
        raise _Usage(f"metatheory calibrate: --mutant-seeds must be >= 1, got {args.mutant_seeds}")
    out = _out_path("calibrate", args.json)
    _check_cache("calibrate")
    cids = _unique_ids("calibrate", args.ids) or claims.ids()
    if args.jobs > 1 and args.scheduler is None:
        # after Ctrl-C (os._exit) multiprocessing's resource tracker still removes the embedded
        # cluster's semaphores; it need not say so on the terminal (it reads the -W options)
        sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
    preset = "full" if args.full else "quick"
    n = {c: args.seeds or calibrate.default_seeds(c) for c in cids}
    total = sum(
        len(calibrate.claim_tasks(c, preset, [0] * n[c], args.block, args.mutant_seeds))
        for c in cids
    )
    progress = _Progress(total, unit="task", quiet=args.quiet, desc="calibrate")
    n_rows = [0]

    def on_task(task, result):
        progress.step(now=f"{n_rows[0]}/{len(cids)} claims")

    def on_row(row):
        n_rows[0] += 1
        progress.step(0, now=f"{n_rows[0]}/{len(cids)} claims", line=calibrate.summary_line(row))

    try:
        rows = calibrate.calibrate(
            cids,
            seeds=args.seeds,
            preset=preset,
            cache_dir=CACHE,
            json_path=out,
            jobs=args.jobs,
            scheduler=args.scheduler,
            first_seed=args.first_seed,
            block=args.block,
            mutant_seeds=args.mutant_seeds,
            on_task=on_task,
            on_row=on_row,
            on_event=lambda line: progress.note(f"metatheory calibrate: {line}"),
        )
    except calibrate.TaskFailed as e:
        progress.close()
        print(f"metatheory calibrate: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # no scheduler at --scheduler, or one that went away
        progress.close()
        if args.scheduler is None:
            raise
        print(f"metatheory calibrate: --scheduler {args.scheduler}: {e}", file=sys.stderr)
        return 1
    progress.close()
    print(calibrate.format_table(rows))
    if out is not None:
        print(f"wrote {out}")
    return 0


def _generate(args, *, build: bool, run: bool = False):
    """Render ``paper/generated`` and optionally build the PDF.

    By default every figure, table and macro is rendered from the committed paper-scale
    results (``paper/results/``) without rerunning a claim. ``--fresh`` (or ``run=True``)
    runs the claims first (quick presets, or ``--full``) and renders from that run; a
    ``--full`` run is also stored as the committed results."""
    from metatheory import report

    paper = _paper_dir(args.paper_dir)
    preset = "full" if args.full else "quick"
    verdicts = []
    if run or getattr(args, "fresh", False):
        verdicts = _run_claims(
            getattr(args, "ids", []), preset, cache=True, quiet=getattr(args, "quiet", False)
        )
        if args.full:
            report.store_results(verdicts, paper / report.RESULTS, "full")
            print(f"stored the run under {paper / report.RESULTS}")
    if getattr(args, "fresh", False):
        report.write_generated(verdicts, paper / "generated")
        source = f"a fresh {preset} run"
    else:
        stored = report.write_paper_from_results(paper, "full")
        missing = sorted(set(claims.ids()) - {v.id for v in stored})
        source = f"the committed results in {paper / report.RESULTS}"
        if missing:
            print(f"no committed results for {', '.join(missing)}", file=sys.stderr)
    print(f"wrote {paper / 'generated'} from {source}")
    if not build:
        return verdicts, None
    try:
        pdf = report.build_pdf(paper)
    except RuntimeError as e:  # latexmk ran and failed: its log tail, then one clear line
        print(str(e), file=sys.stderr)
        return verdicts, f"PDF not built: latexmk failed in {paper} (see {paper / 'main.log'})"
    if pdf is None:
        return verdicts, f"PDF not built: latexmk not found (install it: {TEX_INSTALL})"
    print(f"built {pdf}")
    return verdicts, None


TEX_INSTALL = (
    "sudo apt-get install latexmk lmodern texlive-latex-recommended texlive-latex-extra "
    "texlive-science texlive-fonts-recommended"
)
"""The one command that installs what ``paper/main.tex`` needs (Debian/Ubuntu)."""


def cmd_figures(args) -> int:
    _generate(args, build=False)
    return 0


def cmd_paper(args) -> int:
    _, problem = _generate(args, build=True)
    if problem:
        print(f"metatheory paper: {problem}", file=sys.stderr)
        return 1
    return 0


def cmd_reproduce(args) -> int:
    from metatheory import report

    out = _out_path("reproduce", args.json)
    verdicts, problem = _generate(args, build=True, run=True)
    print(report.format_table(verdicts))
    wrote = _write_json("reproduce", verdicts, out)
    ok = _all_expected(verdicts) and wrote
    if not ok:
        bad = [v.id for v in verdicts if v.verdict != claims.get(v.id).expected_for(v.preset)]
        print(f"not as expected: {', '.join(bad)}", file=sys.stderr)
    if problem:
        print(f"metatheory reproduce: {problem}", file=sys.stderr)
    return 0 if ok and not problem else 1


_QUIET = "no progress bar: one line per claim on stderr"


def _default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def build_parser() -> argparse.ArgumentParser:
    from metatheory import __version__

    p = _Parser(
        prog="metatheory",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    p.add_argument("--version", action="version", version=f"metatheory {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    ls = sub.add_parser("list", help="list the claims")
    ls.add_argument("--markdown", action="store_true", help="the README's claims table")
    ls.add_argument("--json", action="store_true", help="the claims as JSON, on stdout")
    ls.set_defaults(_cmd=cmd_list)

    v = sub.add_parser("verify", help="run claim checks and print the ledger")
    v.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    v.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    v.add_argument("--full", action="store_true", help="paper-scale preset")
    v.add_argument("--cache", action="store_true", help=f"reuse finished runs in {CACHE}/")
    v.add_argument("--quiet", action="store_true", help=_QUIET)
    v.set_defaults(_cmd=cmd_verify)

    c = sub.add_parser("calibrate", help="false alarms and power of the checks over many seeds")
    c.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    c.add_argument(
        "--seeds",
        type=int,
        default=None,
        metavar="S",
        help="seeds per claim (default: 50 for statistical checks, 10 for exact ones)",
    )
    c.add_argument(
        "--first-seed",
        type=int,
        default=0,
        metavar="I",
        help="start at the I-th calibration seed (seeds a changed check has not seen; default 0)",
    )
    c.add_argument(
        "--mutant-seeds",
        type=int,
        default=None,
        metavar="K",
        help="run each mutant on the first K of the seeds (default: all of them)",
    )
    c.add_argument("--json", metavar="PATH", help="merge the rows into this JSON file")
    c.add_argument("--full", action="store_true", help="paper-scale preset")
    c.add_argument(
        "--jobs",
        type=int,
        default=_default_jobs(),
        metavar="N",
        help="worker processes of the embedded Dask LocalCluster (default: the CPU count, at "
        "most 8); 1 runs every task in this process",
    )
    c.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the tasks on the Dask cluster at ADDRESS (e.g. tcp://10.0.0.5:8786, started "
        "with 'dask scheduler' and 'dask worker', or by dask-jobqueue) instead of a local one; "
        f"the workers need this package and a shared {CACHE}/",
    )
    c.add_argument(
        "--block",
        type=int,
        default=10,
        metavar="B",
        help="seeds per task (the grain of the work spread over workers; default 10); a"
        " task whose vmapped seeds would not fit in its worker's memory runs them in chunks",
    )
    c.add_argument("--quiet", action="store_true", help=_QUIET)
    c.set_defaults(_cmd=cmd_calibrate)

    for name, fn, hlp in (
        ("figures", cmd_figures, "write figures to paper/generated/"),
        ("paper", cmd_paper, "write paper/generated/ and build the PDF"),
        ("reproduce", cmd_reproduce, "verify all, figures, JSON, paper"),
    ):
        q = sub.add_parser(name, help=hlp)
        if name != "reproduce":
            q.add_argument("ids", nargs="*", metavar="ID", help="with --fresh: only these claims")
            q.add_argument(
                "--fresh",
                action="store_true",
                help="run the claims and render from that run (default: the committed results)",
            )
        q.add_argument(
            "--full",
            action="store_true",
            help="paper-scale presets (reproduce --full stores the run under paper/results/)",
        )
        q.add_argument("--paper-dir", default="paper", metavar="DIR")
        q.add_argument("--quiet", action="store_true", help=_QUIET)
        if name == "reproduce":
            q.add_argument("--json", default="ledger.json", metavar="PATH")
        q.set_defaults(_cmd=fn)

    add_bound_parsers(sub)
    sub.choices["bound"].set_defaults(_cmd=cmd_bound)
    return p


def main(argv: list[str] | None = None) -> int:
    import metatheory_cli
    from metatheory.runtime import sync_cpu_dispatch

    sync_cpu_dispatch()
    metatheory_cli.guard_writes()
    try:
        args = build_parser().parse_args(argv)
        for cid in getattr(args, "ids", None) or []:
            try:
                claims.get(cid)
            except KeyError as e:
                raise _Usage(f"metatheory: {e.args[0]}") from e
        code = args._cmd(args)
        sys.stdout.flush()  # a closed pipe raises here, where it is handled, not at exit
        return code
    except _Usage as e:
        print(str(e).splitlines()[0], file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmetatheory: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``metatheory list | head -1``): stop quietly; point stdout at
        # devnull so that the interpreter's final flush does not raise again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141


if __name__ == "__main__":
    import metatheory_cli

    metatheory_cli.install()
    sys.exit(main())
