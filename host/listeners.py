"""Listeners: one socket per (scheme, IP, port), HTTP on waitress, HTTPS on cheroot.

IIS 6 let HTTP.sys own the sockets; sites only named bindings. Here a
listener owns one socket and hands every request to one WSGI app (the
pipeline, which then selects the site by host header). Both servers add the
same keys to the environ so the pipeline does not care which one served:

* ``host.endpoint``: the :class:`Endpoint` the request arrived on;
* ``host.connection``: the :class:`ConnectionState` of its TCP connection,
  the same object for every request on a keep-alive connection (NTLM
  authenticates connections, not requests);
* ``host.tls`` (HTTPS only): the :class:`~host.tls.TlsConnection`.

On HTTPS, an app that sets ``environ["host.drop_connection"]`` gets its
response discarded and the connection closed: what a device that could not
answer IIS 6's renegotiation experienced (PITFALLS §2.1).

Responses say ``Server: Microsoft-IIS/6.0``. Waitress has no TLS, hence
cheroot for HTTPS (see ``host.tls`` for client certificates).
"""
from __future__ import annotations

import contextlib
import errno
import io
import itertools
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from cheroot import errors as cheroot_errors
from cheroot import wsgi as cheroot_wsgi
from cheroot.makefile import StreamReader, StreamWriter
from cheroot.ssl import Adapter
from cheroot.workers.threadpool import ThreadPool
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from host.tls import TlsConnection, TlsSettings, load_certificate, server_context

__all__ = ["ConnectionState", "Endpoint", "Listener", "TlsSettings", "make_listener"]

SERVER_HEADER = "Microsoft-IIS/6.0"
DROP_CONNECTION = "host.drop_connection"
# Open connections allowed beyond one per worker thread (waitress's connection_limit).
CONNECTION_HEADROOM = 1000
# How often the HTTP loop looks at its stop flag when no socket wakes it.
LOOP_TIMEOUT = 0.5

WSGIApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]
log = logging.getLogger(__name__)
logging.getLogger("easlab.listeners.queue").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Endpoint:
    """Where a listener accepts connections: the (scheme, IP, port) of one or more bindings."""

    scheme: str  # "http" | "https"
    ip: str
    port: int

    def url(self) -> str:
        """``"https://127.0.0.1:8443/"`` (IPv6 in brackets)."""
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{host}:{self.port}/"


_connection_ids = itertools.count(1)


@dataclass(eq=False)
class ConnectionState:
    """One per TCP connection; the same object for every request on that keep-alive connection.

    NTLM authenticates a connection, not a request, so auth state lives here.
    """

    id: int = field(default_factory=lambda: next(_connection_ids))
    data: dict = field(default_factory=dict)  # free-form per-connection state for other modules


class Listener:
    """A running (or startable) socket for one :class:`Endpoint`."""

    endpoint: Endpoint

    def start(self) -> None:
        """Return once the socket accepts connections; OSError naming the endpoint if it cannot bind."""
        raise NotImplementedError

    def stop(self, timeout: float = 5) -> None:
        """Close the socket and worker threads, waiting at most about ``timeout`` seconds."""
        raise NotImplementedError

    def update_tls(self, settings: TlsSettings) -> None:
        """Use a new certificate for new connections (HTTPS only), as IIS does after SSLCertHash changes."""
        raise TypeError(f"{self.endpoint.url()} is not an HTTPS listener; it has no certificate to update")


def make_listener(
    endpoint: Endpoint, app: WSGIApp, *, tls: TlsSettings | None = None, threads: int = 32,
    max_threads: int | None = None,
) -> Listener:
    """A listener for ``endpoint``: waitress for http, cheroot with ``tls`` for https.

    ``threads`` workers start at once; more start on demand up to ``max_threads``.
    """
    if endpoint.scheme == "http":
        if tls is not None:
            raise ValueError(f"{endpoint.url()}: an http endpoint takes no TLS settings")
        return HttpListener(endpoint, app, threads=threads, max_threads=max_threads)
    if endpoint.scheme == "https":
        if tls is None:
            raise ValueError(f"{endpoint.url()}: an https endpoint needs TLS settings (a certificate)")
        return HttpsListener(endpoint, app, tls, threads=threads, max_threads=max_threads)
    raise ValueError(f"unknown scheme {endpoint.scheme!r}: expected 'http' or 'https'")


