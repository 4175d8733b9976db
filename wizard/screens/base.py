"""What every wizard screen has: the step bar, the dry-run banner, Back/Next and Escape.

A screen gets the session and its place in the run (`Frame`) when it is made, and ends by
`dismiss()`ing its result (or `BACK`); the app decides what comes next. Screens never import
the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, OptionList, RadioSet, Static

from ..session import Session
from ..steps import BACK, Back
from .validators import first_failure

ResultT = TypeVar("ResultT")
FIELD_TYPES = (Input, Checkbox, RadioSet, OptionList)


@dataclass(frozen=True)
class Frame:
    """Where a screen is in the run: the steps' names, which one it is, the UPS, the banner."""

    steps: tuple[str, ...]
    current: int
    ups: str
    banner: str = ""  # why nothing will be written (a dry run), or ""


class StepBar(Static):
    """`enphase-setup · ups  1 Gateway › 2 Credentials › ...`, the current step marked."""

    def __init__(self, frame: Frame) -> None:
        super().__init__(id="steps")
        self.frame = frame

    def show_ups(self, ups: str) -> None:
        """The UPS name as it is being typed (the bar and the field always agree)."""
        self.frame = Frame(self.frame.steps, self.frame.current, ups, self.frame.banner)
        self.refresh()

    def render(self) -> Text:
        """The bar for this width: full names if they fit, else numbers and the current name."""
        frame = self.frame
        head = Text.assemble(("enphase-setup", "bold"), f" · {frame.ups}  ")
        for short in (False, True):
            text = head.copy()
            for number, name in enumerate(frame.steps):
                if number:
                    text.append(" › ")
                label = f"{number + 1} {name}"
                if number == frame.current:
                    text.append(f" {label} ", "bold reverse")
                else:
                    text.append(str(number + 1) if short else label)
            if text.cell_len <= self.size.width or short:
                return text
        return head


def field_error_line(field_id: str) -> Static:
    """The (hidden) line under a field where its error goes."""
    widget = Static("", id=f"{field_id}-error", classes="field-error", markup=False)
    widget.display = False
    return widget


class WizardScreen(Screen[ResultT | Back], Generic[ResultT]):
    """A step of the wizard: `body()` is its content, `submit()` what Next does."""

    TITLE_TEXT: ClassVar[str] = ""
    NEXT_LABEL: ClassVar[str] = "Next"
    CAN_GO_BACK: ClassVar[bool] = True
    FIRST_FIELD: ClassVar[str] = ""  # the widget focused when the screen opens
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "next", "Next"),
    ]

    def __init__(self, session: Session, frame: Frame, focus: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.frame = frame
        self.start_focus = focus or self.FIRST_FIELD
        self.last_field = ""  # the id of the field that had the focus last

    def compose(self) -> ComposeResult:
        yield StepBar(self.frame)
        if self.frame.banner:
            yield Static(self.frame.banner, id="banner", markup=False)
        yield Static(self.TITLE_TEXT, id="title", markup=False)
        with VerticalScroll(id="body"):
            yield from self.body()
        with Horizontal(id="nav"):
            if self.CAN_GO_BACK:
                yield Button("Back \\[Esc]", id="back", compact=True)
            yield Button(self.next_label(), id="next", variant="primary", compact=True)
        yield Footer()

    def next_label(self) -> str:
        """The Next button's label."""
        return self.NEXT_LABEL

    def body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        """Focus the first field (or, after Back, the field that was left)."""
        if self.start_focus:
            self.focus_field(self.start_focus)

    def focus_field(self, widget_id: str) -> None:
        """Focus a widget by id, if it is there and can take the focus."""
        found = self.query(f"#{widget_id}")
        if found and found.first().focusable:
            found.first().focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Remember the last field used (not buttons), to come back to it."""
        widget: Widget = event.widget
        if isinstance(widget, FIELD_TYPES) and widget.id:
            self.last_field = widget.id

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            event.stop()
            self.action_back()
        elif event.button.id == "next":
            event.stop()
            self.action_next()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide Back where there is no going back."""
        return self.CAN_GO_BACK or action != "back"

    def action_back(self) -> None:
        """Go to the previous step (nothing has been written before Apply)."""
        if self.CAN_GO_BACK:
            self.dismiss(BACK)

    def action_next(self) -> None:
        """Next, when the button is enabled."""
        button = self.query_one("#next", Button)
        if not button.disabled:
            self.submit()

    def submit(self) -> None:
        """Check this step's answers and `dismiss()` the result."""

    # ------------------------------------------------------------------ fields and their errors

    def field_error(self, field_id: str, failure: str | None) -> None:
        """Show (or clear) the error line under a field; the field keeps what was typed."""
        widget = self.query_one(f"#{field_id}-error", Static)
        widget.update(Text(f"✗ {failure}") if failure else Text(""))
        widget.display = bool(failure)

    def check_field(self, field_id: str) -> str | None:
        """Run a field's validators once and show the result under it."""
        widget = self.query_one(f"#{field_id}", Input)
        failure = first_failure(widget.validate(widget.value))
        self.field_error(field_id, failure)
        return failure

    def check_fields(self, *field_ids: str) -> bool:
        """Check fields; focus the first invalid one with its error in view. True: all fine."""
        failed = [f for f in field_ids if self.check_field(f) is not None]
        if failed:
            self.focus_field(failed[0])
            error = self.query_one(f"#{failed[0]}-error")
            self.call_after_refresh(error.scroll_visible, animate=False)
        return not failed

    @on(Input.Blurred)
    def field_left(self, event: Input.Blurred) -> None:
        """Say what is wrong with a field when the cursor leaves it."""
        if event.input.id and self.query(f"#{event.input.id}-error"):
            self.check_field(event.input.id)

    @on(Input.Changed)
    def field_changed(self, event: Input.Changed) -> None:
        """Once an error is shown, follow the typing: clear it when the value is fine."""
        field_id = event.input.id
        if field_id and self.query(f"#{field_id}-error"):
            error = self.query_one(f"#{field_id}-error", Static)
            if error.display:
                self.check_field(field_id)

    def set_message(self, widget_id: str, text: str, kind: str = "") -> None:
        """Show a message in a Static, styled as error/ok/warn."""
        widget = self.query_one(f"#{widget_id}", Static)
        widget.update(Text(text))
        widget.set_classes(f"message {kind}".strip())
