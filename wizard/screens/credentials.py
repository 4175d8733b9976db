"""Step 2: Enlighten e-mail + password (or a manual token), checked live before moving on."""

from __future__ import annotations

from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, Input, Static

from .. import shown
from ..answermodel import SecretStore
from ..steps import CredentialsAnswer
from ..validate import CheckResult, Failure
from .base import WizardScreen, field_error_line
from .busy import BusyScreen
from .validators import validators_for

TOKEN_PAGE = "https://entrez.enphaseenergy.com/entrez_tokens"
_STORE_NAMES = {SecretStore.CREDENTIAL: "a systemd credential", SecretStore.KEYRING: "the keyring",
                SecretStore.CONFIG: "the config"}


def _fingerprint(hexdigest: str) -> str:
    pairs = [hexdigest[i:i + 2] for i in range(0, len(hexdigest), 2)]
    return ":".join(pairs[:6]) + ":..." if pairs else "unknown"


class CredentialsScreen(WizardScreen[CredentialsAnswer]):
    """The login, the token fetch and one gateway call, with each step shown as it runs."""

    TITLE_TEXT = "Enlighten credentials"
    NEXT_LABEL = "Check and continue"
    FIRST_FIELD = "username"

    def body(self) -> ComposeResult:
        ans = self.session.answers
        gateway = f"Gateway {shown.short(ans.serial) or '?'} at {ans.envoy_host}"
        if ans.firmware:
            gateway += f", firmware {shown.short(ans.firmware)}"
        yield Static(gateway + ". Firmware 7 and later needs a token, which enphase-monitor"
                     " gets from Enphase's cloud with your Enlighten login.", classes="hint",
                     markup=False)
        yield Static("Enlighten e-mail", classes="label")
        yield Input(ans.username, placeholder="you@example.com", id="username", compact=True,
                    validators=validators_for("username"))
        yield field_error_line("username")
        yield Static("Enlighten password", classes="label", id="password-label")
        keep = ""
        if ans.keep_secret:
            keep = f"stored in {_STORE_NAMES[ans.secret_store]}: leave empty to keep it"
        yield Input(ans.password, password=True, placeholder=keep, id="password", compact=True,
                    validators=validators_for("password"))
        yield field_error_line("password")
        yield Checkbox("My account uses multi-factor authentication: use a token instead",
                       ans.use_token, id="use-token", compact=True)
        yield Static(f"Token from Enphase ({TOKEN_PAGE}); it lasts up to a year",
                     classes="label", id="token-label")
        yield Input(ans.token, password=True, placeholder="eyJ...", id="token", compact=True,
                    validators=validators_for("token"))
        yield field_error_line("token")
        pin = "Pin the gateway's TLS certificate"
        if ans.gateway_fingerprint:
            pin += f" (SHA-256 {_fingerprint(ans.gateway_fingerprint)})"
        yield Checkbox(pin, ans.pin_certificate, id="pin", compact=True,
                       disabled=not ans.gateway_fingerprint)
        yield Static("", id="steps-done", classes="message")
        yield Static("", id="result", classes="message")

    def on_mount(self) -> None:
        self.show_token_fields(self.session.answers.use_token)
        self._steps: list[str] = []

    @on(Checkbox.Changed, "#use-token")
    def token_toggled(self, event: Checkbox.Changed) -> None:
        self.show_token_fields(event.value)

    def show_token_fields(self, token: bool) -> None:
        """The token input replaces the password input on the manual-token path."""
        self.query_one("#token-label", Static).display = token
        self.query_one("#token", Input).display = token
        self.query_one("#password-label", Static).display = not token
        self.query_one("#password", Input).display = not token

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_next()

    def answer(self, checked: CheckResult | None) -> CredentialsAnswer:
        """What the fields say."""
        return CredentialsAnswer(
            username=self.query_one("#username", Input).value.strip(),
            password=self.query_one("#password", Input).value,
            token=self.query_one("#token", Input).value.strip(),
            use_token=self.query_one("#use-token", Checkbox).value,
            pin_certificate=self.query_one("#pin", Checkbox).value, checked=checked)

    def submit(self) -> None:
        if not self.check_fields("username", "password", "token"):
            return
        answer = self.answer(None)
        secret = answer.token if answer.use_token else answer.password
        ans = self.session.answers
        if not secret and ans.keep_secret:
            self.dismiss(answer)  # the stored secret stays; nothing to check
            return
        missing = [name for name, value in (
            ("the token" if answer.use_token else "the password", secret),
            ("the e-mail", answer.username or answer.use_token)) if not value]
        if missing:
            self.set_message("result", f"✗ Please enter {' and '.join(missing)}.", "error")
            return
        candidate = replace(ans, username=answer.username, password=answer.password,
                            token=answer.token, use_token=answer.use_token,
                            pin_certificate=answer.pin_certificate)
        self.set_message("result", "")
        self.set_message("steps-done", "")
        self._steps = []
        check = self.session.check_live
        self.app.push_screen(BusyScreen("Checking the credentials live",
                                        lambda progress: check(candidate, progress),
                                        self._steps.append), self.checked)

    def checked(self, result: CheckResult | None) -> None:
        """Move on, or say what failed and put the cursor where the fix goes."""
        if result is None:
            return
        done = [f"✓ {shown.message(s)}" for s in self._steps[:-1]]
        if self._steps:
            done.append(("✓ " if result.ok else "✗ ") + shown.message(self._steps[-1]))
        self.set_message("steps-done", "\n".join(done), "hint")
        if result.ok:
            self.set_message("result", f"✓ {shown.message(result.message)}", "ok")
            self.dismiss(self.answer(result))
            return
        message = f"✗ {shown.message(result.message)}"
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
