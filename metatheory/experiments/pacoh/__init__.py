"""Experiments of the PACOH family (claim P6): one module per claim, the shared environment and
reference computations in :mod:`._common`."""

from metatheory.experiments.pacoh.pacoh_closed_form import (
    CLOSED_FORM_FULL,
    CLOSED_FORM_PRESETS,
    CLOSED_FORM_QUICK,
    ClosedFormConfig,
    ClosedFormResult,
    pacoh_closed_form,
)

__all__ = [
    "ClosedFormConfig",
    "CLOSED_FORM_QUICK",
    "CLOSED_FORM_FULL",
    "CLOSED_FORM_PRESETS",
    "ClosedFormResult",
    "pacoh_closed_form",
]
