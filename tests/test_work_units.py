"""``pytest -n``: a claim's verification tests form one unit of work (the root conftest's
``work_unit``), so its verdict is computed once and its mutants run where it was computed."""

import subprocess
import sys
from pathlib import Path

import pytest

from metatheory import claims

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def root_conftest(request):
    return request.config.pluginmanager.get_plugin(str(ROOT / "conftest.py"))


@pytest.fixture(scope="module")
def verification_ids():
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0",
            "-p", "no:cacheprovider", "verifications"]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return [line for line in proc.stdout.splitlines() if line.startswith("verifications/")]


def test_every_verification_goes_with_a_claim(root_conftest, verification_ids):
    units = {n: root_conftest.work_unit(n) for n in verification_ids}
    assert len(units) > 100
    alone = {n: u for n, u in units.items() if u not in claims.ids()}
    assert not alone, alone
    for n, u in units.items():  # a claim parameter wins: designed levels, verdicts, mutants
        if "[" in n and n.split("[", 1)[1].split("-", 1)[0].rstrip("]") in claims.ids():
            assert n.split("[", 1)[1].startswith(u), (n, u)
    # every claim's verdict, designed level and mutants share one unit
    for cid in claims.ids():
        own = [n for n in units if f"[{cid}]" in n or f"[{cid}-" in n]
        assert {units[n] for n in own} == {cid}, (cid, own)


def test_named_tests_and_other_tests(root_conftest):
    unit = root_conftest.work_unit
    assert unit("verifications/test_fmo.py::test_c5_theorem_and_batch_scaling") == "C5"
    assert unit("verifications/test_imaml.py::test_g7_cg_within_and_near_the_bound") == "G7"
    assert unit("verifications/test_levels.py::test_designed_level[B2]") == "B2"
    assert unit("verifications/test_fmo.py::test_mutant_rejected[C5-first-order]") == "C5"
    dask = "tests/test_calibrate_dask.py"
    assert unit(f"{dask}::test_a_mutant_task_leaves_its_worker_true") == dask  # one cluster


def test_the_scheduler_is_only_for_loadgroup(root_conftest):
    class Config:
        def getvalue(self, name):
            return {"dist": "load"}[name]

    assert root_conftest.pytest_xdist_make_scheduler(Config(), None) is None
