"""The flow without a terminal UI: --non-interactive, --dry-run printing, and --remove prompts.

It takes the same steps as the screens (probe, live check, plan, apply, rollback) and prints
what it does; a missing answer is an error that names it (as certbot -n does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from . import shown
from .answermodel import AnswerError
from .changes import Change
from .nutconf import UpsConf
from .plan import OnStep, StepState
from .planner.nut import nut_problem, port_problem, section_check
from .planner.remove import holds_secret, port_path
from .planner.secret import store_problem
from .protectplan import conflict
from .session import REAUTH, Session

OK, FAILED, USAGE = 0, 1, 2
Ask = Callable[[str], str]


def _say(out: TextIO, text: str) -> None:
    # a file's bytes that are not UTF-8 (kept through surrogateescape) are shown as \xNN
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    out.write(text if text.endswith("\n") else text + "\n")
    out.flush()


def fill_from_gateway(session: Session, out: TextIO) -> str | None:
    """Read /info.xml: fill SERIAL (and the fingerprint to pin); returns an error or None."""
    ans = session.answers
    pin = ans.gateway_fingerprint if ans.pin_certificate else ""
    found = session.services.probe(ans.envoy_host, pin)
    session.probe = found
    if not found.ok or found.info is None:
        return shown.message(found.error) if found.error else \
            f"gateway {ans.envoy_host}: no serial in /info.xml"
    serial = found.info.serial or ""
    if ans.serial and ans.serial != serial:
        return (f"gateway {ans.envoy_host} has serial {shown.short(serial)}, not SERIAL"
                f" {shown.short(ans.serial)}:"
                " fix ENVOY_HOST or SERIAL")
    ans.serial = serial
    ans.firmware = found.info.firmware or ""
    if ans.pin_certificate and not ans.gateway_fingerprint:
        ans.gateway_fingerprint = found.fingerprint
    _say(out, f"gateway {ans.envoy_host}: serial {shown.short(serial)},"
              f" firmware {shown.short(ans.firmware) or '?'}")
    return store_problem(ans, session.facts)


def _progress(out: TextIO, total: int) -> OnStep:
    def on_step(index: int, change: Change, state: StepState, message: str) -> None:
        if state in (StepState.RUNNING, StepState.UNDOING):
            return
        extra = f": {message}" if message else ""
        _say(out, f"[{index + 1}/{total}] {state:<11} {change.title}{extra}")

    return on_step


def apply_plan(session: Session, out: TextIO, rollback: bool) -> int:
    """Apply the session's plan, roll back on failure if asked; print the summary."""
    plan = session.plan
    assert plan is not None
    outcome = plan.apply(session.system, _progress(out, len(plan.changes)))
    session.record_outcome(outcome)
    if not outcome.ok:
        assert outcome.failed is not None
        _say(out, f"FAILED: {outcome.failed.title}: {outcome.error}")
        done = ", ".join(c.title for c in outcome.done) or "nothing"
        _say(out, f"already done: {done}")
        if rollback and outcome.done:
            errors = plan.rollback(session.system, outcome, _progress(out, len(plan.changes)))
            _say(out, "rolled back" if not errors else "rollback incomplete: " + "; ".join(errors))
        return FAILED
    _say(out, f"done: {len(outcome.done)} change(s) applied")
    if session.mode != REAUTH and session.context.live:
        result = session.upsc()
        _say(out, f"$ upsc {session.answers.ups}@localhost")
        _say(out, result.shown() or result.reason())
    for step in plan.next_steps:
        _say(out, f"next: {step}")
    return OK


def answers_problem(session: Session) -> str | None:
    """What the screens would refuse: no dummy-ups, the UPS name's section, the store."""
    ans = session.answers
    if session.mode != REAUTH and not session.dry_run:
        problem = nut_problem(session.facts)
        if problem:
            return problem
    if session.mode != REAUTH:
        conf = UpsConf(session.system.read_text(session.facts.nut.ups_conf) or "")
        check = section_check(ans.ups, conf, session.existing.owns_section)
        if check.problem:
            return check.problem
        if check.takeover and not ans.adopt_section:
            return (f"{check.takeover}: set ADOPT_SECTION=yes to take it over, or choose"
                    " another UPS name")
        problem = port_problem(session.system, session.facts, ans.ups, ans.port_path)
        if problem:
            return f"PORT_FILE: {problem}"
    return session.ca_problem(ans) or store_problem(ans, session.facts)


