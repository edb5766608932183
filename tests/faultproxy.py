"""A small asyncio TCP proxy for fault-injection tests, started inside the test's event loop.

Put it in front of a real dependency (S3, Prometheus, PostgreSQL) and point the app at ``proxy.port``;
by default it passes bytes through unchanged. Faults are switched at run time:

* ``delay_s``: every chunk is held that long before it is forwarded (``delay_direction`` picks
  ``"both"``, ``"request"`` (client to upstream) or ``"response"``); chunks keep their order, and a
  client that hangs up still has what it sent delivered, as on a slow network;
* ``refuse``: new connections are accepted and reset at once;
* ``blackhole``: new connections are accepted and never answered;
* ``cut()``: abort every live connection (both sides);
* ``cut_on(pattern)``: abort every live connection the first time client bytes contain ``pattern``,
  either before or after forwarding those bytes (the upstream's answer to them is then never relayed),
  and optionally refuse new connections for a while (a dependency that restarts mid-request);
* ``reply_next(n, raw)``: the next ``n`` new connections get ``raw`` (a whole HTTP response) instead of
  the upstream's answer, then are closed (an HTTP server answering errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["both", "request", "response"]


@dataclass
class _Trigger:
    pattern: bytes
    after_forward: bool
    refuse_for_s: float
    fired: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    severed: bool = False
    """Set when a trigger fired after forwarding: the upstream's answer is dropped, never relayed."""

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()
        for task in self.tasks:
            task.cancel()


def http_response(status: int, body: bytes = b"", content_type: str = "application/json") -> bytes:
    """A complete HTTP/1.1 response that closes its connection."""
    reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class FaultProxy:
    """Listens on 127.0.0.1 (a free port) and relays to ``upstream_host:upstream_port``."""

    CHUNK = 65536

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay_s = 0.0
        self.delay_direction: Direction = "both"
        self.refuse = False
        self.blackhole = False
        self.connections = 0
        """Connections accepted so far."""
        self.replied = 0
        """Connections answered with a canned reply so far."""
        self._replies: list[bytes] = []
        self._trigger: _Trigger | None = None
        self._refuse_until = 0.0
        self._links: set[_Link] = set()
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._server: asyncio.Server | None = None
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    # --- faults ----------------------------------------------------------------------------------

    def pass_through(self) -> None:
        """Back to a healthy dependency (live connections are kept)."""
        self.delay_s = 0.0
        self.refuse = self.blackhole = False
        self._replies.clear()
        self._trigger = None
        self._refuse_until = 0.0

    def cut(self) -> int:
        """Abort every live connection; returns how many there were."""
        links = list(self._links)
        for link in links:
            link.abort()
        self._links.clear()
        self._quiet.set()
        return len(links)

    def cut_on(self, pattern: bytes, *, after_forward: bool = False, refuse_for_s: float = 0.0) -> asyncio.Event:
        """Arm a one-shot cut on the first client chunk containing ``pattern``; the event is set when it fires."""
        self._trigger = _Trigger(pattern, after_forward, refuse_for_s)
        return self._trigger.fired

    def reply_next(self, count: int, raw: bytes) -> None:
        """Answer the next ``count`` new connections with ``raw`` instead of relaying them."""
        self._replies.extend([raw] * count)

    @property
    def live(self) -> int:
        return len(self._links)

    async def idle(self, timeout_s: float = 10.0) -> None:
        """Wait until no connection is live (everything held back has been delivered or dropped)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), timeout_s)

    # --- relaying --------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.refuse or time.monotonic() < self._refuse_until:
            sock = writer.get_extra_info("socket")
            if sock is not None:  # RST rather than FIN: "connection reset", as from a restarting server
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            writer.transport.abort()
            return
        link = _Link(writer)
        self._links.add(link)
        self._quiet.clear()
        try:
            if self.blackhole:
                await reader.read()  # hold until the client gives up
                return
            if self._replies:
                raw = self._replies.pop(0)
                self.replied += 1
                await self._read_request_head(reader)
                writer.write(raw)
                await writer.drain()
                return
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            link.upstream = up_writer
            link.tasks = [
                asyncio.create_task(self._pump(reader, up_writer, "request", link)),
                asyncio.create_task(self._pump(up_reader, writer, "response", link)),
            ]
            await asyncio.gather(*link.tasks, return_exceptions=True)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(link)
            if not self._links:
                self._quiet.set()
            link.abort()

    @staticmethod
    async def _read_request_head(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: Direction, link: _Link
    ) -> None:
        try:
            while True:
                chunk = await reader.read(self.CHUNK)
                if not chunk:
                    break
                trigger = self._trigger if direction == "request" else None
                hit = trigger is not None and trigger.pattern in chunk
                if hit and trigger is not None and not trigger.after_forward:
                    self._fire(trigger)
                    return
                if self.delay_s and self.delay_direction in ("both", direction):
                    await asyncio.sleep(self.delay_s)
                if direction == "response" and link.severed:
                    continue
                if hit:
                    link.severed = True
                writer.write(chunk)
                await writer.drain()
                if hit and trigger is not None:
                    await asyncio.sleep(0.2)  # let the upstream act on what was forwarded before the cut
                    self._fire(trigger)
                    return
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            link.abort()

    def _fire(self, trigger: _Trigger) -> None:
        if self._trigger is trigger:
            self._trigger = None
        self._refuse_until = time.monotonic() + trigger.refuse_for_s
        trigger.fired.set()
        self.cut()
