"""A daemon config and port file pointing at a running simulator (demo, tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from .simulator import Simulator


def write_setup(directory: Path, sim: Simulator, extra: str = "", port_text: str = "",
                ups: str = "test") -> Path:
    """Write a 0600 config pointing at `sim` and the port file it names; return the config.

    Shared by the demo, the tests and the benchmarks. An existing port file is kept.
    """
    directory.mkdir(parents=True, exist_ok=True)
    port = directory / f"{ups}.dev"
    if not port.exists():
        port.write_text(port_text)
        port.chmod(0o640)
    state = sim.state
    config = directory / f"enphase-{ups}.conf"
    config.write_text(
        f"UPS={ups}\nUSERNAME={state.username}\nPASSWORD='{state.password}'\n"
        f"SERIAL={state.serial}\nSTATE_DIR={directory}\nPORT_FILE={port.name}\n"
        f"ENVOY_HOST={sim.gateway_host}\nENPHASE_LOGIN='{sim.login_url}'\n"
        f"ENPHASE_TOKENS={sim.tokens_url}\nCLOUD_CA_FILE={sim.ca_file}\n{extra}"
    )
    config.chmod(0o600)
    return config
