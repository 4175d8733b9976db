"""How long discovery takes: `mdns_browse` against a real responder on loopback (python-zeroconf
registering one gateway), and the import of zeroconf. Prints figures; not a test.

    .venv/bin/python benchmarks/discovery.py [--runs N] [--python /usr/bin/python3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = """
import json, socket, sys, time
t0 = time.perf_counter()
import zeroconf
from zeroconf import ServiceInfo, Zeroconf
imported = time.perf_counter() - t0
from enphase_setup import discovery
zc = Zeroconf(interfaces=["127.0.0.1"])
zc.register_service(ServiceInfo(discovery.SERVICE, "bench." + discovery.SERVICE, port=80,
    properties={"serialnum": "122302045678", "protovers": "8.2.4264"}, server="bench.local.",
    addresses=[socket.inet_aton("127.0.0.1")]))
times = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    found = discovery.mdns_browse(float(sys.argv[2]), ["127.0.0.1"])
    times.append(time.perf_counter() - t)
    assert [f.serial for f in found] == ["122302045678"], found
zc.unregister_all_services(); zc.close()
print(json.dumps({"version": zeroconf.__version__, "import": imported, "times": times}))
"""


def main() -> None:
    """Measure and print."""
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--runs", type=int, default=5)
    args.add_argument("--window", type=float, default=1.5, help="browse window (s)")
    args.add_argument("--python", default=sys.executable)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory() as site:
        Path(site, "enphase_setup").symlink_to(ROOT / "wizard", target_is_directory=True)
        env = dict(os.environ, PYTHONPATH=f"{site}:{ROOT}",
                   ENPHASE_SETUP_VENDOR_DIR=str(Path(site, "none")))
        out = subprocess.run([opts.python, "-c", RUN, str(opts.runs), str(opts.window)],
                             capture_output=True, text=True, env=env, check=True, timeout=300)
    result = json.loads(out.stdout)
    times = result["times"]
    print(f"zeroconf {result['version']} ({opts.python}): import {result['import'] * 1000:.0f}"
          f" ms; mdns_browse({opts.window}) wall median {statistics.median(times):.2f} s,"
          f" max {max(times):.2f} s over {len(times)} runs")


if __name__ == "__main__":
    main()
