"""Step 7: a summary, `upsc <ups>@localhost` once the driver is up, and the next steps."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import LoadingIndicator, Static

from ..answermodel import SecretStore
from ..runner import Result
from ..session import REAUTH
from ..steps import DoneAnswer
from .base import WizardScreen
from .preview import Preview

STORE_TEXT = {SecretStore.CREDENTIAL: "systemd encrypted credential",
              SecretStore.KEYRING: "the keyring of the daemon's user",
              SecretStore.CONFIG: "the config file"}


class DoneScreen(WizardScreen[DoneAnswer]):
    """The end of the run."""

    TITLE_TEXT = "Done"
    NEXT_LABEL = "Quit"
    CAN_GO_BACK = False
    FIRST_FIELD = "next"  # Enter quits

    def body(self) -> ComposeResult:
        ans, facts = self.session.answers, self.session.facts
        lines = [
            f"UPS '{ans.ups}': Enphase gateway {ans.serial} at {ans.envoy_host}",
            f"config       {facts.nut.config_file(ans.ups)}",
            f"port file    {ans.port_path} (battery.charge.low {ans.charge_low} %)",
            f"secret       {STORE_TEXT[ans.secret_store]}",
        ]
        if self.session.mode == REAUTH:
            lines = [f"New credentials for UPS '{ans.ups}' stored in"
                     f" {STORE_TEXT[ans.secret_store]}; the monitor was restarted."]
        yield Static("\n".join(lines), classes="facts", markup=False)
        yield Static(f"$ upsc {ans.ups}@localhost", classes="label")
        yield LoadingIndicator(id="waiting")
        yield Static("waiting for the driver...", id="upsc", classes="preview", markup=False)
        plan = self.session.plan
        steps = plan.next_steps if plan is not None else []
        yield Static("Next steps", classes="label")
        yield Static(Preview("\n".join(f"- {s}" for s in steps), diff=False), classes="hint",
                     id="next-steps")

    def on_mount(self) -> None:
        if self.session.mode == REAUTH or not self.session.context.live:
            why = ("systemd is not running here" if not self.session.context.live
                   else "the credentials only were renewed")
            self.show_upsc(Result(127, "", f"(not run: {why})"))
        else:
            self.wait_upsc()

    @work(thread=True, exclusive=True, group="upsc")
    def wait_upsc(self) -> None:
        """Poll upsc until the driver answers (a thread)."""
        result = self.session.upsc()
        self.app.call_from_thread(self.show_upsc, result)

    def show_upsc(self, result: Result) -> None:
        """Show upsc's answer."""
        self.query_one("#waiting", LoadingIndicator).display = False
        text = result.shown() or result.reason()  # escaped: upsc's answer is outside text
        self.query_one("#upsc", Static).update(Text(text))

    def submit(self) -> None:
        self.dismiss(DoneAnswer())
