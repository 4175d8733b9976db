"""A change's preview as the review shows it: wrapped to the screen's width, a diff keeping
its `+`/`-` on every wrapped row, highlighted (additions green, removals red)."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

STYLES = {"+": Style(color="green"), "-": Style(color="red"), "@": Style(color="cyan"),
          "#": Style(dim=True)}
HEADERS = ("+++ ", "--- ")


class Preview:
    """Text that wraps with a hanging marker: diff rows repeat their `+`/`-`/` `, other text
    indents its continuation rows by two spaces.

    Args:
        text: the preview (a unified diff when `diff`).
        diff: the text is a diff.
    """

    def __init__(self, text: str, diff: bool) -> None:
        self.text = text.rstrip("\n")
        self.diff = diff

    def _split(self, line: str) -> tuple[str, str, str]:
        """(marker of the first row, marker of the rows after it, the rest of the line)."""
        if self.diff and line[:1] in ("+", "-", " ") and not line.startswith(HEADERS):
            return line[0], line[0], line[1:]
        return "", "  ", line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(options.max_width, 8)
        for line in self.text.splitlines():
            first, rest, body = self._split(line)
            style = STYLES.get(line[:1], Style()) if self.diff or line[:1] == "#" else Style()
            if line.startswith(HEADERS):
                style = Style(bold=True)
            rows = Text(body.expandtabs(4) or " ").wrap(console, width - max(len(first), len(rest)))
            for number, row in enumerate(rows):
                marker = first if number == 0 else rest
                yield Segment(marker + row.plain.rstrip() if body else marker, style)
                yield Segment.line()
