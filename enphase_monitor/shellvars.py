"""Read the seed's bash config syntax (`KEY=VALUE` assignments) without running it."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .errors import ConfigError
from .textsafe import escape

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PREFIXES = ("export", "declare", "typeset", "readonly", "local")
_VAR_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_BAD_BRACE = re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*\})")
BOM = "\ufeff"
MAX_CONFIG_CHARS = 65536  # the seed's configs are about 1 kB; TEST_* payloads a few kB each
MAX_VALUE_CHARS = 16384  # one value after $NAME expansion (a meters report is about 5 kB)
MAX_TOTAL_CHARS = 262144  # all words together: `A2=$A1$A1` 25 times would be 400 MB
SHOWN_WORD_CHARS = 40


@dataclass(frozen=True)
class Assignment:
    """One `KEY=VALUE`: its value, its line, the key set before it on that line (if any), and
    whether its name may be shown (False when it may be the tail of a secret)."""

    value: str
    line: int
    follows: str | None = None
    named: bool = True


class _Lexer:
    """Splits shell text into logical lines of words, keeping quotes' meaning.

    Words are bounded: none longer than MAX_VALUE_CHARS, all together at most
    MAX_TOTAL_CHARS, checked while `$NAME` expansions are built, so no input can make it
    allocate more than that.
    """

    def __init__(self, text: str, env: Mapping[str, str], known: Mapping[str, str]) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.env = env
        self.known = known
        self.start_line = 1
        self.at_line_start = True  # no word yet since the last real line break
        self.fresh = True  # the current logical line began a physical line
        self._word_chars = 0
        self._total_chars = 0

    def fail(self, what: str) -> ConfigError:
        return ConfigError(f"line {self.line}: {what}")

    def _add(self, word: list[str], piece: str) -> None:
        """Append `piece` to the word being built, within the size bounds."""
        self._word_chars += len(piece)
        self._total_chars += len(piece)
        if self._word_chars > MAX_VALUE_CHARS:
            raise ConfigError(f"line {self.start_line}: a value is longer than"
                              f" {MAX_VALUE_CHARS} characters (after $NAME expansion)")
        if self._total_chars > MAX_TOTAL_CHARS:
            raise ConfigError(f"line {self.start_line}: the config's values add up to more"
                              f" than {MAX_TOTAL_CHARS} characters (after $NAME expansion)")
        word.append(piece)

    def expand(self, raw: str, word: list[str]) -> None:
        """Append `raw` to `word`, expanding `$NAME` and `${NAME}` (earlier keys, then env)."""
        if "$(" in raw or "`" in raw:
            raise self.fail("command substitution is not supported; write the value itself")
        if _BAD_BRACE.search(raw):
            raise self.fail("only plain ${NAME} expansions are supported")
        end = 0
        for m in _VAR_REF.finditer(raw):
            self._add(word, raw[end : m.start()])
            name = m.group(1) or m.group(2)
            self._add(word, self.known.get(name, self.env.get(name, "")))
            end = m.end()
        self._add(word, raw[end:])

    def _start_word(self, words: list[str]) -> list[str]:
        if not words:
            self.start_line = self.line
            self.fresh = self.at_line_start
        self.at_line_start = False
        self._word_chars = 0
        return []

    def words(self) -> list[str] | None:
        """Return the next logical line's words, or None at the end of the text."""
        text = self.text
        words: list[str] = []
        word: list[str] | None = None
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\r\n;":
                self.pos += 1
                if word is not None:
                    words.append("".join(word))
                    word = None
                if ch == "\n":
                    self.line += 1
                    self.at_line_start = True
                if ch in "\n;" and words:
                    return words
                continue
            if ch == "#" and word is None:
                while self.pos < len(text) and text[self.pos] != "\n":
                    self.pos += 1
                continue
            if word is None:
                word = self._start_word(words)
            if ch == "'":
                end = text.find("'", self.pos + 1)
                if end < 0:
                    raise self.fail("a single quote is never closed")
                chunk = text[self.pos + 1 : end]
                self.line += chunk.count("\n")
                self._add(word, chunk)
                self.pos = end + 1
            elif ch == '"':
                self._double_quoted(word)
            elif ch == "\\":
                nxt = text[self.pos + 1 : self.pos + 2]
                if nxt == "\n":
                    self.line += 1
                else:
                    self._add(word, nxt)
                self.pos += 2
            else:
                start = self.pos
                while self.pos < len(text) and text[self.pos] not in " \t\r\n;'\"\\":
                    self.pos += 1
                self.expand(text[start : self.pos], word)
        if word is not None:
            words.append("".join(word))
        return words or None

    def _double_quoted(self, word: list[str]) -> None:
        """Append a double-quoted part: `\\` escapes only `"`, `\\`, `$`, `` ` `` and newline."""
        text = self.text
        self.pos += 1
        chunk: list[str] = []
        start_line = self.line
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                self.expand("".join(chunk), word)
                return
            if ch == "\\" and text[self.pos + 1 : self.pos + 2] in ('"', "\\", "$", "`", "\n"):
                nxt = text[self.pos + 1]
                if nxt == "\n":
                    self.line += 1
                else:  # a literal character: expand what came before, then add it as it is
                    self.expand("".join(chunk), word)
                    chunk = []
                    self._add(word, nxt)
                self.pos += 2
                continue
            if ch == "\n":
                self.line += 1
            chunk.append(ch)
            self.pos += 1
        self.line = start_line
        raise self.fail("a double quote is never closed")


