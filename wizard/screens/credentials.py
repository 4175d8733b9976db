"""Step 2: Enlighten e-mail + password (or a manual token), checked live before moving on."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Button, Checkbox, Input, LoadingIndicator, Static

from ..answers import SecretStore
from ..validate import CheckResult, Failure
from .base import WizardScreen

TOKEN_PAGE = "https://entrez.enphaseenergy.com/entrez_tokens"
_STORE_NAMES = {SecretStore.CREDENTIAL: "a systemd credential", SecretStore.KEYRING: "the keyring",
                SecretStore.CONFIG: "the config"}


def _fingerprint(hexdigest: str) -> str:
    pairs = [hexdigest[i:i + 2] for i in range(0, len(hexdigest), 2)]
    return ":".join(pairs[:6]) + ":..." if pairs else "unknown"


class CredentialsScreen(WizardScreen):
    """The login, the token fetch and one gateway call, with each step shown as it runs."""

    STEP = "credentials"
    TITLE_TEXT = "Enlighten credentials"
    NEXT_LABEL = "Check and continue"

    def body(self) -> ComposeResult:
        ans = self.session.answers
        gateway = f"Gateway {ans.serial or '?'} at {ans.envoy_host}"
        if ans.firmware:
            gateway += f", firmware {ans.firmware}"
        yield Static(gateway + ". Firmware 7 and later needs a token, which enphase-monitor"
                     " gets from Enphase's cloud with your Enlighten login.", classes="hint",
                     markup=False)
        yield Static("Enlighten e-mail", classes="label")
        yield Input(ans.username, placeholder="you@example.com", id="username", compact=True)
        yield Static("Enlighten password", classes="label")
        keep = ""
        if ans.keep_secret:
            keep = f"stored in {_STORE_NAMES[ans.secret_store]}: leave empty to keep it"
        yield Input(ans.password, password=True, placeholder=keep, id="password", compact=True)
        yield Checkbox("My account uses multi-factor authentication: use a token instead",
                       ans.use_token, id="use-token", compact=True)
        yield Static(f"Token from Enphase ({TOKEN_PAGE}); it lasts up to a year",
                     classes="label", id="token-label")
        yield Input(ans.token, password=True, placeholder="eyJ...", id="token", compact=True)
        pin = "Pin the gateway's TLS certificate"
        if ans.gateway_fingerprint:
            pin += f" (SHA-256 {_fingerprint(ans.gateway_fingerprint)})"
        yield Checkbox(pin, ans.pin_certificate, id="pin", compact=True,
                       disabled=not ans.gateway_fingerprint)
        yield LoadingIndicator(id="busy")
        yield Static("", id="steps-done", classes="message")
        yield Static("", id="result", classes="message")

    def on_mount(self) -> None:
        self.query_one("#busy", LoadingIndicator).display = False
        self.show_token_fields(self.session.answers.use_token)
        self.query_one("#username", Input).focus()

    @on(Checkbox.Changed, "#use-token")
    def token_toggled(self, event: Checkbox.Changed) -> None:
        self.show_token_fields(event.value)

    def show_token_fields(self, token: bool) -> None:
        """The token input replaces the password input on the manual-token path."""
        self.query_one("#token-label", Static).display = token
        self.query_one("#token", Input).display = token
        self.query_one("#password", Input).display = not token

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_next()

    def go_next(self) -> None:
        ans = self.session.answers
        ans.username = self.query_one("#username", Input).value.strip()
        ans.password = self.query_one("#password", Input).value
        ans.token = self.query_one("#token", Input).value.strip()
        ans.use_token = self.query_one("#use-token", Checkbox).value
        ans.pin_certificate = self.query_one("#pin", Checkbox).value
        if ans.secret():
            ans.keep_secret = False
        if not ans.secret() and ans.keep_secret:
            self.session.checked = None
            super().go_next()  # the stored secret stays; nothing to check
            return
        missing = [name for name, value in (
            ("the token" if ans.use_token else "the password", ans.secret()),
            ("the e-mail", ans.username or ans.use_token)) if not value]
        if missing:
            self.set_message("result", f"✗ Please enter {' and '.join(missing)}.", "error")
            return
        self.query_one("#next", Button).disabled = True
        self.query_one("#busy", LoadingIndicator).display = True
        self.set_message("result", "")
        self._steps: list[str] = []
        self.check()

    @work(thread=True, exclusive=True, group="check")
    def check(self) -> None:
        """The live check (a thread: network)."""
        result = self.session.services.check(
            self.session.answers, lambda step: self.app.call_from_thread(self.step, step))
        self.app.call_from_thread(self.checked, result)

    def step(self, text: str) -> None:
        """Show the step now running; the previous one is done."""
        self._steps.append(text)
        lines = [f"✓ {s}" for s in self._steps[:-1]] + [f"… {self._steps[-1]}"]
        self.set_message("steps-done", "\n".join(lines), "hint")

    def checked(self, result: CheckResult) -> None:
        """Move on, or say what failed and put the cursor where the fix goes."""
        self.query_one("#busy", LoadingIndicator).display = False
        self.query_one("#next", Button).disabled = False
        done = [f"✓ {s}" for s in self._steps[:-1]]
        if self._steps:
            done.append(("✓ " if result.ok else "✗ ") + self._steps[-1])
        self.set_message("steps-done", "\n".join(done), "hint")
        self.session.checked = result
        if result.ok:
            self.set_message("result", f"✓ {result.message}", "ok")
            super().go_next()
            return
        message = f"✗ {result.message}"
        if result.failure is Failure.MFA:
            self.query_one("#use-token", Checkbox).value = True
            message += "\n  The token field is below: paste the token and check again."
        elif result.failure in (Failure.SERIAL, Failure.GATEWAY_REFUSED,
                                Failure.GATEWAY_UNREACHABLE):
            message += "\n  Go Back [Esc] to change the gateway host or serial."
        elif result.failure is Failure.HARDWARE:
            message += "\n  Go Back [Esc] to choose another gateway."
        self.set_message("result", message, "error")
        focus = {"password": "#password", "username": "#username", "token": "#token"}
        if result.field in focus:
            target = self.query_one(focus[result.field], Input)
            target.focus()
