"""The seed-compatible TEST mode: TEST_* config values stand in for every HTTP call.

Each full poll advances the cycle online -> nocomms -> online -> onbatt -> lowbatt -> online...;
`@RELAY_STATE@` in TEST_RELAY and `@BATT_SOC@` in TEST_LIVE are replaced to match, an empty
TEST_* value makes that query fail, and the token is expired at random (one check in five).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping

from .errors import Failure
from .facts import CHECK_JWT, RelayState
from .transport import Reply, TransportError

log = logging.getLogger(__name__)

CYCLE = {"init": "online", "online": "nocomms", "nocomms": "online2", "online2": "onbatt",
         "onbatt": "lowbatt"}
_PATHS = (
    ("ensemble/relay", "TEST_RELAY", "relay"),
    ("livedata/status", "TEST_LIVE", "live"),
    ("meters/reports", "TEST_REPORTS", "reports"),
    ("ensemble/secctrl", "TEST_SECCTRL", "secctrl"),
    ("info.xml", "TEST_INFO", "info"),
)


class TestCycle:
    """Where the TEST cycle is."""

    def __init__(self, charge_low: Callable[[], float]) -> None:
        self.step = "init"
        self.charge_low = charge_low

    def advance(self) -> None:
        self.step = CYCLE.get(self.step, "online")
        log.debug("TEST_CYCLE now %s", self.step)

    def relay_state(self) -> str:
        return RelayState.OPEN if self.step.startswith(("onbatt", "lowbatt")) else RelayState.CLOSED

    def soc(self) -> int:
        if self.step.startswith("onbatt"):
            return 90
        if self.step.startswith("lowbatt"):
            return int(self.charge_low()) - 1
        return 100


class TestTransport:
    """Answers from the TEST_* values instead of the network."""

    def __init__(self, values: Mapping[str, str], login_url: str, tokens_url: str,
                 cycle: TestCycle) -> None:
        self.values = values
        self.login_url = login_url
        self.tokens_url = tokens_url
        self.cycle = cycle

    def _answer(self, text: str, mode: str) -> Reply:
        if not text:
            raise TransportError(Failure.CONNECTION, f"Testing {mode} failure")
        return Reply(200, text, 0.0)

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json_body: object = None,
    ) -> Reply:
        if url.startswith(self.login_url):
            return self._answer(self.values.get("TEST_SESS", ""), "login")
        if url.startswith(self.tokens_url):
            return self._answer(self.values.get("TEST_TOKEN", ""), "tokens")
        if self.cycle.step == "nocomms":
            raise TransportError(Failure.CONNECTION, "Testing nocomms")
        if url.endswith(CHECK_JWT):
            return Reply(200, "<h2>Valid token.</h2>", 0.0)
        for suffix, key, mode in _PATHS:
            if url.endswith(suffix):
                text = self.values.get(key, "")
                text = text.replace("@RELAY_STATE@", self.cycle.relay_state())
                text = text.replace("@BATT_SOC@", str(self.cycle.soc()))
                return self._answer(text, mode)
        raise TransportError(Failure.CONNECTION, f"Unknown test url: {url}")

    def close(self) -> None:
        """Nothing to close."""


def random_expiry(rng: random.Random | None = None) -> Callable[[], bool]:
    """One check in five expires the token, as the seed's `RANDOM % 5 == 0`."""
    gen = rng or random.Random(time.time_ns())
    return lambda: gen.randrange(5) == 0
