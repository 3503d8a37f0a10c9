"""Task families: linear-regression / quadratic tasks (closed forms) and Finn's sinusoids."""

from metatheory.tasks import linear, sinusoid

__all__ = ["linear", "sinusoid"]
