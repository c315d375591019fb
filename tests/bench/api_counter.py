"""A TLS-terminating HTTP/1.1 proxy in front of the real API server that counts the requests
each client makes. The launchers under benchmark talk to it with a bearer-token kubeconfig; it
presents the API server's own certificate (valid for 127.0.0.1) and forwards every byte.
"""

import asyncio
import ssl
import threading
from collections import Counter


class ApiCounter:
    """Counts requests by `METHOD path-without-query` while it runs in a background thread."""

    def __init__(
        self, upstream_host: str, upstream_port: int, cert: str, key: str, ca: str
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_ctx.load_cert_chain(cert, key)
        self.server_ctx.set_alpn_protocols(["http/1.1"])
        self.client_ctx = ssl.create_default_context(cafile=ca)
        self.client_ctx.set_alpn_protocols(["http/1.1"])
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.port = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.server_ctx)
        )
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    def take(self) -> Counter[str]:
        """The counts since the last call."""
        with self.lock:
            counts, self.counts = self.counts, Counter()
        return counts

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                *self.upstream, ssl=self.client_ctx, server_hostname=self.upstream[0]
            )
        except OSError:
            writer.close()
            return
        back = asyncio.ensure_future(self._pipe(up_reader, writer))
        try:
            await self._requests(reader, up_writer)
        finally:
            up_writer.close()
            await asyncio.gather(back, return_exceptions=True)
            writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Forwards requests one by one, counting each; an upgrade switches to raw bytes."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target = (lines[0].split(" ") + ["", ""])[:2]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                with self.lock:
                    self.counts[f"{method} {target.split('?')[0]}"] += 1
                writer.write(head)
                if "upgrade" in headers:
                    await writer.drain()
                    await self._pipe(reader, writer)
                    return
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    writer.write(await reader.readexactly(length))
                elif headers.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size_line = await reader.readuntil(b"\r\n")
                        writer.write(size_line)
                        size = int(size_line.split(b";")[0], 16)
                        writer.write(await reader.readexactly(size + 2))
                        if size == 0:
                            break
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            OSError,
            ConnectionError,
            ValueError,
        ):
            pass
