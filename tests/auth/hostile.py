"""A raw asyncio HTTP server that misbehaves byte by byte, for the leak and hardening tests.

It reads each request itself (no HTTP library on this side) and answers with exactly the bytes a
mode prescribes. Several modes echo the request's headers (credentials included) back into the
places a client might copy them from: a status line, a header, a body.
"""

from __future__ import annotations

import asyncio
import threading

from async_core.runner import close_loop

MODES = (
    "redirect_loop",  # 302 to itself, forever
    "many_headers",  # 10,000 response headers
    "long_header",  # one header line over 8 KB, carrying the request's Authorization
    "bad_status",  # a malformed status line that echoes the request's Authorization
    "truncated",  # Content-Length 1000, 20 bytes, then the connection closes
    "echo_400",  # a 400 whose body echoes every request header
    "echo_500",  # a 500 whose body echoes every request header
    "hang",  # reads the request, never answers
    "not_tls",  # plain HTTP bytes where a TLS handshake is expected (use an https:// URL)
)


class HostileServer:
    def __init__(self, mode: str) -> None:
        assert mode in MODES, mode
        self.mode = mode
        self.requests: list[bytes] = []  # the raw request heads received
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hostile-server")
        self._writers: set[asyncio.StreamWriter] = set()

    # --- lifetime -------------------------------------------------------------------------------
    def __enter__(self) -> HostileServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("hostile server did not start")
        return self

    def __exit__(self, *exc_info) -> None:
        self.loop.call_soon_threadsafe(self._stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        close_loop(self.loop)

    def _stop(self) -> None:
        self.server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self.loop.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- one connection ---------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await self._read_head(reader, writer)
                if head is None:
                    return
                self.requests.append(head)
                if not await self._answer(head, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _read_head(self, reader, writer) -> bytes | None:
        first = await reader.read(1)
        if not first:
            return None
        if self.mode == "not_tls" or first == b"\x16":  # a TLS ClientHello
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return None
        head = first + await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length:
            await reader.readexactly(length)
        return head

    async def _answer(self, head: bytes, writer: asyncio.StreamWriter) -> bool:
        """Write the mode's answer; False to close the connection."""
        auth = b"none"
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"authorization:"):
                auth = line.split(b":", 1)[1].strip()
        mode = self.mode
        if mode == "redirect_loop":
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")
        elif mode == "many_headers":
            lines = b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
            writer.write(b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 0\r\n\r\n")
        elif mode == "long_header":
            writer.write(b"HTTP/1.1 200 OK\r\nX-Echo: " + auth + b"x" * 9000
                         + b"\r\nContent-Length: 0\r\n\r\n")
        elif mode == "bad_status":
            writer.write(b"HTTP/1.1 2OO " + auth + b"\r\nContent-Length: 0\r\n\r\n")
        elif mode == "truncated":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"y" * 20)
            await writer.drain()
            return False
        elif mode in ("echo_400", "echo_500"):
            body = head
            status = b"400 Bad Request" if mode == "echo_400" else b"500 Internal Server Error"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
        elif mode == "hang":
            await asyncio.sleep(3600)
        await writer.drain()
        return True
