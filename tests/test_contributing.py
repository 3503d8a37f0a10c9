"""CONTRIBUTING.md's "Adding a claim" is exact: its worked example is the code verbatim, and a
toy claim added at exactly its listed places (in a copy of the repository) is registered, listed
in ledger order, cites works of refs.bib, runs, and changes nothing else."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from metatheory import claims
from metatheory.cli import markdown_table

ROOT = Path(__file__).resolve().parents[1]
SECTION = (ROOT / "CONTRIBUTING.md").read_text().split("## Adding a claim", 1)[1]
SECTION = SECTION.split("\n## ", 1)[0]

STEM, NAME, CID, KEY = "toy", "toy_doubling", "T1", "toy2026doubling"


def _places() -> list[str]:
    """The first column of the table of places, with the toy's stem, name and id."""
    rows = re.findall(r"^\| `([^`]+)` \|", SECTION, flags=re.MULTILINE)
    return [r.replace("<stem>", STEM).replace("<name>", NAME).replace("<id>", CID.lower())
            for r in rows]  # fmt: skip


def _excerpt() -> list[str]:
    """The worked example's code, cut at its ``...`` lines."""
    block = re.search(r"### Worked example.*?```python\n(.*?)^```", SECTION, re.S | re.M)
    assert block, "no worked example"
    parts, cur = [], []
    for line in block.group(1).splitlines():
        if line.strip() == "...":
            parts.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    parts.append("\n".join(cur))
    return [p for p in parts if p.strip()]


def test_worked_example_is_the_code_verbatim():
    fragments = _excerpt()
    assert len(fragments) >= 3
    homes = [p for p in (ROOT / "metatheory").rglob("*.py") if fragments[0] in p.read_text()]
    assert len(homes) == 1, f"first fragment found in {homes}"
    code, pos = homes[0].read_text(), 0
    for f in fragments:
        i = code.find(f, pos)
        assert i >= 0, f"not in {homes[0].relative_to(ROOT)} (in this order):\n{f}"
        pos = i + len(f)


def test_places_name_every_layer_once():
    places = _places()
    assert len(places) == len(set(places))
    for layer in ("symbolic", "bounds", "experiments", "claims", "report"):
        assert any(p.startswith(f"metatheory/{layer}/") for p in places), layer
    assert {"paper/refs.bib", f"paper/sections/{STEM}.tex", f"verifications/test_{STEM}.py"} <= set(
        places
    )


TOY = {
    f"metatheory/symbolic/{STEM}.py": '''
        """Doubling, derived here: d/dx x² = 2x."""

        import sympy as sp

        X = sp.Symbol("x", real=True)


        def derive_doubling() -> sp.Expr:
            """2x, the derivative of x²."""
            return sp.diff(X**2, X)
        ''',
    f"metatheory/bounds/{STEM}.py": '''
        """Doubling (derived here)."""

        import numpy as np


        def toy_double(x):
            """2x for finite ``x``."""
            x = np.asarray(x, dtype=np.float64)
            if not np.all(np.isfinite(x)):
                raise ValueError("x must be finite")
            return 2.0 * x
        ''',
    f"metatheory/experiments/{STEM}/_common.py": '''
        """The toy family's shared problem: points drawn by the key."""

        import jax
        import numpy as np


        def points(key, n):
            return np.asarray(jax.random.normal(key, (n,)), dtype=np.float64)
        ''',
    f"metatheory/experiments/{STEM}/{NAME}.py": f'''
        """{CID} ``{NAME}``: the calculator against the derivation."""

        from dataclasses import dataclass

        import jax
        import numpy as np
        import sympy as sp

        from metatheory.bounds import {STEM} as calc
        from metatheory.experiments import experiment
        from metatheory.experiments.{STEM}._common import points
        from metatheory.symbolic import {STEM} as sym


        @dataclass(frozen=True)
        class ToyDoublingConfig:
            n: int = 16


        TOY_DOUBLING_PRESETS = {{"quick": ToyDoublingConfig(), "full": ToyDoublingConfig(n=256)}}


        @dataclass(frozen=True, kw_only=True)
        class ToyDoublingResult:
            max_err: float
            control_err: float
            n: int


        @experiment
        def toy_doubling(config: ToyDoublingConfig, key: jax.Array) -> ToyDoublingResult:
            x = points(key, config.n)
            exact = sp.lambdify(sym.X, sym.derive_doubling(), "numpy")(x)
            err = np.abs(calc.toy_double(x) - exact) / np.abs(exact)
            return ToyDoublingResult(
                max_err=float(err.max()),
                control_err=float((np.abs(x - exact) / np.abs(exact)).min()),
                n=config.n,
            )
        ''',
    f"metatheory/experiments/{STEM}/__init__.py": f'''
        """The toy family: {CID} ``{NAME}``."""

        from metatheory.experiments.{STEM}.{NAME} import (
            TOY_DOUBLING_PRESETS,
            ToyDoublingConfig,
            ToyDoublingResult,
            toy_doubling,
        )

        __all__ = ["TOY_DOUBLING_PRESETS", "ToyDoublingConfig", "ToyDoublingResult", "toy_doubling"]
        ''',
    f"metatheory/claims/{STEM}.py": f'''
        """Ledger row {CID} (doubling)."""

        from metatheory.claims import Check, Mutant, Summary, Verdict, claim
        from metatheory.experiments import {STEM} as ex

        TOL = 1e-15
        """Float64: 2x is exact in binary floating point; 1e-15 rejects any other factor."""


        @claim(
            "{CID}",
            name="{NAME}",
            statement="The calculator doubles its argument.",
            latex=r"$f(x) = 2x$",
            source="derived here",
            experiment=ex.toy_doubling,
            evidence="identity",
            cites=["{KEY}"],
            presets=ex.TOY_DOUBLING_PRESETS,
            seed=97531,
            mutants=[
                Mutant("half", "factor 1 for 2", "metatheory.bounds.{STEM}:toy_double",
                       lambda f: lambda x: 0.5 * f(x)),
                Mutant("plus-one", "a spurious +1", "metatheory.bounds.{STEM}:toy_double",
                       lambda f: lambda x: f(x) + 1.0),
            ],
        )
        def check_t1(r: ex.ToyDoublingResult) -> Verdict:
            return Verdict.of(
                [
                    Check.at_most("closed-form", r.max_err, TOL),
                    Check.at_least("control: x for 2x", r.control_err, TOL, control=True),
                ],
                predicted="2x",
                evidence=r,
                summary=Summary.identity(r.max_err, r.n, what="points"),
            )
        ''',
    f"metatheory/report/{STEM}.py": f'''
        """Figures of the toy family."""

        from pathlib import Path


        def render_{CID.lower()}(v, outdir):
            Path(outdir, "{CID.lower()}.tex").write_text(v.summary.text + "\\n")
        ''',
    f"verifications/test_{STEM}.py": f'''
        """{CID}: the calculator doubles."""

        import pytest

        from metatheory.claims import mutant_pairs


        def test_{CID.lower()}_holds(verdict):
            assert verdict("{CID}").verdict == "holds"


        @pytest.mark.parametrize(("cid", "mutant"), mutant_pairs("{CID}"))
        def test_mutant_rejected(verdict, cid, mutant):
            assert verdict(cid, mutant).verdict == "fails"
        ''',
    f"paper/sections/{STEM}.tex": f"""
        \\section{{Toy}}\\label{{sec:{STEM}}}
        Claim {CID}: the calculator doubles its argument \\citep{{{KEY}}}.
        """,
}