def _bind_error(endpoint: Endpoint, exc: OSError) -> OSError:
    """The bind failure in an admin's words: which endpoint, and the usual reason."""
    reason = exc.strerror or str(exc)
    hint = {
        errno.EADDRINUSE: "another program or another binding already listens on this IP and port",
        errno.EADDRNOTAVAIL: "this machine has no such IP address",
        errno.EACCES: "ports below 1024 need administrator rights",
    }.get(exc.errno or 0, "")
    message = f"cannot listen on {endpoint.ip}:{endpoint.port} for {endpoint.url()}: {reason}"
    return OSError(exc.errno, f"{message} ({hint})" if hint else message)


# -- HTTP on waitress --------------------------------------------------------------
#
# Waitress builds the environ in WSGITask.get_environment and knows the TCP
# connection only as the HTTPChannel. So: the channel gets a ConnectionState
# when it is created, the task copies it (and the endpoint) into the environ,
# and the server names our channel class. The dispatcher subclass only
# remembers its threads so stop() can join them.


class _HttpTask(WSGITask):
    def get_environment(self) -> dict:
        environ = super().get_environment()
        environ["host.endpoint"] = self.channel.server.endpoint
        environ["host.connection"] = self.channel.connection_state
        return environ

    _bodiless_keep_alive = False

    def build_response_header(self) -> bytes:
        """Waitress capitalises header names (``Ms-Asprotocolversions``); send them as the app spelled
        them (``MS-ASProtocolVersions``), as IIS does: some devices compare them case-sensitively.

        Waitress also closes an HTTP/1.1 connection after any answer without
        Content-Length, 204 and 304 included, although those end at their
        headers (RFC 9112 6.3). IIS keeps such connections open; so do we, or
        every NTLM client (MASSYNC's hop after a DELETE or a state PUT) would
        have to log on again.
        """
        spelled = {name.lower(): name for name, _value in self.response_headers}
        self._bodiless_keep_alive = (not self.has_body and self.version == "1.1"
                                     and self.request.headers.get("CONNECTION", "").lower() != "close")
        try:
            header = super().build_response_header()
        finally:
            self._bodiless_keep_alive = False
        first, *lines = header.decode("latin-1")[:-4].split("\r\n")
        restored = []
        for line in lines:
            name, sep, value = line.partition(": ")
            restored.append(spelled.get(name.lower(), name) + sep + value)
        return ("\r\n".join([first, *restored]) + "\r\n\r\n").encode("latin-1")

    def set_close_on_finish(self) -> None:
        if not self._bodiless_keep_alive:
            super().set_close_on_finish()


class _HttpChannel(HTTPChannel):
    task_class = _HttpTask

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_state = ConnectionState()


class _HttpServer(TcpWSGIServer):
    channel_class = _HttpChannel
    endpoint: Endpoint


class _Dispatcher(ThreadedTaskDispatcher):
    """Waitress's worker pool, grown on demand up to ``max_threads``.

    A held request (a direct-push Ping waits up to 45 minutes) keeps its
    worker thread, as it kept an IIS thread. A fixed pool would let a few
    dozen devices starve everyone else, so a task that finds no idle worker
    starts one more, up to the limit.
    """

    # Waitress warns "Task queue depth is N" whenever a task waits for a worker; this pool
    # starts one instead, so the warning would only be noise. Real trouble (the limit
    # reached) still shows: the logger passes errors.
    queue_logger = logging.getLogger("easlab.listeners.queue")

    def __init__(self, name: str, max_threads: int) -> None:
        super().__init__()
        self.name = name
        self.max_threads = max_threads
        self.started: list[threading.Thread] = []

    def add_task(self, task) -> None:
        super().add_task(task)
        with self.lock:
            running = len(self.threads) - self.stop_count
            idle = running - self.active_count
            wanted = min(self.max_threads, running + max(0, len(self.queue) - idle))
        if wanted > running:
            self.set_thread_count(wanted)

    def start_new_thread(self, target: Callable[[int], None], thread_no: int) -> None:
        thread = threading.Thread(target=target, name=f"{self.name}-{thread_no}", args=(thread_no,), daemon=True)
        self.started.append(thread)
        thread.start()


