"""The answers file (``--answers FILE``) and the secret files it names.

It uses the config file's syntax (``KEY=VALUE``, quotes, comments), or JSON when it starts with
``{``. Its keys are the fields' names in upper case (ANSWER_KEYS); secrets may come from files
(PASSWORD_FILE, TOKEN_FILE) so that they stay out of playbooks.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from enphase_monitor.config import check_dir_perms, check_secret
from enphase_monitor.errors import ConfigError, MonitorError
from enphase_monitor.facts import is_true
from enphase_monitor.fileutil import FileMeta, read_regular
from enphase_monitor.shellvars import parse_assignments
from enphase_monitor.textsafe import escape

from .answermodel import ANSWER_KEYS, AnswerError, Answers, SecretStore
from .rules import answer_problem

FILE_KEYS = ("PASSWORD_FILE", "TOKEN_FILE")
SECRET_ANSWERS = ("PASSWORD", "TOKEN", "NAS_PASSWORD")
INPUT_LIMIT = 64 * 1024  # an answers file is a few hundred bytes
BOOL_ANSWERS = ("use_token", "pin_certificate", "keep_secret", "adopt_section")
INT_ANSWERS = ("charge_low", "runtime_low", "pollfreq")


def _store(text: str) -> SecretStore:
    try:
        return SecretStore(text.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in SecretStore)
        raise AnswerError(f"SECRET_STORE must be one of {choices}"
                          f" (got '{escape(text, 40)}')") from None


def apply_values(base: Answers, values: dict[str, str]) -> Answers:
    """`base` with the answers-file values applied.

    Raises:
        AnswerError: an unknown key or a bad value.
    """
    changes: dict[str, object] = {}
    for key, raw in values.items():
        upper = key.upper()
        if upper in FILE_KEYS:
            text, meta = read_input(Path(raw), upper)
            problem = private_problem(Path(raw), meta, upper)
            if problem:
                raise AnswerError(problem)
            secret = text.strip()
            name = "password" if upper == "PASSWORD_FILE" else "token"
            problem = answer_problem(name, secret)
            if problem:
                raise AnswerError(f"{upper} {raw}: {problem}")
            changes[name] = secret
            if upper == "TOKEN_FILE":
                changes["use_token"] = True
            continue
        if upper not in ANSWER_KEYS:
            raise AnswerError(f"unknown answer {escape(key, 40)} (known: {', '.join(ANSWER_KEYS)})")
        name = upper.lower()
        problem = answer_problem(name, raw)
        if problem:
            raise AnswerError(problem)
        if name in BOOL_ANSWERS:
            changes[name] = is_true(raw)
        elif name in INT_ANSWERS:
            changes[name] = int(raw.strip())
        elif name == "secret_store":
            changes[name] = _store(raw)
        else:
            changes[name] = raw.strip() if name not in ("password", "token") else raw
    if "token" in changes and changes["token"] and "use_token" not in changes:
        changes["use_token"] = True
    answers = replace(base)
    for name, value in changes.items():
        setattr(answers, name, value)
    return answers


def read_input(path: Path, what: str) -> tuple[str, FileMeta]:
    """The text of an answers or secret file, and the mode and owner of the very file read (a
    symlink the user named is followed to its end, the file itself is read without following
    one).

    Raises:
        AnswerError: unreadable, not a regular file, larger than 64 KiB, or not UTF-8.
    """
    try:
        found = read_regular(path.resolve(), INPUT_LIMIT, what)
        return found.data.decode("utf-8"), found.meta
    except MonitorError as exc:
        raise AnswerError(str(exc)) from None
    except OSError as exc:
        raise AnswerError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AnswerError(f"{what} {path} is not UTF-8 text") from None


def private_problem(path: Path, meta: FileMeta, what: str) -> str | None:
    """Why a file holding a secret is too open: the daemon's own rule for its config
    (`enphase_monitor.config.check_secret`, `check_dir_perms`), in the same one line."""
    try:
        check_secret(what, path, meta)
        check_dir_perms(what, path.resolve().parent)
    except ConfigError as exc:
        return str(exc)
    return None


def read_answers_file(path: Path) -> dict[str, str]:
    """KEY=VALUE (config syntax) or JSON answers.

    Raises:
        AnswerError: unreadable or malformed, or it holds PASSWORD or TOKEN and others may
            read or change it.
    """
    text, meta = read_input(path, "answers file")
    values = _parse_answers(path, text)
    secret = any(values.get(key) for key in SECRET_ANSWERS)
    problem = private_problem(path, meta, "answers file") if secret else None
    if problem:
        raise AnswerError(problem)
    return values


def _parse_answers(path: Path, text: str) -> dict[str, str]:
    """JSON (when it starts with '{') or the config's KEY=VALUE syntax."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AnswerError(f"answers file {path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise AnswerError(f"answers file {path}: a JSON object is expected")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    try:
        return parse_assignments(text, {})
    except ConfigError as exc:
        raise AnswerError(f"answers file {path}: {exc}") from None
