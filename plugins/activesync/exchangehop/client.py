"""The hop's HTTP client: WebDAV to the mailbox server with NTLM on keep-alive connections.

MASSYNC spoke Integrated Windows authentication only, as a service that
holds the user's credentials (PITFALLS 2.3). NTLM authenticates a TCP
connection, not a request (MS-NLMP; IIS keeps the logon for the life of a
keep-alive connection), so the client is built on connections it can see:

* ``http.client`` (one connection, one request at a time, nothing hidden)
  with pyspnego's NTLM initiator (``spnego.client(user, password,
  protocol="ntlm")``), the same library the host's acceptor uses. requests +
  requests-ntlm was the alternative; it is not installed, its adapter pool
  hides which connection carries the logon, and requests follows redirects
  and sends Basic when asked; none of that is what MASSYNC did.
* The first request on a new connection carries the NTLM negotiate message;
  the 401 brings the challenge, the request is sent again with the
  authenticate message. Later requests on that connection carry no
  credentials at all. A connection whose logon the server forgot (401 again)
  logs on once more.
* Never Basic: a back end offering only Basic leaves the client with its 401.
  Never a redirect: a 3xx is an answer like any other, and the caller treats
  every answer it did not ask for as the hop's failure (a forms-based logon
  redirect, a 440, a 403.4, a 404).
* Connections live in a :class:`HopPool`: per mailbox server and user
  (credentials included), a few idle ones, thread-safe, bounded in idle
  connections per user and in users; idle connections older than
  :data:`IDLE_SECONDS` are closed rather than reused (waitress drops idle
  connections after 120 s).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import spnego

from plugins.activesync.backend import BackendError

MAX_IDLE_PER_USER = 4
MAX_USERS = 64
IDLE_SECONDS = 60.0
REQUEST_TIMEOUT = 60.0  # seconds for one ordinary request
MAX_BODY = 64 * 1024 * 1024  # the largest answer the hop reads (a message, a manifest)
# Errors that mean "the server had closed this idle connection before our request arrived".
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest)
_SECRET = os.urandom(32)  # keys the password fingerprints of pool keys, for this process only


class HopError(BackendError):
    """The hop did not get the answer it needed: MASSYNC answers the device 500 (event 3005).

    :param status: the back end's HTTP status, or None when no answer came
        (name resolution, connection refused, timeout).
    :param method: the WebDAV method. :param url: the URL it went to.
    :param server: the home server's name. :param mailbox: the SMTP address used.
    :param reason: what happened, in words.
    """

    def __init__(self, status: int | None, method: str, url: str, server: str, mailbox: str, reason: str) -> None:
        self.status, self.method, self.url, self.server, self.mailbox, self.reason = (
            status, method, url, server, mailbox, reason)
        code = status if status is not None else "none"
        # Close to the wording of Exchange 2003's event 3005 (PITFALLS 3.6; exact text unverified).
        super().__init__(
            f"Unexpected Exchange mailbox server error: Server: [{server}] User: [{mailbox}] "
            f"HTTP status code: [{code}]. {method} {url}: {reason}. "
            "Verify that the Exchange mailbox server is working correctly.")


@dataclass(frozen=True)
class Credentials:
    """Who the hop logs on as: the device's user, with the password the device sent (None: none)."""

    logon_name: str  # CONTOSO\alice
    password: str | None = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """Tells passwords apart in pool keys without keeping them."""
        secret = (self.password or "").encode("utf-8", "surrogatepass")
        return hmac.new(_SECRET, secret, hashlib.sha256).hexdigest()[:16] if self.password is not None else "-"


@dataclass(frozen=True)
class Target:
    """Where the requests go: an address, a port and the Host header naming the server."""

    ip: str
    port: int
    host: str  # the Host header, e.g. exchange01 or exchange01:8080

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"


@dataclass
class HopResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.casefold() == name.casefold()), None)

    def all_headers(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.casefold() == name.casefold()]

    @property
    def status_line(self) -> str:
        return f"{self.status} {self.reason}".strip()


