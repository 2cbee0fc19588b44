"""A byte-level upstream for tests that must see exactly what the proxy sent.

It records each request's raw head and body and answers with whatever bytes
the test queued (or nothing at all: a black hole for timeout tests).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class RawRequest:
    head: bytes
    body: bytes

    @property
    def request_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")

    def header_lines(self) -> list[tuple[str, str]]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        out = []
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                out.append((name, value.strip()))
        return out


@dataclass
class RawUpstream:
    """Answers every request with ``response`` (raw HTTP bytes); ``None`` = never answer."""

    response: bytes | None = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
    requests: list[RawRequest] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(RawRequest(head, body))
                if self.response is None:
                    await reader.read()  # hold the connection open, say nothing
                    return
                writer.write(self.response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextmanager
def raw_upstream(response: bytes | None = RawUpstream.response) -> Iterator[RawUpstream]:
    upstream = RawUpstream(response=response)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    server: asyncio.base_events.Server | None = None

    async def serve() -> None:
        nonlocal server
        server = await asyncio.start_server(upstream._handle, "127.0.0.1", 0)
        upstream.port = server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    ready.wait(5)
    try:
        yield upstream
    finally:

        async def shutdown() -> None:
            if server is not None:
                server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
