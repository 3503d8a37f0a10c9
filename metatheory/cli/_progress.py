"""Progress of the long commands (``reproduce``, ``calibrate``, ``paper --fresh``)."""

from __future__ import annotations

import sys


class _Progress:
    """Progress of a long command on stderr: a tqdm bar (done, elapsed, ETA) when stdout and
    stderr are terminals, otherwise (or ``quiet``) one line per finished claim."""

    def __init__(self, total: int, *, unit: str = "claim", quiet: bool = False, desc: str = ""):
        self.bar = None
        if not quiet and sys.stderr.isatty() and sys.stdout.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, leave=False,
                            dynamic_ncols=True)  # fmt: skip

    def step(self, n: int = 1, *, now: str = "", line: str = "") -> None:
        """``n`` units done; ``now`` names what runs next (bar), ``line`` what finished."""
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix_str(now, refresh=True)
        elif line:
            print(line, file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        """A line that shows whether or not a bar is drawn (a worker that died, a failure)."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
