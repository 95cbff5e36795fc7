"""`wrk` as the load generator, when the machine has it (Debian package `wrk`).

Written in C, it spends a fraction of the CPU our Python load generator does per request.
On a 2-core machine that shares its cores with the system under test, the difference is
visible in the figures, so `make bench` prefers it and says which one it used.
"""

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    *,
    host: str,
    port: int,
    paths: Sequence[str],
    headers: dict[str, str],
    connections: int,
    seconds: float,
) -> tuple[int, int, float, dict[float, float]]:
    """(requests, errors, seconds, {percentile: ms}) of a closed-loop run over `paths`."""
    with tempfile.TemporaryDirectory(prefix="crm-wrk-") as folder:
        script = Path(folder) / "paths.lua"
        script.write_text(_rotating_script(paths))
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
        command += ["-s", str(script)]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        command.append(f"http://{host}:{port}{paths[0]}")
        output = subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
    return _parse(output, seconds)


def _rotating_script(paths: Sequence[str]) -> str:
    listed = ",\n".join(f'  "{path}"' for path in paths)
    return (
        f"local paths = {{\n{listed}\n}}\n"
        "local n = math.random(#paths)\n"
        "request = function()\n"
        "  n = n % #paths + 1\n"
        '  return wrk.format("GET", paths[n])\n'
        "end\n"
    )


def _parse(output: str, seconds: float) -> tuple[int, int, float, dict[float, float]]:
    requests = int(_find(r"(\d+) requests in", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in socket.groups()) if socket else 0
    elapsed = requests / float(_find(r"Requests/sec:\s+([\d.]+)", output))
    percentiles = {
        float(p): float(value) * _UNITS_MS[unit]
        for p, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    }
    return requests, errors, elapsed or seconds, percentiles


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"unexpected wrk output: {text!r}")
    return found.group(1)
