"""Answers -> a Plan: set up, re-authenticate, or remove one UPS.

Every builder only reads the host (through `Context`); the returned Plan's changes do the
writing. Files whose content, mode and owner are already right produce no change, so a re-run
with the same answers plans nothing.
"""

from __future__ import annotations

from .build import build_reauth, build_setup
from .context import Context
from .remove import build_remove

__all__ = ["Context", "build_reauth", "build_remove", "build_setup"]