class HopConnection:
    """One keep-alive connection; ``authenticated`` once NTLM succeeded on it."""

    def __init__(self, target: Target, timeout: float = REQUEST_TIMEOUT) -> None:
        self.http = http.client.HTTPConnection(target.ip, target.port, timeout=timeout)
        self.authenticated = False
        self.reusable = True
        self.idle_since = time.monotonic()

    def open(self) -> bool:
        """Still usable: the server has neither closed it nor sent anything while it sat idle."""
        sock = self.http.sock
        if sock is None:
            return False
        timeout = sock.gettimeout()
        sock.settimeout(0)
        try:
            sock.recv(1, socket.MSG_PEEK)  # b"" (closed) or stray bytes: not reusable either way
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        finally:
            sock.settimeout(timeout)
        return False

    def close(self) -> None:
        self.reusable = False
        self.http.close()


class HopPool:
    """Idle authenticated connections per (server, user); bounded and thread-safe.

    :param clock: monotonic seconds (a test seam).
    """

    def __init__(self, *, max_idle_per_user: int = MAX_IDLE_PER_USER, max_users: int = MAX_USERS,
                 idle_seconds: float = IDLE_SECONDS, clock=time.monotonic) -> None:
        self.max_idle_per_user = max_idle_per_user
        self.max_users = max_users
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: OrderedDict[tuple, list[HopConnection]] = OrderedDict()
        self._closed = False

    def acquire(self, key: tuple) -> HopConnection | None:
        """The most recently used idle connection of ``key`` that is fresh enough, or None."""
        stale: list[HopConnection] = []
        found = None
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                conn = idle.pop()
                if self._clock() - conn.idle_since < self.idle_seconds and conn.open():
                    found = conn
                    break
                stale.append(conn)
            if key in self._idle and not idle:
                del self._idle[key]
        for conn in stale:
            conn.close()
        return found

    def release(self, key: tuple, conn: HopConnection) -> None:
        """Keep ``conn`` for the next request of ``key``, or close it when it cannot be kept."""
        doomed: list[HopConnection] = []
        with self._lock:
            if self._closed or not conn.reusable:
                doomed.append(conn)
            else:
                conn.idle_since = self._clock()
                idle = self._idle.setdefault(key, [])
                idle.append(conn)
                self._idle.move_to_end(key)
                doomed += idle[:-self.max_idle_per_user]
                del idle[:-self.max_idle_per_user]
                while len(self._idle) > self.max_users:
                    _, evicted = self._idle.popitem(last=False)
                    doomed += evicted
        for c in doomed:
            c.close()

    def idle_count(self, key: tuple | None = None) -> int:
        with self._lock:
            if key is not None:
                return len(self._idle.get(key, []))
            return sum(len(v) for v in self._idle.values())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            doomed = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in doomed:
            conn.close()


