"""One run of the wizard: the host, the answers, the network services, the plan and its outcome.

The screens and the non-interactive mode share it, so both take the same steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from enphase_monitor.tokeninfo import TokenInfo

from . import discovery, protectplan, undo, validate
from .answermodel import Answers, default_store
from .discovery import Found, Probe
from .draft import Draft
from .facts import Facts
from .plan import Outcome, Plan
from .planner import Context, build_reauth, build_remove, build_setup
from .prefill import Existing, existing_upses, load_existing, prefill
from .protect import ProtectAnswers
from .rules import ca_file_problem
from .runner import Result
from .system import System
from .validate import CheckResult, Progress

SETUP, REAUTH, REMOVE = "setup", "reauth", "remove"


def _check(answers: Answers, progress: Progress) -> CheckResult:
    return validate.check_credentials(answers, progress)


def _probe(host: str, fingerprint: str) -> Probe:
    return discovery.probe(host, fingerprint=fingerprint)


def _discover() -> list[Found]:
    return discovery.discover()


@dataclass
class Services:
    """The network calls, replaceable in tests (snapshots need fixed answers)."""

    discover: Callable[[], list[Found]] = _discover
    probe: Callable[[str, str], Probe] = _probe
    check: Callable[[Answers, Progress], CheckResult] = _check
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Session:
    """State shared by every step of one run."""

    system: System
    facts: Facts
    answers: Answers
    existing: Existing
    mode: str = SETUP
    dry_run: bool = False
    services: Services = field(default_factory=Services)
    found: list[Found] = field(default_factory=list)
    probe: Probe | None = None
    checked: CheckResult | None = None
    plan: Plan | None = None
    outcome: Outcome | None = None
    draft: Draft | None = None  # the terminal UI's draft of the answers (never a secret)
    protect: ProtectAnswers | None = None  # the "protect this host" answers (None: not asked)

    @classmethod
    def start(cls, system: System, facts: Facts, ups: str | None = None, mode: str = SETUP,
              dry_run: bool = False, services: Services | None = None) -> Session:
        """A session for `ups`, or for the one UPS already set up, else a fresh one.

        Every answer is prefilled from the current files when the UPS exists.
        """
        if ups is None:
            known = existing_upses(system, facts)
            ups = known[0] if len(known) == 1 else "ups"
        existing = load_existing(system, facts, ups)
        answers = prefill(existing, facts, Answers(secret_store=default_store(facts)))
        if mode == REAUTH:
            answers.keep_secret = False  # renewing means giving the secret again
        return cls(system, facts, answers, existing, mode, dry_run, services or Services())

    def resume(self, answers: Answers, protect: ProtectAnswers | None = None) -> None:
        """Take the answers of a draft (prefilled for its UPS, the stored secret kept), and
        its "protect this host" answers (None: that step was not reached)."""
        self.reload(answers.ups)
        keep = self.answers.keep_secret
        self.answers = answers
        self.answers.keep_secret = keep and not answers.secret()
        if protect is not None:
            self.protect = protect

    def reload(self, ups: str) -> None:
        """Switch to another UPS name: prefill from its files if it exists. A new one keeps
        the answers given so far (gateway, account) but not the other UPS's port file (two
        daemons must never write one), section description, take-over answer and stored
        secret (the new UPS has none: it needs the password or token)."""
        if ups == self.existing.ups:
            return
        self.existing = load_existing(self.system, self.facts, ups)
        if self.existing.configured:
            self.answers = prefill(self.existing, self.facts, self.answers)
        else:
            ans = self.answers
            ans.ups, ans.port_file, ans.desc, ans.adopt_section = ups, "", "", False
            ans.keep_secret = False

    @property
    def daemon_uid(self) -> int:
        """The uid the daemon runs as (User= of its unit: NUT's user); root when this host
        has no such user."""
        account = self.system.accounts.user(self.facts.nut.user)
        return 0 if account is None else account.uid

    def ca_problem(self, answers: Answers) -> str | None:
        """CLOUD_CA_FILE as the daemon will judge it at start, as its own user (None: fine)."""
        return ca_file_problem(answers.cloud_ca_file, self.daemon_uid)

    def check_live(self, answers: Answers, progress: Progress) -> CheckResult:
        """The live credentials check; a CA file the daemon would refuse is refused first,
        never logged in with."""
        problem = self.ca_problem(answers)
        if problem is not None:
            return CheckResult(False, problem, validate.Failure.CLOUD)
        return self.services.check(answers, progress)

    @property
    def context(self) -> Context:
        """The host for the plan builders."""
        return Context(self.system, self.facts, self.existing)

    @property
    def token(self) -> TokenInfo | None:
        """The token the live check got."""
        return self.checked.token if self.checked is not None and self.checked.ok else None

    def build_plan(self, delete_port: bool = False, delete_config: bool = False) -> Plan:
        """The plan for this session's mode and answers."""
        if self.mode == REMOVE:
            self.plan = build_remove(self.context, delete_port, delete_config)
            protectplan.extend_remove(self.plan, self.context, self.existing.ups)
            undo.finish_remove(self.plan, self.facts.nut, self.existing.ups, self.system)
        elif self.mode == REAUTH:
            self.plan = build_reauth(self.answers, self.context, self.token)
            undo.record_setup(self.plan, self.facts.nut, self.answers.ups, self.system, True)
        else:
            self.plan = build_setup(self.answers, self.context, self.token)
            if self.protect is not None:
                protectplan.extend_setup(self.plan, self.protect, self.answers.ups,
                                         self.context)
            undo.record_setup(self.plan, self.facts.nut, self.answers.ups, self.system,
                              self.existing.configured)
        if self.system.fake_root:
            self.plan.record_commands_only()
        return self.plan

    def record_outcome(self, outcome: Outcome) -> None:
        """How applying went; once applied, the draft of the answers is dropped."""
        self.outcome = outcome
        if outcome.ok and self.draft is not None:
            self.draft.drop()

    def upsc(self, wait: float = 20.0) -> Result:
        """`upsc <ups>@localhost`, retried until the driver answers or `wait` s passed."""
        deadline = time.monotonic() + wait
        while True:
            result = self.system.query("upsc", f"{self.answers.ups}@localhost")
            if result.ok or result.returncode == 127 or time.monotonic() >= deadline:
                return result
            self.services.sleep(1.0)
