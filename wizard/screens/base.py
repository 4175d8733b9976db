"""What every wizard screen has: the step bar, the dry-run banner, Back/Next, Escape and Ctrl+Q."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from ..session import Session

if TYPE_CHECKING:
    from ..app import WizardApp


class WizardScreen(Screen[None]):
    """A step of the wizard: `body()` is its content, `go_next()` what Next does."""

    STEP: ClassVar[str] = ""
    TITLE_TEXT: ClassVar[str] = ""
    NEXT_LABEL: ClassVar[str] = "Next"
    BACK: ClassVar[bool] = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "next", "Next"),
        Binding("ctrl+q", "quit_wizard", "Quit", priority=True),
    ]

    @property
    def wizard(self) -> WizardApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> Session:
        """The run's shared state."""
        return self.wizard.session

    def compose(self) -> ComposeResult:
        yield Static(self.wizard.step_bar(self.STEP), id="steps")
        if self.session.dry_run:
            yield Static(self.wizard.dry_run_text(), id="banner", markup=False)
        yield Static(self.TITLE_TEXT, id="title", markup=False)
        with VerticalScroll(id="body"):
            yield from self.body()
        with Horizontal(id="nav"):
            if self.BACK:
                yield Button("Back \\[Esc]", id="back", compact=True)
            yield Button(self.next_label(), id="next", variant="primary", compact=True)
        yield Footer()

    def next_label(self) -> str:
        """The Next button's label."""
        return self.NEXT_LABEL

    def body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            event.stop()
            self.action_back()
        elif event.button.id == "next":
            event.stop()
            self.action_next()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide Back where there is no going back."""
        return self.BACK or action != "back"

    def action_back(self) -> None:
        """Go to the previous step (nothing has been written before Apply)."""
        if self.BACK:
            self.wizard.back()

    def action_next(self) -> None:
        """Next, when the button is enabled."""
        button = self.query_one("#next", Button)
        if not button.disabled:
            self.go_next()

    def go_next(self) -> None:
        """Check this step's answers and move on."""
        self.wizard.advance(self.STEP)

    def action_quit_wizard(self) -> None:
        """Leave; before Apply nothing has been changed."""
        self.wizard.quit_wizard()

    def set_message(self, widget_id: str, text: str, kind: str = "") -> None:
        """Show a message in a Static, styled as error/ok/warn."""
        widget = self.query_one(f"#{widget_id}", Static)
        widget.update(Text(text))
        widget.set_classes(f"message {kind}".strip())
