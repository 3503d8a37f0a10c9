"""Experiments of the step-size family (claim C6): ``_common`` holds the shared problem,
one module per claim."""
