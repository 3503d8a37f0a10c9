"""Experiments of the Hessian-free family (claim C7): ``_common`` holds the shared problems,
one module per claim."""
