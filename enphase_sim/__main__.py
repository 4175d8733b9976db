"""`python -m enphase_sim`: the same as `enphase-sim`."""

import sys

from .cli import main

sys.exit(main())
