"""Step 4: where the secret goes: a systemd credential, the keyring, or the config file."""

from __future__ import annotations

from dataclasses import replace

from textual import work
from textual.app import ComposeResult
from textual.widgets import RadioButton, RadioSet, Static

from ..answermodel import SecretStore, credential_path
from ..planner.secret import store_problem
from ..steps import SecretAnswer
from ..userkeyring import KeyringStatus
from .base import WizardScreen


class SecretScreen(WizardScreen[SecretAnswer]):
    """Three choices; the ones this host cannot do are disabled and say why."""

    TITLE_TEXT = "Where the secret goes"
    NEXT_LABEL = "Review"
    FIRST_FIELD = "store"

    def body(self) -> ComposeResult:
        ans, facts = self.session.answers, self.session.facts
        kind = "token" if ans.use_token else "password"
        creds = facts.systemd.encrypted_credentials
        version = facts.systemd.version
        creds_note = (
            f"{credential_path(ans.ups, kind)}, encrypted for this host; systemd decrypts it"
            f" only for the service (systemd {version})" if creds else
            "needs systemd 250 or later with systemd-creds"
            + (f" (this host has {version})" if version else " (systemd not found)"))
        config = facts.nut.config_file(ans.ups)
        (owner, group), mode = self.session.context.config_owner
        config_note = (f"{config}, mode {mode:04o} {owner}:{group}: readable by the daemon's"
                       " user (and root) only; stored as plain text")
        store = ans.secret_store
        if store is SecretStore.CREDENTIAL and not creds:
            store = SecretStore.CONFIG
        yield Static(f"The Enlighten {kind} must be readable by the daemon (user"
                     f" {facts.nut.user}) at every start.", classes="hint", markup=False)
        with RadioSet(id="store"):
            yield RadioButton("systemd encrypted credential" + (" (recommended)" if creds else
                                                                 ": not available here"),
                              store is SecretStore.CREDENTIAL, id="systemd-creds",
                              disabled=not creds)
            yield RadioButton("System keyring: checking...", store is SecretStore.KEYRING,
                              id="keyring", disabled=True)
            yield RadioButton("The config file (plain text)", store is SecretStore.CONFIG,
                              id="config")
        yield Static(f"{'credential':<11} {creds_note}", classes="message hint", markup=False)
        yield Static(f"{'keyring':<11} checking...", id="keyring-note", classes="message hint",
                     markup=False)
        yield Static(f"{'config':<11} {config_note}", classes="message hint", markup=False)
        if ans.keep_secret:
            yield Static("The stored secret is kept unless you choose another place (then go"
                         " Back and enter it).", classes="message warn", markup=False)
        yield Static("", id="problem", classes="message")

    def on_mount(self) -> None:
        if self.session.answers.use_token:
            self.show_keyring(KeyringStatus(False, "", "the daemon reads only the password"
                                            " from the keyring, not a token"))
        else:
            self.check_keyring()

    @work(thread=True, exclusive=True, group="keyring")
    def check_keyring(self) -> None:
        """Ask keyring, as the daemon's user, for its backend (a thread: a subprocess)."""
        status = self.session.facts.keyring()
        self.app.call_from_thread(self.show_keyring, status)

    def show_keyring(self, status: KeyringStatus) -> None:
        """Enable the keyring choice only when a backend works; say so honestly."""
        button = self.query_one("#keyring", RadioButton)
        button.label = (f"System keyring: {status.backend}" if status.usable
                        else "System keyring: not available here")
        button.disabled = not status.usable
        self.set_message("keyring-note", f"{'keyring':<11} {status.note}",
                         "hint" if status.usable else "warn")

    def submit(self) -> None:
        pressed = self.query_one("#store", RadioSet).pressed_button
        if pressed is None or pressed.disabled:
            self.set_message("problem", "✗ Choose where the secret goes.", "error")
            return
        new = SecretStore(pressed.id or SecretStore.CONFIG.value)
        ans = self.session.answers
        if not ans.keep_secret and not ans.secret():
            self.set_message("problem", f"✗ UPS {ans.ups} has no stored secret yet: go Back to"
                             " the credentials and enter the password (or token).", "error")
            return
        if ans.keep_secret and new is not ans.secret_store:
            self.set_message("problem", "✗ Moving the secret needs it again: go Back and enter"
                             " the password (or token).", "error")
            return
        problem = store_problem(replace(ans, secret_store=new), self.session.facts)
        if problem:
            self.set_message("problem", f"✗ {problem}", "error")
            return
        self.dismiss(SecretAnswer(new))
