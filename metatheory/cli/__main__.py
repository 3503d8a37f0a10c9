"""``python -m metatheory.cli``: the same as the ``metatheory`` command."""

from metatheory.cli import main

raise SystemExit(main())
