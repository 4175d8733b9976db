"""Fixtures of the attack tests: the simulator behind a hostile TLS gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_sim import Simulator
from tests.hostile.server import HostileGateway


@pytest.fixture
def hostile(tmp_path: Path, sim: Simulator) -> Iterator[HostileGateway]:
    """A hostile gateway on 127.0.0.1, healthy until a test sets `attack`."""
    with HostileGateway(sim, tmp_path / "hostile") as server:
        yield server
