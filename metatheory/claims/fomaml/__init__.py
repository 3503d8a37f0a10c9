"""Ledger rows of the first-order family: G3 ``fomaml_bias``, G4 ``reptile_expected_update``,
G8 ``learned_step_sizes``, one module each."""
