"""`make bench`: run every benchmark, print the figures, write docs/benchmarks.md."""

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path

from bench import events_bench, gateway_bench, import_bench

REPORT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration per run")
    parser.add_argument("--no-report", action="store_true", help="print only")
    args = parser.parse_args()

    sections = [
        gateway_bench.run(seconds=args.seconds),
        events_bench.run(seconds=args.seconds),
        import_bench.run(),
    ]
    body = "\n\n".join(sections)
    print(body)
    if args.no_report:
        return
    REPORT.write_text(
        "# Benchmarks\n\n"
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `make bench` "
        f"(`{sys.executable} -m bench`) on {machine()}. Everything — load generator, gateway, "
        "services, PostgreSQL and NATS — shares this one machine, so the figures are a floor "
        "for a real deployment, not a ceiling. What the figures mean and what we tried: "
        "[performance.md](performance.md).\n\n" + body + "\n"
    )
    print(f"\nwritten to {REPORT}")


if __name__ == "__main__":
    main()
