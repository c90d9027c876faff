"""A small, fast HTTP/1.1 load generator for the service benchmarks.

Keep-alive connections, each sending one request at a time, so concurrency is the
number of connections. Raw asyncio streams on uvloop: a general HTTP client would
cost more CPU than the server on a 2-core machine and measure itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import uvloop


@dataclass
class LoadResult:
    """What a load run measured."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        """A latency percentile in milliseconds."""
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else 0.0


def request_bytes(
    method: str,
    path: str,
    *,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> bytes:
    """One HTTP/1.1 request, ready to write."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


class Connection:
    """One keep-alive connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, data: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send one request and read its response, reconnecting if the server closed."""
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            try:
                self.writer.write(data)
                return await _read_response(self.reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the socket."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _load(
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    *,
    concurrency: int,
    seconds: float,
    max_requests: int,
    warmup: float,
) -> LoadResult:
    result = LoadResult()
    counter = 0
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + seconds

    async def worker() -> None:
        nonlocal counter
        connection = Connection(host, port)
        try:
            while True:
                now = time.perf_counter()
                if now >= deadline or result.requests >= max_requests:
                    return
                counter += 1
                data = make_request(counter)
                sent = time.perf_counter()
                try:
                    status, _headers, _body = await connection.send(data)
                except (ConnectionError, asyncio.IncompleteReadError):
                    result.errors += 1
                    continue
                done = time.perf_counter()
                if sent < measure_from:
                    continue
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 200:
                    result.requests += 1
                    result.latencies.append(done - sent)
                else:
                    result.errors += 1
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = min(time.perf_counter(), deadline) - measure_from
    return result


def run_load(
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    *,
    concurrency: int,
    seconds: float,
    max_requests: int = 10_000_000,
    warmup: float = 1.0,
) -> LoadResult:
    """Send requests from ``concurrency`` connections for ``seconds`` (after ``warmup``)."""
    return uvloop.run(
        _load(
            host,
            port,
            make_request,
            concurrency=concurrency,
            seconds=seconds,
            max_requests=max_requests,
            warmup=warmup,
        )
    )


def run_once(host: str, port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one request on a fresh connection."""

    async def once() -> tuple[int, dict[str, str], bytes]:
        connection = Connection(host, port)
        try:
            return await connection.send(data)
        finally:
            connection.close()

    return uvloop.run(once())
