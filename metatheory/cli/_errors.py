"""The CLI's user errors: one line on stderr, exit code 2."""

from __future__ import annotations

import argparse


class _Usage(Exception):
    """A user error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Usage(f"{self.prog}: {message}")
