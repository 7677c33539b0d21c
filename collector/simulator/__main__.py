"""``python -m collector.simulator``: the same as ``collector simulate``."""

import sys

from collector.simulator.cli import main

sys.exit(main())
