"""One SMTP binding: a listening socket and an asyncio loop on its own thread.

The socket is bound in the caller's thread, so a port already in use fails
``start()`` at once with the OSError (IIS logs SMTPSVC 115 and leaves the
virtual server stopped) instead of surfacing later in the loop thread.
"""
from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

from host.listeners import Endpoint

STOP_TIMEOUT = 10.0  # seconds to wait for the loop thread; sessions are cancelled, so it is quick


class SmtpListener:
    """Accept connections on ``endpoint``; ``protocol_factory()`` makes one session per connection."""

    def __init__(self, endpoint: Endpoint, protocol_factory: Callable[[], asyncio.Protocol]) -> None:
        self.endpoint = endpoint
        self._factory = protocol_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.endpoint.ip else socket.AF_INET
        sock = socket.create_server((self.endpoint.ip, self.endpoint.port), family=family)
        try:
            loop = asyncio.new_event_loop()
            server = loop.run_until_complete(loop.create_server(self._factory, sock=sock))
        except BaseException:
            sock.close()
            raise
        self._loop = loop
        self._thread = threading.Thread(target=self._run, args=(server,), daemon=True,
                                        name=f"SMTPSVC {self.endpoint.url()}")
        self._thread.start()

    def _run(self, server: asyncio.AbstractServer) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            server.close()
            sessions = asyncio.all_tasks(loop)
            for task in sessions:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*sessions, return_exceptions=True))
            loop.run_until_complete(server.wait_closed())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Close the socket, cancel open sessions and join the thread."""
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT)
        self._loop = self._thread = None