def protect_problem(session: Session) -> str | None:
    """What is wrong with the "protect this host" answers (None: fine, or not asked)."""
    prot = session.protect
    if prot is None or session.mode == REAUTH:
        return None
    try:
        prot.check(session.answers.ups)
    except AnswerError as exc:
        return str(exc)
    return conflict(prot, session.context, session.answers.ups)


def run(session: Session, out: TextIO, validate: bool = True, rollback: bool = True) -> int:
    """Setup or reauth without a terminal UI.

    Returns:
        0 done (or planned, in a dry run), 1 failed, 2 an answer is missing or invalid.
    """
    ans = session.answers
    if session.mode != REAUTH or not ans.serial:
        error = fill_from_gateway(session, out)
        if error and (validate or not ans.serial):
            _say(out, f"error: {error}")
            return FAILED
        if error:
            _say(out, f"warning: {error} (not checked: --no-validate)")
    try:
        ans.check()
    except AnswerError as exc:
        _say(out, f"error: {exc}")
        return USAGE
    problem = answers_problem(session)
    if problem:
        _say(out, f"error: {problem}")
        return USAGE
    problem = protect_problem(session)
    if problem:
        _say(out, f"error: {problem}")
        return USAGE
    if validate and not ans.keep_secret:
        result = session.check_live(
            ans, lambda step: _say(out, f"... {shown.message(step)}"))
        session.checked = result
        if not result.ok:
            _say(out, f"error: {shown.message(result.message)}")
            return FAILED
        _say(out, f"credentials ok: {shown.message(result.message)}")
    plan = session.build_plan()
    _say(out, plan.describe())
    if session.dry_run:
        _say(out, "dry run: nothing was changed")
        return OK
    return apply_plan(session, out, rollback)


def _yes(ask: Ask, question: str) -> bool:
    try:
        return ask(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _ask_files(session: Session, ask: Ask) -> tuple[bool, bool]:
    """Ask whether to delete the port file and the config, naming them and what they hold."""
    ctx = session.context
    port, config = port_path(ctx), session.facts.nut.config_file(session.existing.ups)
    delete_port = delete_config = False
    if port is not None and (ctx.system.exists(port) or ctx.system.exists(f"{port}-nocomms")):
        delete_port = _yes(ask, f"Delete the port file {port} too (it may hold lines of your"
                                " own)?")
    if ctx.system.exists(config):
        secret = (" It holds the Enlighten password (or token) in clear text; kept, it stays"
                  " on this host." if holds_secret(ctx) else "")
        delete_config = _yes(ask, f"Delete the config {config} too?{secret}")
    return delete_port, delete_config


def remove(session: Session, out: TextIO, ask: Ask | None, delete_files: bool,
           rollback: bool = True) -> int:
    """--remove: ask about the port file and the config (unless non-interactive), then apply.

    Args:
        ask: reads an answer (input); None in non-interactive mode.
        delete_files: non-interactive: also delete the port file and the config.
    """
    existing = session.existing
    if not existing.configured and not existing.section:
        _say(out, f"error: no UPS '{existing.ups}' set up here (no config, no ups.conf section)")
        return FAILED
    delete_port = delete_config = delete_files
    if ask is not None:
        delete_port, delete_config = _ask_files(session, ask)
    plan = session.build_plan(delete_port, delete_config)
    _say(out, plan.describe())
    if session.dry_run:
        _say(out, "dry run: nothing was changed")
        return OK
    if ask is not None and not _yes(ask, "Apply these changes?"):
        _say(out, "cancelled: no changes were made")
        return OK
    return apply_plan(session, out, rollback)
