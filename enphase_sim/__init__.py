"""A simulated Enphase IQ Gateway and Enphase cloud, for the demo, the tests and the benchmarks.

Not part of the daemon: enphase_sim may import from enphase_monitor (its facts; the demo runs
the daemon itself), never the reverse. The distribution packages do not ship it (docs/packaging.md).
"""

from .simulator import Simulator
from .state import SimState
from .tls import generate_certificate
from .tokens import make_jwt

__all__ = ["SimState", "Simulator", "generate_certificate", "make_jwt"]
