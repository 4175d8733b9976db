"""ups.conf: read it, and edit one section while every other byte stays as it was.

The file is kept as its original lines (line endings included). Editing a section replaces only
the lines of the keys that change (keeping their indentation), inserts missing keys after the
section's last setting, and leaves comments, other keys, other sections and the global options
before the first section untouched. Words are split as NUT's parseconf does: whitespace
separates, ``"..."`` quotes (with ``\\`` escapes), ``#`` starts a comment, ``=`` is a word.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from enphase_monitor.textsafe import has_control

SECTION_MARK = "(set up by enphase-setup)"  # in the comment under a section the wizard made

_SAFE = re.compile(r"[A-Za-z0-9_./:@+%,-]+")


def split_words(line: str) -> list[str]:
    """The words of one ups.conf line, as NUT's parseconf splits them."""
    words: list[str] = []
    word: list[str] | None = None
    quoted = False
    i = 0
    while i < len(line):
        ch = line[i]
        if quoted:
            if ch == "\\" and i + 1 < len(line):
                i += 1
                word_add = line[i]
                assert word is not None
                word.append(word_add)
            elif ch == '"':
                quoted = False
            else:
                assert word is not None
                word.append(ch)
        elif ch == "#":
            break
        elif ch in " \t\r\n":
            if word is not None:
                words.append("".join(word))
                word = None
        elif ch == '"':
            quoted = True
            word = word if word is not None else []
        elif ch == "=":
            if word is not None:
                words.append("".join(word))
            words.append("=")
            word = None
        elif ch == "\\" and i + 1 < len(line):
            i += 1
            word = (word or []) + [line[i]]
        else:
            word = (word or []) + [ch]
        i += 1
    if word is not None:
        words.append("".join(word))
    return words


def quote(value: str) -> str:
    """A value as ups.conf wants it: bare when safe, else in double quotes.

    Raises:
        ValueError: a control character (a newline would start a new line, or a section);
            the answers' rules refuse them first, this is the last guard.
    """
    if has_control(value):
        raise ValueError("a ups.conf value may not hold control characters")
    if _SAFE.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _setting(words: list[str]) -> tuple[str, str] | None:
    """(key, value) of a `key = value` line, (flag, "") of a lone word."""
    if len(words) >= 3 and words[1] == "=":
        return words[0], " ".join(words[2:])
    if len(words) == 1 and not words[0].startswith("["):
        return words[0], ""
    return None


def _header(line: str) -> str | None:
    stripped = line.strip()
    if stripped.startswith("[") and "]" in stripped:
        return stripped[1:stripped.index("]")].strip()
    return None


@dataclass
class Section:
    """One `[name]` section: where it is and what it sets."""

    name: str
    start: int  # index of the header line
    end: int  # index after the section's last line (the next header, or the end)
    settings: dict[str, str] = field(default_factory=dict)  # first occurrence of each key
    key_lines: dict[str, int] = field(default_factory=dict)
    last_setting: int = -1  # index of the last line that sets something (or the header)