class HttpListener(Listener):
    """Plain HTTP on waitress."""

    def __init__(self, endpoint: Endpoint, app: WSGIApp, *, threads: int = 32, max_threads: int | None = None) -> None:
        self.endpoint = endpoint
        self._app = app
        self._threads = threads
        self._max_threads = max(threads, max_threads or threads)
        self._map: dict = {}
        self._server: _HttpServer | None = None
        self._dispatcher: _Dispatcher | None = None
        self._loop: threading.Thread | None = None
        self._stopping = threading.Event()
        self._closing = threading.Lock()

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"{self.endpoint.url()} is already started")
        name = f"http-{self.endpoint.ip}:{self.endpoint.port}"
        adj = Adjustments(
            host=self.endpoint.ip, port=self.endpoint.port, ident=SERVER_HEADER,
            server_name=self.endpoint.ip, threads=self._threads,
            # IIS hands X-Forwarded-For & co. to the app untouched (as cheroot does); waitress strips them.
            clear_untrusted_proxy_headers=False,
            # Every held request is an open connection: allow them all, plus room for everyone else.
            connection_limit=self._max_threads + CONNECTION_HEADROOM,
        )
        dispatcher = _Dispatcher(name, self._max_threads)
        try:
            server = _HttpServer(self._app, map=self._map, dispatcher=dispatcher, adj=adj)
        except OSError as exc:
            wasyncore.close_all(self._map)  # the trigger pipe waitress opened before binding
            raise _bind_error(self.endpoint, exc) from exc
        self.endpoint = replace(self.endpoint, port=int(server.effective_port))
        server.endpoint = self.endpoint
        dispatcher.set_thread_count(self._threads)
        self._server, self._dispatcher = server, dispatcher
        self._stopping.clear()
        self._loop = threading.Thread(target=self._serve, name=name, daemon=True)
        self._loop.start()

    def _serve(self) -> None:
        """The socket loop; it alone touches the sockets, so it also closes them."""
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=LOOP_TIMEOUT, map=self._map, use_poll=True, count=1)
        finally:
            with self._closing:
                wasyncore.close_all(self._map)

    def stop(self, timeout: float = 5) -> None:
        if self._server is None:
            return
        deadline = time.monotonic() + timeout
        with self._closing:  # the loop may be closing its sockets (the trigger among them) right now
            self._stopping.set()
            if self._map:  # empty once the loop has closed everything
                self._server.pull_trigger()  # wake the loop now rather than after LOOP_TIMEOUT
        self._loop.join(max(0.0, deadline - time.monotonic()))
        self._dispatcher.shutdown(timeout=max(0.0, deadline - time.monotonic()))
        for thread in self._dispatcher.started:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._server = self._dispatcher = self._loop = None


# -- HTTPS on cheroot ----------------------------------------------------------------
#
# Cheroot wraps each accepted socket through its SSL adapter and merges the
# dict the adapter returns into the environ of every request on that
# connection. That per-connection dict is exactly where ConnectionState and
# TlsConnection belong, so one adapter subclass is all the wiring needed.
# The server subclass keeps bind errors intact and routes cheroot's stderr
# messages to logging.


class _TlsReader(StreamReader):
    """Cheroot's reader, also reporting data the socket holds back after a certificate request.

    Cheroot parks a keep-alive connection in select() unless ``has_data()``;
    data already read ahead would otherwise wait for the next packet.
    """

    def __init__(self, sock: Any, mode: str = "r", bufsize: int = io.DEFAULT_BUFFER_SIZE) -> None:
        super().__init__(sock, mode, bufsize)
        self._tls_socket = sock

    def has_data(self) -> bool:
        return super().has_data() or self._tls_socket.has_unread()


class _TlsWriter(StreamWriter):
    """Cheroot's writer, quiet when closed after its connection died mid-response.

    A failed write leaves the response in the buffer, and cheroot never
    closes the writer, so garbage collection would try to flush into a
    closed socket (e.g. after a client certificate failed TLS verification).
    """

    def close(self) -> None:
        with contextlib.suppress(OSError):
            super().close()


class _LabTlsAdapter(Adapter):
    def __init__(self, endpoint: Endpoint, settings: TlsSettings) -> None:
        super().__init__(str(settings.cert_chain_path), str(settings.key_path))
        self.endpoint = endpoint
        self.use(settings)

    def use(self, settings: TlsSettings) -> None:
        """Swap context and certificate in one assignment: a connection sees the old pair or the new."""
        self.current = (server_context(settings), load_certificate(settings.cert_chain_path))

    def bind(self, sock: Any) -> Any:
        return sock

    def wrap(self, sock: Any) -> tuple[Any, dict]:
        context, certificate = self.current
        try:
            tls_sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=True)
        except ssl.SSLError as exc:
            if "http request" in str(exc).lower():
                raise cheroot_errors.NoSSLError(*exc.args) from exc
            raise cheroot_errors.FatalSSLAlert(*exc.args) from exc
        except OSError as exc:
            raise cheroot_errors.FatalSSLAlert(*exc.args) from exc
        return tls_sock, {
            "wsgi.url_scheme": "https",
            "SERVER_NAME": self.endpoint.ip,
            "host.endpoint": self.endpoint,
            "host.connection": ConnectionState(),
            "host.tls": TlsConnection(tls_sock, certificate),
        }

    def get_environ(self) -> dict:
        return {"wsgi.url_scheme": "https"}

    def makefile(self, sock: Any, mode: str = "r", bufsize: int = io.DEFAULT_BUFFER_SIZE) -> Any:
        return _TlsReader(sock, mode, bufsize) if "r" in mode else _TlsWriter(sock, mode, bufsize)


