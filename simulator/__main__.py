"""`python -m simulator` is the same as `pulsecheck`."""

import sys

from simulator.cli import main

sys.exit(main())
