"""enphase-setup: the setup wizard of enphase-monitor (importable as ``enphase_setup``).

The system changes live in plain modules (``plan``, ``planner``, ``nutconf``, ``daemonconf``,
``system``, ``facts``, ``discovery``, ``validate``) that never import Textual; ``app`` and
``screens`` are the Textual front end, imported only when the wizard runs interactively.
Importing the package changes nothing: the packages' vendored Textual is put on sys.path by
their own entry point only (``packaged``).
"""

from __future__ import annotations

__version__ = "0.1.0"
