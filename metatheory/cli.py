"""The ``metatheory`` command.

  metatheory list                         the claims, their statements and sources
  metatheory verify [ID ...] [--json P]   run checks, print the ledger, exit 0 iff all as expected
  metatheory calibrate [ID ...] [--seeds S] [--json P] [--full]
                                          false alarms and power of each check over S seeds
  metatheory figures [--full]             write figures and equations to paper/generated/
  metatheory paper [--full]               write paper/generated/ and build paper/main.pdf
  metatheory reproduce [--full]           verify everything, figures, JSON and the paper
  metatheory bound NAME --arg V ...       evaluate one calculator of metatheory.bounds

Bad arguments give one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from metatheory import claims

CACHE = Path(".metatheory-cache")
FULL_LEDGER = Path("results") / "ledger-full.json"
"""The paper-scale ledger (``--full``), relative to the paper directory; it is committed."""


class _Usage(Exception):
    """A user error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Usage(f"{self.prog}: {message}")


def _run_claims(cids, preset, *, cache: bool, quiet: bool = False):
    cids = [claims.get(c).id for c in cids] if cids else claims.ids()
    out = []
    for i, cid in enumerate(cids, 1):
        if not quiet:
            print(f"[{i}/{len(cids)}] {cid} ...", end="", file=sys.stderr, flush=True)
        v = claims.run(cid, preset, cache_dir=CACHE if cache else None)
        out.append(v)
        if not quiet:
            print(f" {v.verdict} ({v.seconds:.1f} s)", file=sys.stderr, flush=True)
    return out


def _all_expected(verdicts) -> bool:
    return all(v.verdict == claims.get(v.id).expected for v in verdicts)


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
    for cid in claims.ids():
        c = claims.get(cid)
        print(f"{c.id:4s} {c.family:15s} [{c.expected}] {c.statement}  ({c.source})")
    return 0


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

    verdicts = _run_claims(args.ids, "full" if args.full else "quick", cache=args.cache)
    print(report.format_table(verdicts))
    if args.json:
        report.write_json(verdicts, Path(args.json))
    ok = _all_expected(verdicts)
    if not ok:
        bad = [v.id for v in verdicts if v.verdict != claims.get(v.id).expected]
        print(f"not as expected: {', '.join(bad)}", file=sys.stderr)
    return 0 if ok else 1


def cmd_calibrate(args) -> int:
    from metatheory import calibrate

    if args.seeds is not None and args.seeds < 1:
        raise _Usage(f"metatheory calibrate: --seeds must be >= 1, got {args.seeds}")
    out = Path(args.json) if args.json else None
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise _Usage(f"metatheory calibrate: --json {out}: not a file in an existing directory")
    rows = calibrate.calibrate(
        args.ids,
        seeds=args.seeds,
        preset="full" if args.full else "quick",
        cache_dir=CACHE,
        json_path=out,
        log=calibrate.stderr_log,
    )
    print(calibrate.format_table(rows))
    if out is not None:
        print(f"wrote {out}")
    return 0


def _generate(args, *, build: bool):
    import json

    from metatheory import report

    paper = _paper_dir(args.paper_dir)
    verdicts = _run_claims(getattr(args, "ids", []), "full" if args.full else "quick", cache=True)
    full_json = paper / FULL_LEDGER
    if args.full:
        # a paper-scale run refreshes the committed paper-scale ledger, claim by claim
        rows = {r["id"]: r for r in json.loads(full_json.read_text())} if full_json.exists() else {}
        rows.update({r["id"]: r for r in report.ledger_rows(verdicts)})
        full_json.parent.mkdir(parents=True, exist_ok=True)
        ordered = [rows[c] for c in claims.ids() if c in rows]
        full_json.write_text(json.dumps(ordered, indent=2) + "\n")
    full_rows = json.loads(full_json.read_text()) if full_json.exists() else None
    report.write_generated(verdicts, paper / "generated", full_rows=full_rows)
    print(f"wrote {paper / 'generated'}")
    if build:
        pdf = report.build_pdf(paper)
        if pdf is None:
            print(
                "latexmk not found: install latexmk and texlive (Debian: latexmk "
                "texlive-latex-recommended texlive-latex-extra texlive-science "
                "texlive-fonts-recommended) to build the PDF",
                file=sys.stderr,
            )
        else:
            print(f"built {pdf}")
    return verdicts


