"""enphase-setup: the setup wizard of enphase-monitor (importable as ``enphase_setup``).

The system changes live in plain modules (``plan``, ``nutconf``, ``daemonconf``, ``system``,
``discovery``, ``validate``) that never import Textual; ``app`` and ``screens`` are the
Textual front end, imported only when the wizard runs interactively.
"""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"

# A distro package may ship a private copy of Textual and its dependencies (packaging.md 3);
# for pip and venv installs the directory does not exist and this does nothing.
VENDOR_DIR = os.environ.get("ENPHASE_SETUP_VENDOR_DIR", "/usr/share/enphase-monitor/vendor")
if os.path.isdir(VENDOR_DIR) and VENDOR_DIR not in sys.path:
    sys.path.insert(0, VENDOR_DIR)
