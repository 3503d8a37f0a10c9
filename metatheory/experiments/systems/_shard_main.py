"""Subprocess entry of S2: ``python -m metatheory.experiments.systems._shard_main ARG``."""

import json
import sys

from metatheory.experiments.systems.sharded_meta_gradient import main

if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