def cmd_figures(args) -> int:
    _generate(args, build=False)
    return 0


def cmd_paper(args) -> int:
    _generate(args, build=True)
    return 0


def cmd_reproduce(args) -> int:
    from metatheory import report

    verdicts = _generate(args, build=True)
    print(report.format_table(verdicts))
    report.write_json(verdicts, Path(args.json))
    print(f"wrote {args.json}")
    return 0 if _all_expected(verdicts) else 1


def _add_bound_parsers(sub) -> None:
    from metatheory import bounds

    p = sub.add_parser("bound", help="evaluate a calculator from metatheory.bounds")
    bsub = p.add_subparsers(dest="name", metavar="NAME", parser_class=_Parser)
    bsub.required = True
    for name, fn in sorted(bounds.CALCULATORS.items()):
        doc = (inspect.getdoc(fn) or "").split("\n")[0]
        bp = bsub.add_parser(name, help=doc, description=doc)
        for pname, par in inspect.signature(fn).parameters.items():
            flag = "--" + pname.replace("_", "-")
            if isinstance(par.default, bool):
                bp.add_argument(flag, action="store_true", dest=pname)
            else:
                required = par.default is inspect.Parameter.empty
                bp.add_argument(
                    flag,
                    type=float,
                    required=required,
                    dest=pname,
                    default=None if required else par.default,
                )
        bp.set_defaults(_fn=fn)


def cmd_bound(args) -> int:
    import numpy as np

    fn = args._fn
    kw = {k: getattr(args, k) for k in inspect.signature(fn).parameters}
    try:
        res = fn(**kw)
    except ValueError as e:
        raise _Usage(f"metatheory bound {args.name}: {e}") from e
    if hasattr(res, "_asdict"):
        for k, v in res._asdict().items():
            print(f"{k:12s} {np.asarray(v).item():.10g}")
    else:
        print(np.array2string(np.asarray(res), precision=10))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="metatheory",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    ls = sub.add_parser("list", help="list the claims")
    ls.add_argument("--markdown", action="store_true", help="the README's claims table")
    ls.set_defaults(_cmd=cmd_list)

    v = sub.add_parser("verify", help="run claim checks and print the ledger")
    v.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    v.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    v.add_argument("--full", action="store_true", help="paper-scale preset")
    v.add_argument("--cache", action="store_true", help=f"reuse finished runs in {CACHE}/")
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
    c.add_argument("--json", metavar="PATH", help="merge the rows into this JSON file")
    c.add_argument("--full", action="store_true", help="paper-scale preset")
    c.set_defaults(_cmd=cmd_calibrate)

    for name, fn, hlp in (
        ("figures", cmd_figures, "write figures to paper/generated/"),
        ("paper", cmd_paper, "write paper/generated/ and build the PDF"),
        ("reproduce", cmd_reproduce, "verify all, figures, JSON, paper"),
    ):
        q = sub.add_parser(name, help=hlp)
        if name != "reproduce":
            q.add_argument("ids", nargs="*", metavar="ID", help="only these claims (default: all)")
        q.add_argument("--full", action="store_true", help="paper-scale preset")
        q.add_argument("--paper-dir", default="paper", metavar="DIR")
        if name == "reproduce":
            q.add_argument("--json", default="ledger.json", metavar="PATH")
        q.set_defaults(_cmd=fn)

    _add_bound_parsers(sub)
    sub.choices["bound"].set_defaults(_cmd=cmd_bound)
    return p


def main(argv: list[str] | None = None) -> int:
    import jax

    # synchronous CPU dispatch: see the repository's conftest.py (a rare hang on small machines)
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    try:
        args = build_parser().parse_args(argv)
        for cid in getattr(args, "ids", None) or []:
            try:
                claims.get(cid)
            except KeyError as e:
                raise _Usage(f"metatheory: {e.args[0]}") from e
        return args._cmd(args)
    except _Usage as e:
        print(str(e).splitlines()[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
