"""Benchmarks are not part of the default test paths: run them with
``pytest benchmarks --benchmark-enable`` (``-s`` prints the throughput lines)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
