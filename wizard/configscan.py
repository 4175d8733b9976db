"""Where each assignment of the daemon's config stands in its text, for editing in place.

It splits the text as the daemon's parser does (enphase_monitor/shellvars.py: words, quotes,
backslashes, comments, `;` and line ends, the `export`/`declare`/... prefixes and their
options), but keeps each word's place: so a line the daemon reads (`export KEY=v`,
`declare -x KEY=v`, `"KEY"=v`, `A=1 B=2`, `A=1; B=2`, a value over several lines) is the line
the wizard edits. Values are not expanded: the daemon's parser says what they mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from enphase_monitor.shellvars import BOM

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PREFIXES = ("export", "declare", "typeset", "readonly", "local")  # as shellvars reads them
_BREAK = " \t\r\n;"
_PLAIN_END = " \t\r\n;'\"\\"


@dataclass
class Word:
    """One word: where it is in the text, its unquoted text, and where its value starts."""

    start: int
    end: int = 0
    text: str = ""
    value_start: int = -1  # the index after the `=` that splits it (-1: none yet)


@dataclass
class Statement:
    """The words up to a line end or `;`: from the start of its physical line to after its end."""

    line_start: int
    start: int
    end: int = 0
    words: list[Word] = field(default_factory=list)

    def assignments(self) -> list[tuple[str, Word]]:
        """(key, word) of each assignment, as the daemon takes them (prefixes skipped)."""
        words = [w.text for w in self.words]
        skip = 0
        while skip < len(words) and words[skip] in PREFIXES:
            skip += 1
        out = []
        for word in self.words[skip:]:
            key, eq, _ = word.text.partition("=")
            if eq and NAME.fullmatch(key) and not (skip and word.text.startswith("-")):
                out.append((key, word))
        return out

    def alone(self, text: str) -> bool:
        """Nothing else on its physical lines (but a comment): removing it removes them."""
        before = text[self.line_start:self.start]
        return not before.strip(" \t") and (self.end == len(text) or text[self.end - 1] == "\n")


class _Scanner:
    """The daemon's lexer (shellvars._Lexer) without expansion, keeping positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 1 if text.startswith(BOM) else 0
        self.line_start = self.pos

    def _add(self, word: Word, chunk: str, raw_start: int) -> None:
        """Append `chunk` (which starts at `raw_start` when it is unquoted text as is)."""
        if word.value_start < 0 and "=" in chunk:
            word.value_start = raw_start + chunk.index("=") + 1 if raw_start >= 0 else self.pos
        word.text += chunk

    def _word(self, word: Word) -> None:
        """Consume one piece of the word at `pos`: a quoted part, an escape or plain text."""
        text, ch = self.text, self.text[self.pos]
        if ch == "'":
            end = text.find("'", self.pos + 1)
            end = len(text) - 1 if end < 0 else end
            self._add(word, text[self.pos + 1:end], self.pos + 1)
            self.pos = end + 1
        elif ch == '"':
            self.pos += 1
            while self.pos < len(text) and text[self.pos] != '"':
                if text[self.pos] == "\\" and text[self.pos + 1:self.pos + 2] in '"\\$`\n':
                    nxt = text[self.pos + 1:self.pos + 2]
                    self.pos += 2
                    self._add(word, "" if nxt == "\n" else nxt, -1)
                    continue
                self._add(word, text[self.pos], self.pos)
                self.pos += 1
            self.pos += 1
        elif ch == "\\":
            nxt = text[self.pos + 1:self.pos + 2]
            self.pos += 2
            self._add(word, "" if nxt == "\n" else nxt, -1)
        else:
            start = self.pos
            while self.pos < len(text) and text[self.pos] not in _PLAIN_END:
                self.pos += 1
            self._add(word, text[start:self.pos], start)

    def statements(self) -> list[Statement]:
        """Every statement that has words, in order."""
        text, out = self.text, []
        current: Statement | None = None
        word: Word | None = None
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in _BREAK:
                if word is not None and current is not None:
                    word.end = self.pos
                    current.words.append(word)
                    word = None
                self.pos += 1
                if ch in "\n;" and current is not None:
                    current.end = self.pos
                    out.append(current)
                    current = None
                if ch == "\n":
                    self.line_start = self.pos
                continue
            if ch == "#" and word is None:
                while self.pos < len(text) and text[self.pos] != "\n":
                    self.pos += 1
                continue
            if current is None:
                current = Statement(self.line_start, self.pos)
            if word is None:
                word = Word(self.pos)
            self._word(word)
        if current is not None:
            if word is not None:
                word.end = len(text)
                current.words.append(word)
            current.end = len(text)
            out.append(current)
        return out


def assignments(text: str) -> dict[str, list[tuple[Statement, Word]]]:
    """key -> every (statement, word) that assigns it, in file order."""
    found: dict[str, list[tuple[Statement, Word]]] = {}
    for statement in _Scanner(text).statements():
        for key, word in statement.assignments():
            found.setdefault(key, []).append((statement, word))
    return found