def _dropping_connections(app: WSGIApp) -> WSGIApp:
    """Honour ``host.drop_connection``: cheroot closes a connection silently on FatalSSLAlert.

    Cheroot sends nothing before the first body chunk, so raising here, after
    the app has run (and logged), leaves the client with a closed connection.
    """

    def app_or_drop(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        result = app(environ, start_response)
        if not environ.get(DROP_CONNECTION):
            return result
        close = getattr(result, "close", None)
        if close is not None:
            close()
        raise cheroot_errors.FatalSSLAlert("the pipeline dropped the connection")

    return app_or_drop


class _HttpsServer(cheroot_wsgi.Server):
    bind_error: OSError | None = None

    def bind(self, family: int, type: int, proto: int = 0) -> Any:  # noqa: A002 - cheroot's signature
        # prepare() turns bind failures into a bare message; keep the OSError for _bind_error.
        try:
            return super().bind(family, type, proto)
        except OSError as exc:
            self.bind_error = exc
            raise

    @staticmethod
    def bind_socket(socket_: Any, bind_addr: Any) -> Any:
        # Cheroot skips SO_REUSEADDR for port 0; without it, that port cannot be bound again while
        # its old connections sit in TIME_WAIT (waitress always sets it). And cheroot leaves a
        # socket that failed to bind open; close it.
        if os.name != "nt":  # on Windows SO_REUSEADDR means something else: taking over a live port
            socket_.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            return cheroot_wsgi.Server.bind_socket(socket_, bind_addr)
        except OSError:
            socket_.close()
            raise

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        # Handshakes the client aborts (untrusted root, name mismatch) land here: worth a line, not stderr.
        log.log(level, "%s", msg, exc_info=traceback)


class _ElasticThreadPool(ThreadPool):
    """Cheroot's worker pool, grown by one worker whenever a connection finds none idle (see _Dispatcher)."""

    def put(self, obj) -> None:
        if self.idle <= self.qsize and len(self._threads) < self.max:
            self.grow(1)
        super().put(obj)


class HttpsListener(Listener):
    """HTTPS on cheroot with the lab's TLS settings."""

    def __init__(self, endpoint: Endpoint, app: WSGIApp, tls: TlsSettings, *, threads: int = 32,
                 max_threads: int | None = None) -> None:
        self.endpoint = endpoint
        self._app = app
        self._threads = threads
        self._max_threads = max(threads, max_threads or threads)
        self._adapter = _LabTlsAdapter(endpoint, tls)  # a bad certificate fails here, before start()
        self._server: _HttpsServer | None = None
        self._loop: threading.Thread | None = None

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"{self.endpoint.url()} is already started")
        server = _HttpsServer(
            (self.endpoint.ip, self.endpoint.port),
            _dropping_connections(self._app),
            numthreads=self._threads,
            max=self._max_threads,
            server_name=SERVER_HEADER,
        )
        server.requests = _ElasticThreadPool(server, min=self._threads, max=self._max_threads)
        server.software = SERVER_HEADER
        server.ssl_adapter = self._adapter
        try:
            server.prepare()
        except OSError as exc:
            raise _bind_error(self.endpoint, server.bind_error or exc) from exc
        self.endpoint = replace(self.endpoint, port=int(server.bind_addr[1]))
        self._adapter.endpoint = self.endpoint
        self._server = server
        self._loop = threading.Thread(
            target=server.serve, name=f"https-{self.endpoint.ip}:{self.endpoint.port}", daemon=True
        )
        self._loop.start()

    def stop(self, timeout: float = 5) -> None:
        if self._server is None:
            return
        deadline = time.monotonic() + timeout
        self._server.shutdown_timeout = timeout
        self._server.stop()
        self._loop.join(max(0.0, deadline - time.monotonic()))
        self._server = self._loop = None

    def update_tls(self, settings: TlsSettings) -> None:
        self._adapter.use(settings)
