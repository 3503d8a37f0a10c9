"""The registry stays consistent: every claim has a verification, a paper section that
mentions it, at least two mutants whose targets exist, a unique seed, one stem per family in
every layer, and the README's claims table is ``metatheory list --markdown``."""

import importlib
import re
from pathlib import Path

import pytest

from metatheory import claims
from metatheory.cli import markdown_table

ROOT = Path(__file__).resolve().parent.parent
ALL = claims.ids()


def test_every_declared_claim_is_registered_once_in_ledger_order():
    """The ids the registry holds are exactly the ``@claim("ID", ...)`` declarations in the
    source of ``metatheory/claims`` (none lost to an import that failed quietly, none twice),
    listed in :func:`claims.order_key` order."""
    declared = [
        m
        for p in (ROOT / "metatheory" / "claims").rglob("*.py")
        if p.name != "__init__.py"
        for m in re.findall(r'@claim\(\s*"([A-Z]\d+)"', p.read_text())
    ]
    assert len(declared) == len(set(declared)), sorted(declared)
    assert sorted(declared) == sorted(claims.REGISTRY) == sorted(ALL)
    assert ALL == sorted(ALL, key=claims.order_key)
    assert claims.order_key("G2") < claims.order_key("G10") < claims.order_key("H1")


@pytest.mark.parametrize("cid", ALL)
def test_claim_is_well_formed(cid):
    c = claims.get(cid)
    assert c.statement and c.source and c.name and c.latex
    assert c.expected in claims.VERDICTS[:3]
    assert len(c.mutants) >= 2
    for m in c.mutants:
        mod = importlib.import_module(m.module)
        assert callable(getattr(mod, m.attr)), m.target
        assert m.module.startswith("metatheory.")
        assert not m.module.startswith("metatheory.claims"), "mutate the code under test"


def test_seeds_are_unique():
    seeds = [claims.get(c).seed for c in ALL]
    assert len(set(seeds)) == len(seeds)


@pytest.mark.parametrize("family", sorted({claims.get(c).family for c in ALL}))
def test_one_stem_per_family_in_every_layer(family):
    ids = [c for c in ALL if claims.get(c).family == family]
    experiments = ROOT / "metatheory" / "experiments"
    package = (experiments / family / "__init__.py").is_file()
    assert package or (experiments / f"{family}.py").is_file()
    test = (ROOT / "verifications" / f"test_{family}.py").read_text()
    section = (ROOT / "paper" / "sections" / f"{family}.tex").read_text()
    for cid in ids:
        assert re.search(rf"\b{cid}\b", test), f"{cid} not verified in test_{family}.py"
        assert re.search(rf"\b{cid}\b", section), f"{cid} not in sections/{family}.tex"
        c = claims.get(cid)
        # a family package holds one experiment module per claim, named after the claim
        module = f"metatheory.experiments.{family}" + (f".{c.name}" if package else "")
        assert c.experiment.__module__ == module, (cid, c.experiment.__module__)
    assert "mutant_pairs" in test


def test_no_plotting_in_claims():
    for p in (ROOT / "metatheory" / "claims").rglob("*.py"):
        src = p.read_text()
        assert "matplotlib" not in src and "report" not in src.split('"""', 2)[-1], p.name


def test_no_references_to_files_outside_the_repository():
    """The package cites publications, never the project's planning notes."""
    outside = re.compile(r"\b(?:CLAIMS|DESIGN)\.md\b")
    for p in (ROOT / "metatheory").rglob("*.py"):
        assert not outside.search(p.read_text()), p


def test_readme_claims_table_is_current():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- claims-table -->")[1]
    assert markdown_table() in block, "regenerate with `metatheory list --markdown`"
