"""Task families: linear-regression / quadratic tasks (closed forms) and Finn's sinusoids."""

from metatheory.tasks import circular, linear, sinusoid

__all__ = ["circular", "linear", "sinusoid"]
