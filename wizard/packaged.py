"""The entry point of the distribution packages' /usr/bin/enphase-setup (packaging/enphase-setup).

Debian and Fedora ship a Textual too old for the wizard, so the packages vendor Textual and its
dependencies in /usr/share/enphase-monitor/vendor. Only this entry point puts that directory
on sys.path: a pip or venv install (console script ``enphase_setup.cli:main``) never imports
from it, even on a host where the package is installed too.
"""

from __future__ import annotations

import os
import sys

VENDOR_DIR = "/usr/share/enphase-monitor/vendor"
VENDOR_ENV = "ENPHASE_SETUP_VENDOR_DIR"  # the packages' build-time tests point it elsewhere


def use_vendored(directory: str | None = None) -> None:
    """Put the vendored libraries first on sys.path (when the directory exists)."""
    where = directory or os.environ.get(VENDOR_ENV) or VENDOR_DIR
    if os.path.isdir(where) and where not in sys.path:
        sys.path.insert(0, where)


def main() -> int:
    """enphase-setup with the vendored Textual."""
    use_vendored()
    from .cli import main as cli_main

    return cli_main()
