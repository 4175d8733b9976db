"""Wiring: a Config becomes the clients that talk to the network, or TEST mode's stand-ins."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import keyringlookup
from .config import Config
from .enlighten import EnlightenClient
from .gateway import GatewayClient
from .grid import GridSignal
from .logsetup import REDACTOR
from .poller import Poller
from .testmode import TestCycle, TestTransport, random_expiry
from .tokens import TokenManager
from .transport import HttpsTransport, Transport


@dataclass
class Clients:
    """The pieces that talk to the network, built from a Config."""

    tokens: TokenManager
    gateway: GatewayClient
    poller: Poller
    test_cycle: TestCycle | None = None

    def poll_starting(self, charge_low: float) -> None:
        """A full poll begins: TEST mode moves its cycle on (its low step is below
        `charge_low`, the port file's battery.charge.low)."""
        if self.test_cycle is not None:
            self.test_cycle.advance(charge_low)

    def close(self) -> None:
        self.gateway.close()
        self.tokens.cloud.transport.close()


def build_clients(config: Config, stop: threading.Event | None = None,
                  keepalive: Callable[[], None] | None = None, *,
                  clock: Callable[[], float] = time.monotonic,
                  wall_clock: Callable[[], float] = time.time) -> Clients:
    """Wire config -> transports -> token manager -> gateway client -> poller.

    The config's secrets are redacted from every log line from here on.

    Args:
        config: the daemon's config; TEST=1 selects TEST mode's stand-ins (testmode.py).
        stop: once set, the HTTPS transports end a request in progress, and a keyring
            look-up its wait (SIGTERM).
        keepalive: called while a request waits (the watchdog ping).
        clock: the monotonic clock of every wait and refresh (tests pass their own).
        wall_clock: only to compare with a token's expiry.
    """
    REDACTOR.add(config.password)
    REDACTOR.add(config.token, token=True)
    for key in ("TEST_TOKEN", "TEST_SESS"):
        REDACTOR.add(config.test_values.get(key, ""), token=True)
    if stop is not None:
        keyringlookup.stop_on(stop)
    cycle = None
    cloud_http: Transport
    gateway_http: Transport
    if config.test:
        cycle = TestCycle()
        cloud_http = gateway_http = TestTransport(config.test_values, config.login_url,
                                                  config.tokens_url, cycle)
    else:
        cloud_http = HttpsTransport(verify=config.cloud_ca_file or True, stop=stop,
                                    keepalive=keepalive)
        gateway_http = HttpsTransport(verify=False, fingerprint=config.gateway_fingerprint,
                                      trust_env=False, stop=stop, keepalive=keepalive)
    cloud = EnlightenClient(cloud_http, config.login_url, config.tokens_url, config.login_timeout)
    tokens = TokenManager(config, cloud, clock=wall_clock, monotonic=clock,
                          random_expiry=random_expiry() if config.test else None)
    gateway = GatewayClient(config.envoy_host, config.api_timeout, gateway_http, tokens)
    # TEST mode answers the seed's endpoints only: it reads the relay, as the seed does
    signal = config.grid_signal or (GridSignal.RELAY if config.test else None)
    poller = Poller(gateway, meters=not config.disable_meters, grid_signal=signal,
                    clock=clock)
    return Clients(tokens, gateway, poller, cycle)