PROBE = """
import contextlib, io, json, sys, tempfile
import metatheory
from metatheory import claims, report
from metatheory.cli import main

cid = sys.argv[1]
out = {"file": metatheory.__file__, "ids": claims.ids()}
for flag in ("--json", "--markdown"):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["list", flag]) == 0
    out[flag] = buf.getvalue()
v = claims.run(cid)
out["verdict"], out["summary"] = v.verdict, v.summary.text
out["mutants"] = [claims.run(cid, mutant=m).verdict for m in claims.mutant_names(cid)]
with tempfile.TemporaryDirectory() as d:
    report.renderer(cid)(v, d)
    out["figure"] = open(f"{d}/{cid.lower()}.tex").read()
print(json.dumps(out))
"""


def _git(cwd, *args) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", GIT_CONFIG_GLOBAL=os.devnull)  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout


def _copy_repository(dst: Path) -> None:
    """The tracked files of the working tree (not the committed paper-scale results), as a
    fresh one-commit repository."""
    for rel in _git(ROOT, "ls-files", "-z").split("\0"):
        src = ROOT / rel
        if rel and src.is_file() and not rel.startswith("paper/results/"):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    _git(dst, "init", "-q")
    _git(dst, "add", "-A")
    _git(dst, "commit", "-q", "-m", "base")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_adding_a_claim_touches_exactly_the_listed_places(tmp_path):
    repo = tmp_path / "repo"
    _copy_repository(repo)
    before = claims.ids()

    for rel, text in TOY.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(textwrap.dedent(text).lstrip())
    with open(repo / "metatheory/bounds/__init__.py", "a") as f:
        f.write(f"\nfrom metatheory.bounds.{STEM} import toy_double  # noqa: E402\n\n")
        f.write('CALCULATORS["toy-double"] = toy_double\n')
    main_tex = (repo / "paper/main.tex").read_text()
    anchor = "\\InputIfFileExists{sections/calibration.tex}"
    at = main_tex.index(anchor) if anchor in main_tex else main_tex.index("\\end{document}")
    line = f"\\InputIfFileExists{{sections/{STEM}.tex}}{{}}{{}}\n"
    (repo / "paper/main.tex").write_text(main_tex[:at] + line + main_tex[at:])
    with open(repo / "paper/refs.bib", "a") as f:
        f.write(f"\n@misc{{{KEY},\n  title = {{Doubling}},\n  author = {{Toy, A.}},\n"
                "  year = {2026}\n}\n")  # fmt: skip

    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(repo))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, CID], cwd=repo, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).resolve().is_relative_to(repo.resolve()), out["file"]

    # registered, in the derived order and count, with its declared evidence and cites
    assert out["ids"] == sorted([*before, CID], key=claims.order_key)
    assert len(out["ids"]) == len(before) + 1 and out["ids"][-1] == CID  # a new letter: last
    rows = json.loads(out["--json"])
    assert [r["id"] for r in rows] == out["ids"]
    (row,) = [r for r in rows if r["id"] == CID]
    assert (row["family"], row["evidence"], row["cites"]) == (STEM, "identity", [KEY])
    bib = set(re.findall(r"^@\w+\{([^,\s]+),", (repo / "paper/refs.bib").read_text(), re.M))
    assert set(row["cites"]) <= bib
    # it runs: the true code holds, each mutant fails, its figure renders
    assert out["verdict"] == "holds" and out["summary"].startswith("verified to ")
    assert out["mutants"] == ["fails", "fails"]
    assert out["figure"].strip() == out["summary"]

    # the README's claims table, regenerated as the list of places says
    readme = (repo / "README.md").read_text()
    assert markdown_table() in readme
    (repo / "README.md").write_text(readme.replace(markdown_table(), out["--markdown"].rstrip()))

    status = _git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    changed = {s[3:] for s in status}
    assert changed == set(_places()), sorted(changed ^ set(_places()))
