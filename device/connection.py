"""One keep-alive HTTP(S) connection per device, with its authentication.

NTLM and client-certificate negotiation belong to a TCP/TLS connection, not
to a request, so a device session keeps exactly one connection open and
reuses it. http.client gives that control (and OpenSSL's own errors) without
a pool in between; a pool would silently spread requests over sockets and
hide which one was authenticated.

Every failure below HTTP becomes a ``TransportError`` (or ``TlsError``)
carrying the WinInet code a device would show.
"""
from __future__ import annotations

import base64
import gzip
import http.client
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from . import errors
from .auth import Auth, BasicAuth, NtlmAuth
from .errors import TlsError, TransportError
from .tls import PeerCertificate, TlsInfo, TlsSettings, classify

#: NTLM needs two legs (negotiate, authenticate); Negotiate may add a final token.
MAX_AUTH_LEGS = 3


@dataclass
class HttpResult:
    """One HTTP response as the device received it (body already un-gzipped)."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    elapsed: float
    tls: TlsInfo | None
    auth_legs: int
    compressed: bool


class _Wire(http.client.HTTPConnection):
    """http.client's connection with a connect() that speaks device errors.

    ``address`` connects to another IP/port than the URL names (the lab's
    stand-in for DNS), while Host header, SNI and name checks still use the
    URL's host. ``generation`` counts (re)connects, so connection-bound
    authentication knows when it was lost.
    """

    def __init__(self, host: str, port: int, *, timeout: float, address: tuple[str, int] | None,
                 tls: TlsSettings | None) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.tls = tls
        self.generation = 0
        self.tls_info: TlsInfo | None = None

    def connect(self) -> None:
        target = self.address or (self.host, self.port)
        try:
            sock = socket.create_connection(target, self.timeout)
        except socket.gaierror as exc:
            raise TransportError(f"cannot resolve {target[0]}: {exc.strerror}",
                                 errors.ERROR_INTERNET_NAME_NOT_RESOLVED) from exc
        except TimeoutError as exc:
            raise TransportError(f"connecting to {target[0]}:{target[1]} timed out",
                                 errors.ERROR_INTERNET_TIMEOUT) from exc
        except OSError as exc:
            raise TransportError(f"cannot connect to {target[0]}:{target[1]}: {exc.strerror or exc}",
                                 errors.ERROR_INTERNET_CANNOT_CONNECT) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            sock = self._handshake(sock)
        self.sock = sock
        self.generation += 1

    def _handshake(self, sock: socket.socket) -> ssl.SSLSocket:
        assert self.tls is not None
        try:
            tls_sock = self.tls.context().wrap_socket(sock, server_hostname=self.host)
        except ssl.SSLError as exc:
            sock.close()
            raise classify(exc) from exc
        except OSError as exc:
            sock.close()
            raise TransportError(f"connection lost during the TLS handshake: {exc}",
                                 errors.ERROR_INTERNET_CONNECTION_RESET) from exc
        der = tls_sock.getpeercert(binary_form=True)
        peer = PeerCertificate.from_der(der) if der else None
        check = self.tls.certificate_check
        if check is not None and peer is not None:
            failure = check(peer, self.host)
            if failure is not None:
                tls_sock.close()
                raise TlsError(failure, f"the device refused the certificate for {self.host} "
                               f"(names: {', '.join(peer.names) or 'none'})", peer=peer, vetoed=True)
        cipher = tls_sock.cipher()
        self.tls_info = TlsInfo(version=tls_sock.version(), cipher=cipher[0] if cipher else None, peer=peer,
                                verified=self.tls.verify, hostname_checked=self.tls.verify and self.tls.check_hostname)
        return tls_sock


class Connection:
    """The device's single connection to one server, with auth and cookies."""

    def __init__(self, url: str, *, auth: Auth | None = None, tls: TlsSettings | None = None,
                 timeout: float = 30.0, address: tuple[str, int] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        secure = parts.scheme == "https"
        self.url = url
        self.host = parts.hostname
        self.path = parts.path or "/"
        self.auth = auth
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._wire = _Wire(self.host, parts.port or (443 if secure else 80), timeout=timeout, address=address,
                           tls=(tls or TlsSettings()) if secure else None)
        self._authenticated_generation = -1

    @property
    def tls_info(self) -> TlsInfo | None:
        return self._wire.tls_info

    def close(self) -> None:
        self._wire.close()

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes = b"",
                timeout: float | None = None) -> HttpResult:
        """Send one request (running the auth handshake when the connection needs it)."""
        started = time.monotonic()
        headers = dict(headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if isinstance(self.auth, BasicAuth):
            headers["Authorization"] = self.auth.header()
        self._wire.timeout = timeout or self.timeout
        legs = 0
        if isinstance(self.auth, NtlmAuth) and self._authenticated_generation != self._wire.generation:
            status, reason, msg, data, legs = self._ntlm(method, target, headers, body)
        else:
            status, reason, msg, data = self._roundtrip(method, target, headers, body)
            if status == 401 and isinstance(self.auth, NtlmAuth):
                status, reason, msg, data, legs = self._ntlm(method, target, headers, body)
        self._keep_cookies(msg)
        compressed = (msg.get("Content-Encoding") or "").strip().lower() == "gzip"
        if compressed:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                raise TransportError(f"gzip body does not decompress: {exc}",
                                     errors.ERROR_HTTP_INVALID_SERVER_RESPONSE) from exc
        return HttpResult(status, reason, msg, data, time.monotonic() - started, self._wire.tls_info,
                          legs, compressed)

    def _ntlm(self, method: str, target: str, headers: dict[str, str],
              body: bytes) -> tuple[int, str, http.client.HTTPMessage, bytes, int]:
        """Run the NTLM/Negotiate legs on one connection (MS-NLMP 3.1.5.1)."""
        assert isinstance(self.auth, NtlmAuth)
        if self._wire.sock is None:
            self._wire.connect()
        generation = self._wire.generation
        context = self.auth.start(self.host)
        token = context.step()
        legs = 0
        while True:
            legs += 1
            leg_headers = dict(headers, Authorization=f"{self.auth.scheme} {base64.b64encode(token).decode()}")
            status, reason, msg, data = self._roundtrip(method, target, leg_headers, body)
            reply = _challenge(msg, self.auth.scheme)
            if status != 401 or reply is None or legs >= MAX_AUTH_LEGS or self._wire.generation != generation:
                break
            token = context.step(reply)
            if token is None:
                break
        if status != 401:
            if reply and not context.complete:  # Negotiate's final accept-complete token
                context.step(reply)
            self._authenticated_generation = self._wire.generation
        return status, reason, msg, data, legs

    def _roundtrip(self, method: str, target: str, headers: dict[str, str],
                   body: bytes) -> tuple[int, str, http.client.HTTPMessage, bytes]:
        """One request/response; a stale keep-alive connection is retried once on a new one."""
        for attempt in (1, 2):
            reused = self._wire.sock is not None
            if reused:
                self._wire.sock.settimeout(self._wire.timeout)
            try:
                self._wire.request(method, target, body=body or None, headers=headers)
                response = self._wire.getresponse()
                return response.status, response.reason, response.msg, response.read()
            except TransportError:
                self._wire.close()
                raise
            except ssl.SSLError as exc:
                self._wire.close()
                raise classify(exc) from exc
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._wire.close()
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection; browsers retry too
                raise TransportError(f"the server closed the connection without a response: {exc}",
                                     errors.ERROR_INTERNET_CONNECTION_RESET) from exc
            except TimeoutError as exc:
                self._wire.close()
                raise TransportError(f"no response within {self._wire.timeout:g} s",
                                     errors.ERROR_INTERNET_TIMEOUT) from exc
            except (http.client.HTTPException, OSError) as exc:
                self._wire.close()
                raise TransportError(f"invalid or broken HTTP response: {exc!r}",
                                     errors.ERROR_HTTP_INVALID_SERVER_RESPONSE) from exc
        raise AssertionError("unreachable")

    def _keep_cookies(self, msg: http.client.HTTPMessage) -> None:
        """MS-ASHTTP 2.2.1.1.2.4: return what Set-Cookie gave (16.x and OAuth clients MUST)."""
        for line in msg.get_all("Set-Cookie") or ():
            try:
                jar = SimpleCookie(line)
            except CookieError:
                continue
            self.cookies.update({name: morsel.value for name, morsel in jar.items()})


def _challenge(msg: http.client.HTTPMessage, scheme: str) -> bytes | None:
    """The token of the server's ``WWW-Authenticate: <scheme> <token>``, if any."""
    for value in msg.get_all("WWW-Authenticate") or ():
        name, _, token = value.strip().partition(" ")
        if name.lower() == scheme.lower() and token.strip():
            try:
                return base64.b64decode(token.strip(), validate=True)
            except ValueError:
                return None
    return None
