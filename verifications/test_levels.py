"""Every statistical check is designed at a family-wise false-alarm level of at most
``CLAIM_LEVEL`` (Bonferroni over its sub-checks), and declares one."""

import pytest

from metatheory.claims import CLAIM_LEVEL, get, ids


@pytest.mark.parametrize("cid", [c for c in ids() if get(c).statistical])
def test_designed_level(verdict, cid):
    v = verdict(cid)
    assert 0 < v.design_level <= CLAIM_LEVEL * (1 + 1e-9), v.design_level


@pytest.mark.parametrize("cid", [c for c in ids() if not get(c).statistical])
def test_exact_checks_have_level_zero(verdict, cid):
    assert verdict(cid).design_level == 0
