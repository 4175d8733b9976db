"""One line for an exception nobody expected: never a traceback, always a hint to report it."""

from __future__ import annotations

from enphase_monitor.textsafe import escape

REPORT_HINT = ("this is a bug in enphase-setup: please report it, with the command you ran and"
               " the output of enphase-setup --version")


def crash_line(exc: BaseException) -> str:
    """`enphase-setup: unexpected error (Type: message); <how to report it>`."""
    return (f"enphase-setup: unexpected error ({type(exc).__name__}: {escape(str(exc), 200)});"
            f" {REPORT_HINT}")