class UpsConf:
    """A parsed ups.conf that can produce an edited copy.

    Args:
        text: the file's text (decode bytes with surrogateescape to keep every byte).
    """

    def __init__(self, text: str = "") -> None:
        self.lines = text.splitlines(keepends=True)
        self.eol = "\r\n" if any(line.endswith("\r\n") for line in self.lines) else "\n"
        self.sections: list[Section] = []
        self.globals: dict[str, str] = {}
        self._parse()

    def _parse(self) -> None:
        current: Section | None = None
        for index, line in enumerate(self.lines):
            name = _header(line)
            if name is not None:
                if current is not None:
                    current.end = index
                current = Section(name, index, len(self.lines), last_setting=index)
                self.sections.append(current)
                continue
            pair = _setting(split_words(line))
            if pair is None:
                continue
            key, value = pair
            if current is None:
                self.globals.setdefault(key, value)
                continue
            current.settings.setdefault(key, value)
            current.key_lines.setdefault(key, index)
            current.last_setting = index

    def text(self) -> str:
        """The file's text."""
        return "".join(self.lines)

    def section(self, name: str) -> Section | None:
        """The first section with this name."""
        return next((s for s in self.sections if s.name == name), None)

    def _lead(self, section: Section) -> str | None:
        """The indentation of a section's first setting (None: it has none)."""
        for index in sorted(section.key_lines.values()):
            line = self.lines[index]
            return line[: len(line) - len(line.lstrip(" \t"))]
        return None

    def _indent(self, section: Section | None = None) -> str:
        """The indentation of `section`'s settings, else that of the file's first section
        with settings (none, a tab, two spaces...), else a tab as NUT's examples."""
        if section is not None:
            return self._lead(section) or ""
        leads = [lead for s in self.sections if (lead := self._lead(s)) is not None]
        return leads[0] if leads else "\t"

    def with_section(
        self, name: str, values: Mapping[str, str], comment: str | None = None
    ) -> UpsConf:
        """A copy with section `name` setting `values` (added at the end if new).

        Lines whose value is already right are not touched, so an unchanged section stays
        byte-identical. `comment` goes under the header of a new section only.
        """
        section = self.section(name)
        lines = list(self.lines)
        if section is None:
            bare = bool(lines) and not lines[-1].endswith("\n")
            if bare:  # no final line end: the new section ends the file without one too
                lines[-1] += self.eol
            if lines and lines[-1].strip():
                lines.append(self.eol)
            lines.append(f"[{name}]{self.eol}")
            indent = self._indent()
            if comment:
                lines.append(f"{indent}# {comment}{self.eol}")
            lines.extend(f"{indent}{key} = {quote(value)}{self.eol}"
                         for key, value in values.items())
            if bare:
                lines[-1] = lines[-1].rstrip("\r\n")
            return UpsConf("".join(lines))
        indent = self._indent(section)
        inserted: list[str] = []
        for key, value in values.items():
            index = section.key_lines.get(key)
            if index is None:
                inserted.append(f"{indent}{key} = {quote(value)}{self.eol}")
                continue
            if section.settings[key] == value:
                continue
            old = lines[index]
            ending = old[len(old.rstrip("\r\n")):] or self.eol
            lead = old[: len(old) - len(old.lstrip(" \t"))]
            lines[index] = f"{lead}{key} = {quote(value)}{ending}"
        if inserted:
            at = section.last_setting + 1
            if not lines[at - 1].endswith("\n"):
                lines[at - 1] += self.eol
            lines[at:at] = inserted
        return UpsConf("".join(lines))

    def marked(self, name: str) -> bool:
        """Section `name` carries the comment enphase-setup puts under a section it makes."""
        section = self.section(name)
        return section is not None and any(
            SECTION_MARK in line for line in self.lines[section.start: section.end])

    def section_text(self, name: str) -> str | None:
        """Section `name` exactly as the file has it: its header through its last setting."""
        section = self.section(name)
        if section is None:
            return None
        return "".join(self.lines[section.start: section.last_setting + 1])

    def with_section_text(self, name: str, text: str) -> UpsConf:
        """A copy where section `name` (header through last setting) is `text`, verbatim:
        a section taken over goes back as it was (`section_text` of the file before)."""
        section = self.section(name)
        if section is None:
            return UpsConf(self.text())
        lines = list(self.lines)
        lines[section.start: section.last_setting + 1] = [text]
        return UpsConf("".join(lines))

    def without_section(self, name: str) -> UpsConf:
        """A copy without section `name` (its header through its last setting).

        Comments and blank lines after its last setting stay: they usually introduce the
        next section. One blank line left doubled by the removal goes too.
        """
        section = self.section(name)
        if section is None:
            return UpsConf(self.text())
        lines = list(self.lines)
        bare = section.last_setting == len(lines) - 1 and not lines[-1].endswith("\n")
        del lines[section.start: section.last_setting + 1]
        at = section.start
        before_blank = at == 0 or not lines[at - 1].strip()
        if at < len(lines) and not lines[at].strip() and before_blank:
            del lines[at]
        elif at == len(lines) and at > 0 and not lines[at - 1].strip():
            del lines[at - 1]
        if bare and lines:  # `with_section` gave a file without a final line end one
            lines[-1] = lines[-1].rstrip("\r\n")
        return UpsConf("".join(lines))