class _Names:
    """Which text a message may show: values of public keys, names that cannot be secret.

    Any key that is not known, or is secret, may hold a secret; so may whatever follows it
    on its line (`PASSWORD=my secret` makes `secret` a word of its own) and the word that
    starts the next line (a quoted value broken by a quote inside it).
    """

    def __init__(self, known: Collection[str], secret: Collection[str]) -> None:
        self.known = known
        self.secret = secret

    def public(self, key: str | None) -> bool:
        """True when `key`'s value may be shown (None: no key, nothing to hide)."""
        return key is None or (key in self.known and key not in self.secret)

    def named(self, key: str, follows: str | None) -> bool:
        """True when the name of `key` (set after `follows` on its line) may be shown."""
        return key in self.known or self.public(follows)


def _not_an_assignment(line: int, word: str, shown: bool, after: str | None) -> ConfigError:
    """The error for a word that is not `KEY=VALUE`, showing the word only when `shown`."""
    if shown:
        what = f"'{escape(word, SHOWN_WORD_CHARS)}' is not a KEY=VALUE assignment"
        return ConfigError(f"line {line}: {what} (only assignments and comments are allowed)")
    where = f"the text after {after}=" if after else "this line"
    return ConfigError(
        f"line {line}: {where} is not a KEY=VALUE assignment: put a value that holds spaces,"
        " line breaks, ';', '#' or quotes in single quotes"
    )


def parse_lines(text: str, env: Mapping[str, str] | None = None,
                known: Collection[str] = (), secret: Collection[str] = ()
                ) -> dict[str, Assignment]:
    """Parse bash-style `KEY=VALUE` lines as the seed's config files hold them.

    Supports comments, single and double quotes (also across lines), backslash escapes,
    `export`/`declare` prefixes, and `$NAME` / `${NAME}` expansion of earlier keys or the
    environment. A UTF-8 byte order mark at the start is skipped. Errors name the line and
    never show a value: a word is shown only when it starts a line that follows a key whose
    value may be shown (a command such as `curl` after `PORT_FILE=...`); a key is named
    only when it cannot be the tail of a secret.

    Args:
        text: the file's contents (at most MAX_CONFIG_CHARS).
        env: the environment used for expansions of names the file has not set.
        known: the keys the caller knows; any other key may hold a secret.
        secret: known keys whose values are secret.

    Returns:
        The keys in file order, each with its value and line; a later assignment overrides.

    Raises:
        ConfigError: a line is not an assignment, uses shell features not supported, or the
            text or a value is too large.
    """
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigError(f"the config is larger than {MAX_CONFIG_CHARS // 1024} KiB:"
                          " is this the right file?")
    text = text.removeprefix(BOM)
    names = _Names(known, secret)
    found: dict[str, Assignment] = {}
    values: dict[str, str] = {}
    lexer = _Lexer(text, env or {}, values)
    after: str | None = None  # the key set last on this line
    last: str | None = None  # the key set last in the file
    while (words := lexer.words()) is not None:
        line = lexer.start_line
        if lexer.fresh:
            after = None
        while words and words[0] in _PREFIXES:
            words = [w for w in words[1:] if not w.startswith("-")] if len(words) > 1 else []
        for index, word in enumerate(words):
            key, eq, value = word.partition("=")
            if not eq or not _NAME.fullmatch(key):
                shown = index == 0 and lexer.fresh and names.public(last)
                named = after if after is not None and found[after].named else None
                raise _not_an_assignment(line, word, shown, named)
            found[key] = Assignment(value, line, after, names.named(key, after))
            values[key] = value
            after = last = key
    return found


def parse_assignments(text: str, env: Mapping[str, str] | None = None,
                      known: Collection[str] = (), secret: Collection[str] = ()
                      ) -> dict[str, str]:
    """`parse_lines` without the line numbers: key -> value.

    Raises:
        ConfigError: as parse_lines.
    """
    return {key: found.value for key, found in parse_lines(text, env, known, secret).items()}