class HopSession:
    """One device request's way to one mailbox server as one user.

    :param target: address, port and Host header of the mailbox server.
    :param credentials: the device's user and password.
    :param pool: the service's connection pool.
    :param user_agent: what the W3C log's cs(User-Agent) shows for MASSYNC.
    :param server: the home server's name, for messages. :param mailbox: the SMTP address, for messages.
    """

    def __init__(self, target: Target, credentials: Credentials, pool: HopPool, *, user_agent: str,
                 server: str, mailbox: str) -> None:
        self.target, self.credentials, self.pool = target, credentials, pool
        self.user_agent, self.server, self.mailbox = user_agent, server, mailbox
        self.key = (target.ip, target.port, target.host.casefold(), credentials.logon_name.casefold(),
                    credentials.fingerprint)
        self.calls = 0
        self.elapsed = 0.0

    # -- building blocks ----------------------------------------------------------

    def failure(self, status: int | None, method: str, path: str, reason: str) -> HopError:
        return HopError(status, method, self.target.url(path), self.server, self.mailbox, reason)

    def release(self, conn: HopConnection) -> None:
        self.pool.release(self.key, conn)

    def _connection(self) -> tuple[HopConnection, bool]:
        conn = self.pool.acquire(self.key)
        return (conn, True) if conn is not None else (HopConnection(self.target), False)

    def _headers(self, headers: dict[str, str] | None, body: bytes, authorization: str | None) -> dict[str, str]:
        out = {"Host": self.target.host, "User-Agent": self.user_agent, "Translate": "f",
               "Content-Length": str(len(body)), **(headers or {})}
        if authorization:
            out["Authorization"] = authorization
        return out

    def _send(self, conn: HopConnection, method: str, path: str, headers, body: bytes,
              authorization: str | None = None) -> None:
        conn.http.request(method, path, body=body, headers=self._headers(headers, body, authorization))

    def _logon(self, conn: HopConnection, method: str, path: str, headers, body: bytes) -> HopResponse | str:
        """NTLM's first leg; the authenticate message to send with the request, or the answer that ended it.

        Without a password there is nothing to log on with: the request goes
        without credentials and the server's 401 is the answer.
        """
        if self.credentials.password is None:
            return ""
        initiator = spnego.client(self.credentials.logon_name, self.credentials.password, protocol="ntlm")
        self._send(conn, method, path, headers, body, "NTLM " + base64.b64encode(initiator.step()).decode())
        first = _read(conn)
        challenge = _ntlm_challenge(first)
        if first.status != 401 or challenge is None or first.header("Connection") == "close":
            return first  # refused before any logon (403.4, 440...) or no NTLM offered (Basic only)
        return "NTLM " + base64.b64encode(initiator.step(challenge)).decode()

    # -- requests -----------------------------------------------------------------

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                body: bytes = b"") -> HopResponse:
        """Send one request and read its answer, whatever its status (no redirect is followed)."""
        began = time.perf_counter()
        self.calls += 1
        try:
            for attempt in range(2):  # a second try only when a pooled connection turned out closed
                conn, reused = self._connection()
                try:
                    response = self._exchange(conn, method, path, headers, body)
                except _STALE as exc:
                    conn.close()
                    if reused and attempt == 0:
                        continue
                    raise self.failure(None, method, path, f"the server closed the connection: {exc}") from exc
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    raise self.failure(None, method, path, _network_reason(exc, self.target)) from exc
                self.release(conn)
                return response
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self.elapsed += time.perf_counter() - began

    def _exchange(self, conn: HopConnection, method: str, path: str, headers, body: bytes) -> HopResponse:
        if conn.authenticated:
            self._send(conn, method, path, headers, body)
            response = _read(conn)
            if response.status != 401:
                return response
            conn.authenticated = False  # the server forgot this connection's logon: log on again
        leg = self._logon(conn, method, path, headers, body)
        if isinstance(leg, HopResponse):
            return leg
        self._send(conn, method, path, headers, body, leg or None)
        response = _read(conn)
        conn.authenticated = bool(leg) and response.status != 401
        return response


def _read(conn: HopConnection) -> HopResponse:
    answer = conn.http.getresponse()
    body = answer.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        conn.close()
        raise http.client.HTTPException(f"the answer is larger than {MAX_BODY} bytes")
    if answer.will_close:
        conn.reusable = False
        conn.http.close()
    return HopResponse(answer.status, answer.reason, list(answer.getheaders()), body)


def _ntlm_challenge(response: HopResponse) -> bytes | None:
    for value in response.all_headers("WWW-Authenticate"):
        scheme, _, token = value.strip().partition(" ")
        if scheme.casefold() == "ntlm" and token.strip():
            try:
                return base64.b64decode(token.strip(), validate=True)
            except ValueError:
                return None
    return None


def _network_reason(exc: BaseException, target: Target) -> str:
    where = f"{target.ip}:{target.port}"
    if isinstance(exc, ConnectionRefusedError):
        return f"the connection to {where} was refused (nothing listens there, or a firewall rejects it)"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer from {where} in time"
    return f"the connection to {where} failed: {exc}"
