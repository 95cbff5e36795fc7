"""A lean closed-loop HTTP/1.1 load generator (keep-alive, one request in flight per
connection) that records every latency. Written with raw asyncio streams on uvloop so it
costs the 2-core machine as little CPU as possible next to the system under test."""

import asyncio
import itertools
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import uvloop

from bench import wrk


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    # Percentiles the generator computed itself (wrk), when it keeps no latencies.
    known_percentiles: dict[float, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        if p in self.known_percentiles:
            return self.known_percentiles[p]
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else 0.0

    def summary(self) -> str:
        mean = statistics.fmean(self.latencies_ms) if self.latencies_ms else 0.0
        return (
            f"{self.rps:,.0f} req/s, p50 {self.percentile(50):.1f} ms, "
            f"p99 {self.percentile(99):.1f} ms, mean {mean:.1f} ms, "
            f"{self.requests} requests, {self.errors} errors in {self.seconds:.1f} s"
        )


async def _worker(
    host: str,
    port: int,
    requests: list[bytes],
    deadline: float,
    out: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in itertools.cycle(requests):
            if time.perf_counter() >= deadline:
                break
            started = time.perf_counter()
            writer.write(request)
            status, length = await _read_response(reader)
            out.append((time.perf_counter() - started) * 1000)
            if status >= 400 or length < 0:
                errors[0] += 1
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = -1
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length > 0:
        await reader.readexactly(length)
    return status, length


def run_load(
    *,
    host: str,
    port: int,
    paths: Sequence[str],
    headers: dict[str, str],
    connections: int,
    seconds: float,
) -> LoadResult:
    """GET `paths` round-robin for `seconds`, with wrk when the machine has it (see
    bench.wrk), else with this module's generator: its connections' starting points spread
    evenly over the paths, so every path is read early, whichever server process a
    connection reaches."""
    if wrk.available():
        requests, errors, elapsed, percentiles = wrk.run(
            host=host,
            port=port,
            paths=paths,
            headers=headers,
            connections=connections,
            seconds=seconds,
        )
        return LoadResult(requests, errors, elapsed, [], percentiles)
    return uvloop.run(_load(host, port, paths, headers, connections, seconds))


def generator() -> str:
    return "wrk (C)" if wrk.available() else "bench.loadgen (Python, uvloop)"


async def _load(
    host: str,
    port: int,
    paths: Sequence[str],
    headers: dict[str, str],
    connections: int,
    seconds: float,
) -> LoadResult:
    header_lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{header_lines}\r\n".encode() for path in paths
    ]
    latencies: list[float] = []
    errors = [0]
    started = time.perf_counter()
    deadline = started + seconds
    shared = (deadline, latencies, errors)
    await asyncio.gather(
        *(
            _worker(host, port, _rotated(requests, n * len(requests) // connections), *shared)
            for n in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), errors[0], elapsed, latencies)


def _rotated(items: list[bytes], by: int) -> list[bytes]:
    by %= len(items)
    return items[by:] + items[:by]
