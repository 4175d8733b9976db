"""What each step of the terminal UI returns, and how that result changes the session.

A screen `dismiss()`es one of these; the app hands it to `take()`, which updates the session
and says whether the run goes on (None) or ends (`Finish`). Nothing here imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .answermodel import SecretStore
from .discovery import Probe
from .plan import Outcome, Plan
from .protect import ProtectAnswers
from .session import Session
from .validate import CheckResult


class StepResult(Protocol):
    """What a step's screen returns: `take` puts it into the session."""

    def take(self, session: Session) -> Finish | None:
        """Update the session; None: go on to the next step, a Finish: the run ends."""


class Back:
    """The user went back a step (Escape, or the Back button)."""


BACK = Back()


@dataclass(frozen=True)
class Finish:
    """The run ends: the exit status and what to print once the UI has closed."""

    code: int
    text: str


@dataclass(frozen=True)
class GatewayAnswer:
    """The gateway's host and serial (and what /info.xml said, when it was read)."""

    host: str
    serial: str
    probe: Probe | None = None

    def take(self, session: Session) -> Finish | None:
        """Host, serial, firmware and the certificate's fingerprint into the answers."""
        ans = session.answers
        ans.envoy_host, ans.serial = self.host, self.serial
        probe = self.probe
        if probe is not None and probe.host == self.host and probe.info is not None:
            ans.firmware = probe.info.firmware or ""
            if probe.fingerprint and not ans.gateway_fingerprint:
                ans.gateway_fingerprint = probe.fingerprint
        return None


@dataclass(frozen=True)
class CredentialsAnswer:
    """The login or token, checked live (`checked` None: the stored secret is kept)."""

    username: str
    password: str
    token: str
    use_token: bool
    pin_certificate: bool
    checked: CheckResult | None

    def take(self, session: Session) -> Finish | None:
        """The credentials into the answers, the check's token into the session."""
        ans = session.answers
        ans.username, ans.password, ans.token = self.username, self.password, self.token
        ans.use_token, ans.pin_certificate = self.use_token, self.pin_certificate
        if ans.secret():
            ans.keep_secret = False
        session.checked = self.checked
        return None


@dataclass(frozen=True)
class NutAnswer:
    """The NUT side: UPS name, battery.charge.low and .runtime.low, POLLFREQ, port file."""

    ups: str
    charge_low: int
    runtime_low: int
    pollfreq: int
    port_file: str
    adopt_section: bool = False

    def take(self, session: Session) -> Finish | None:
        """Switch to the UPS (prefilled if it exists), then set the answers."""
        session.reload(self.ups)
        ans = session.answers
        ans.ups, ans.charge_low, ans.pollfreq = self.ups, self.charge_low, self.pollfreq
        ans.runtime_low = self.runtime_low
        ans.port_file, ans.adopt_section = self.port_file, self.adopt_section
        return None


@dataclass(frozen=True)
class SecretAnswer:
    """Where the secret goes."""

    store: SecretStore

    def take(self, session: Session) -> Finish | None:
        """The store into the answers."""
        session.answers.secret_store = self.store
        return None


@dataclass(frozen=True)
class ProtectAnswer:
    """Protect this host (upsmon) and maybe serve NAS clients: ``protect.py``'s answers."""

    answers: ProtectAnswers

    def take(self, session: Session) -> Finish | None:
        """The answers into the session; the plan adds their changes."""
        session.protect = self.answers
        return None


@dataclass(frozen=True)
class ReviewAnswer:
    """The reviewed plan: apply it (or, in a dry run, print it and leave)."""

    plan: Plan

    def take(self, session: Session) -> Finish | None:
        """A dry run and an empty plan end here."""
        session.plan = self.plan
        if session.dry_run:
            return Finish(0, self.plan.describe() + "\ndry run: nothing was changed")
        if not self.plan.changes:
            return Finish(0, "Nothing to change: everything is already as asked.")
        return None


@dataclass(frozen=True)
class ApplyAnswer:
    """How applying went (and whether what was done was rolled back)."""

    outcome: Outcome

    def take(self, session: Session) -> Finish | None:
        """A failure ends the run with status 1."""
        session.record_outcome(self.outcome)
        if self.outcome.ok:
            return None
        title = self.outcome.failed.title if self.outcome.failed else ""
        return Finish(1, f"enphase-setup: {title} failed: {self.outcome.error}")


@dataclass(frozen=True)
class DoneAnswer:
    """The user has read the summary."""

    def take(self, session: Session) -> Finish | None:
        """The end."""
        ups = session.answers.ups
        return Finish(0, f"enphase-setup: UPS '{ups}' is set up. Check it with: upsc"
                         f" {ups}@localhost")


