"""Read the seed's bash config syntax (`KEY=VALUE` assignments) without running it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import ConfigError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PREFIXES = ("export", "declare", "typeset", "readonly", "local")
_VAR_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_BAD_BRACE = re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*\})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str, limit: int = 40) -> str:
    """`text` for an error message: control characters escaped (one line), long text cut."""
    shown = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


class _Lexer:
    """Splits shell text into logical lines of words, keeping quotes' meaning."""

    def __init__(self, text: str, env: Mapping[str, str], known: dict[str, str]) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.env = env
        self.known = known
        self.start_line = 1

    def fail(self, what: str) -> ConfigError:
        return ConfigError(f"line {self.line}: {what}")

    def expand(self, raw: str) -> str:
        """Expand `$NAME` and `${NAME}` from earlier keys, then the environment."""
        if "$(" in raw or "`" in raw:
            raise self.fail("command substitution is not supported; write the value itself")
        if _BAD_BRACE.search(raw):
            raise self.fail("only plain ${NAME} expansions are supported")

        def sub(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            return self.known.get(name, self.env.get(name, ""))

        return _VAR_REF.sub(sub, raw)

    def words(self) -> list[str] | None:
        """Return the next logical line's words, or None at the end of the text."""
        text = self.text
        words: list[str] = []
        word: list[str] | None = None
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\n":
                self.pos += 1
                self.line += 1
                if word is not None:
                    words.append("".join(word))
                if words:
                    return words
                word = None
                continue
            if ch in " \t\r":
                self.pos += 1
                if word is not None:
                    words.append("".join(word))
                    word = None
                continue
            if ch == ";":
                self.pos += 1
                if word is not None:
                    words.append("".join(word))
                    word = None
                if words:
                    return words
                continue
            if ch == "#" and word is None:
                while self.pos < len(text) and text[self.pos] != "\n":
                    self.pos += 1
                continue
            if word is None:
                if not words:
                    self.start_line = self.line
                word = []
            if ch == "'":
                end = text.find("'", self.pos + 1)
                if end < 0:
                    raise self.fail("a single quote is never closed")
                chunk = text[self.pos + 1 : end]
                self.line += chunk.count("\n")
                word.append(chunk)
                self.pos = end + 1
            elif ch == '"':
                word.append(self._double_quoted())
            elif ch == "\\":
                nxt = text[self.pos + 1 : self.pos + 2]
                if nxt == "\n":
                    self.line += 1
                else:
                    word.append(nxt)
                self.pos += 2
            else:
                start = self.pos
                while self.pos < len(text) and text[self.pos] not in " \t\r\n;'\"\\":
                    self.pos += 1
                word.append(self.expand(text[start : self.pos]))
        if word is not None:
            words.append("".join(word))
        return words or None

    def _double_quoted(self) -> str:
        text = self.text
        self.pos += 1
        out: list[str] = []
        start_line = self.line
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                return self.expand("".join(out)).replace("\x00", "$").replace("\x01", "`")
            if ch == "\\" and text[self.pos + 1 : self.pos + 2] in ('"', "\\", "$", "`", "\n"):
                nxt = text[self.pos + 1]
                if nxt == "\n":
                    self.line += 1
                else:
                    # NUL and SOH stand for an escaped `$` and `` ` `` until expansion is done
                    out.append({"$": "\x00", "`": "\x01"}.get(nxt, nxt))
                self.pos += 2
                continue
            if ch == "\n":
                self.line += 1
            out.append(ch)
            self.pos += 1
        self.line = start_line
        raise self.fail("a double quote is never closed")


def parse_assignments(text: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parse bash-style `KEY=VALUE` lines as the seed's config files hold them.

    Supports comments, single and double quotes (also across lines), backslash escapes,
    `export`/`declare` prefixes, and `$NAME` / `${NAME}` expansion of earlier keys or the
    environment.

    Args:
        text: the file's contents.
        env: the environment used for expansions of names the file has not set.

    Returns:
        The keys in file order; a later assignment overrides an earlier one.

    Raises:
        ConfigError: a line is not an assignment, or uses shell features not supported.
    """
    values: dict[str, str] = {}
    lexer = _Lexer(text, env or {}, values)
    while (words := lexer.words()) is not None:
        line = lexer.start_line
        while words and words[0] in _PREFIXES:
            words = [w for w in words[1:] if not w.startswith("-")] if len(words) > 1 else []
        for word in words:
            key, eq, value = word.partition("=")
            if not eq or not _NAME.fullmatch(key):
                raise ConfigError(
                    f"line {line}: '{one_line(word)}' is not a KEY=VALUE assignment"
                    " (only assignments and comments are allowed)"
                )
            values[key] = value
    return values
