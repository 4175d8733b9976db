"""The command line of enphase-setup: options, root check, then the TUI or the batch flow.

Textual is imported only when the terminal UI starts, so ``--non-interactive`` and
``--dry-run --non-interactive`` start fast and work where Textual is not installed.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from enphase_monitor.errors import MonitorError
from enphase_monitor.textsafe import escape

from . import __version__, batch, draft, protect
from .answermodel import AnswerError, Answers, SecretStore
from .answersfile import apply_values, read_answers_file
from .crash import crash_line
from .draft import Draft
from .facts import detect_host
from .fakeroot import fake_root_system, needs_text
from .session import REAUTH, REMOVE, SETUP, Services, Session
from .system import System

ROOT_ENV = "ENPHASE_SETUP_ROOT"
EPILOG = """\
Without options it starts the interactive wizard (a terminal UI). Answers files use the
config syntax (KEY=VALUE) or JSON, with the keys
{keys}
Environment: {root_env} (same as --root), NUT_CONFPATH. See enphase-setup(8).
--root DIR works on a fake root: files under DIR, commands recorded (marked "would run"),
not run. It looks for (the first two are required):
{needs}
Exit status: 0 done, 1 failed (after a rollback unless --no-rollback), 2 bad usage or answer.
"""


def parser() -> argparse.ArgumentParser:
    """The options."""
    keys = textwrap.fill(", ".join([*(f.name.upper() for f in fields(Answers)),
                                    "PASSWORD_FILE", "TOKEN_FILE (a file holding the token)",
                                    *protect.KEYS[:-1], f"{protect.KEYS[-1]}."]),
                         width=88, initial_indent="  ", subsequent_indent="  ")
    p = argparse.ArgumentParser(
        prog="enphase-setup", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Set up enphase-monitor: find the gateway, check the credentials, "
                    "configure NUT, store the secret, and start the services.",
        epilog=EPILOG.format(keys=keys, root_env=ROOT_ENV, needs=needs_text()))
    what = p.add_mutually_exclusive_group()
    what.add_argument("--reauth", metavar="UPS", help="only renew the credentials/token of UPS")
    what.add_argument("--remove", metavar="UPS", help="undo what the wizard set up for UPS")
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument("-n", "--non-interactive", action="store_true",
                   help="no terminal UI: take answers from --answers and the flags")
    p.add_argument("--answers", type=Path, metavar="FILE", help="answers file (KEY=VALUE or JSON)")
    p.add_argument("--root", type=Path, metavar="DIR",
                   help=f"work on a fake root directory (tests; also ${ROOT_ENV})")
    p.add_argument("--ups", help="UPS name (default: the one already set up, else 'ups')")
    p.add_argument("--host", dest="envoy_host", help="gateway host (default envoy.local)")
    p.add_argument("--serial", help="gateway serial (default: read from /info.xml)")
    p.add_argument("--username", help="Enlighten e-mail")
    p.add_argument("--password-file", type=Path, metavar="FILE",
                   help="file holding the Enlighten password (or $ENPHASE_PASSWORD)")
    p.add_argument("--token-file", type=Path, metavar="FILE",
                   help="file holding a token from Enphase (MFA accounts)")
    p.add_argument("--secret-store", choices=[s.value for s in SecretStore],
                   help="where the secret goes (default systemd-creds when available)")
    p.add_argument("--charge-low", type=int, metavar="PERCENT", help="battery.charge.low")
    p.add_argument("--runtime-low", type=int, metavar="SECONDS",
                   help="battery.runtime.low (0: off)")
    p.add_argument("--pollfreq", type=int, metavar="SECONDS", help="POLLFREQ")
    p.add_argument("--port-file", metavar="PATH", help="port file (absolute path)")
    p.add_argument("--pin-certificate", action="store_true",
                   help="pin the gateway's certificate (GATEWAY_FINGERPRINT)")
    p.add_argument("--no-validate", action="store_true",
                   help="non-interactive: skip the live check of gateway and credentials")
    p.add_argument("--no-rollback", action="store_true",
                   help="non-interactive: keep what was done when a step fails")
    p.add_argument("--delete-files", action="store_true",
                   help="--remove --non-interactive: also delete the port file and the config")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _flag_values(args: argparse.Namespace) -> dict[str, str]:
    """Answers given as flags (they override the answers file)."""
    values: dict[str, str] = {}
    for name in ("envoy_host", "serial", "username", "secret_store", "charge_low",
                 "runtime_low", "pollfreq", "port_file"):
        value = getattr(args, name)
        if value is not None:
            values[name.upper()] = str(value)
    if args.password_file is not None:
        values["PASSWORD_FILE"] = str(args.password_file)
    if args.token_file is not None:
        values["TOKEN_FILE"] = str(args.token_file)
    if args.pin_certificate:
        values["PIN_CERTIFICATE"] = "yes"
    return values


def tui_draft(system: System) -> Draft | None:
    """Where the terminal UI keeps the answers given so far (None without platformdirs)."""
    try:
        return Draft(draft.default_path(), system.root)
    except ImportError:
        return None


def make_system(args: argparse.Namespace) -> System:
    """The host, or the fake root given by --root / $ENPHASE_SETUP_ROOT."""
    root = args.root or (Path(os.environ[ROOT_ENV]) if os.environ.get(ROOT_ENV) else None)
    if root is None or root.resolve() == Path("/"):
        return System()
    return fake_root_system(root)


def main(argv: Sequence[str] | None = None, *, system: System | None = None,
         services: Services | None = None) -> int:
    """Run enphase-setup; returns the exit status. Every error ends as one line on stderr.

    Args:
        argv: the arguments (default sys.argv[1:]).
        system: the host (tests pass a fake root with a recording runner).
        services: the network calls (tests pass fakes).
    """
    args = parser().parse_args(argv)
    try:
        return _run(args, system, services)
    except KeyboardInterrupt:
        print("enphase-setup: interrupted", file=sys.stderr)
        return 130
    except MonitorError as exc:
        print(f"enphase-setup: {escape(str(exc), 400)}", file=sys.stderr)
        return batch.FAILED
    except Exception as exc:
        print(crash_line(exc), file=sys.stderr)
        return batch.FAILED


def _answers(session: Session, args: argparse.Namespace, ups: str | None) -> None:
    """The answers file, the flags and $ENPHASE_PASSWORD into the session's answers.

    Raises:
        AnswerError: an unknown key or an invalid value.
    """
    values = read_answers_file(args.answers) if args.answers else {}
    values.update(_flag_values(args))
    if os.environ.get("ENPHASE_PASSWORD") and "PASSWORD" not in values:
        values["PASSWORD"] = os.environ["ENPHASE_PASSWORD"]
    if "UPS" in values and session.mode == SETUP and ups is None:
        session.reload(values["UPS"])
    values, protect_values = protect.split_values(values)
    if args.non_interactive and session.mode == SETUP:
        session.protect = protect.apply_values(protect.ProtectAnswers(), protect_values)
    session.answers = apply_values(session.answers, values)
    if session.answers.secret() and session.answers.keep_secret:
        session.answers.keep_secret = False


def _run(args: argparse.Namespace, system: System | None, services: Services | None) -> int:
    """The run itself (`main` turns what it raises into one line)."""
    system = system or make_system(args)
    mode = REMOVE if args.remove else REAUTH if args.reauth else SETUP
    ups = args.remove or args.reauth or args.ups
    facts = detect_host(system)
    session = Session.start(system, facts, ups, mode, args.dry_run, services)
    if not system.is_root and not system.fake_root and not args.dry_run:
        if args.non_interactive or mode == REMOVE:
            print("enphase-setup: run it as root (it edits /etc and runs systemctl);"
                  " --dry-run shows the plan without changing anything", file=sys.stderr)
            return batch.FAILED
        session.dry_run = True  # the UI says so on every screen
    try:
        _answers(session, args, ups)
    except AnswerError as exc:
        print(f"enphase-setup: {exc}", file=sys.stderr)
        return batch.USAGE
    if mode == REAUTH and not session.existing.configured:
        print(f"enphase-setup: no UPS '{ups}' set up here ({facts.nut.config_file(str(ups))}"
              " does not exist): run enphase-setup without --reauth", file=sys.stderr)
        return batch.USAGE
    if mode == REMOVE:
        ask = None if args.non_interactive else input
        return batch.remove(session, sys.stdout, ask, args.delete_files, not args.no_rollback)
    if args.non_interactive:
        return batch.run(session, sys.stdout, not args.no_validate, not args.no_rollback)
    try:
        from .app import run_app
    except ImportError as exc:
        print(f"enphase-setup: the terminal UI needs Textual ({exc});"
              " use --non-interactive, or install enphase-monitor[wizard]", file=sys.stderr)
        return batch.FAILED
    session.draft = tui_draft(system)
    return run_app(session)
