"""TLS for HTTPS bindings: the server context and client certificates the IIS 6 way.

IIS 6 did not ask for a client certificate in the initial handshake. Only
when a request reached a vdir whose ``AccessSSLFlags`` negotiate one did it
renegotiate, after reading the request (PITFALLS §2.1), and devices that
could not renegotiate broke off. The closest real mechanism today is TLS 1.3
post-handshake authentication (PHA), which this module uses: the server
context has ``verify_mode=CERT_OPTIONAL`` and ``post_handshake_auth``, so
OpenSSL marks server sockets ``SSL_VERIFY_POST_HANDSHAKE`` and the TLS 1.3
handshake carries no CertificateRequest; ``request_client_certificate()``
sends one mid-connection and reads the answer.

The TLS layer is given both lab roots (``LabPKI.client_ca_pem()``) and OpenSSL's
``X509_V_FLAG_NO_CHECK_TIME``, so the SSL pipeline stage, like IIS 6, judges
issuer and dates itself. What a client gets (verified in tests/test_listeners.py):

=============================  ==================================================
client                         ``request_client_certificate()``
=============================  ==================================================
TLS 1.3, PHA, no certificate   None (the client sends an empty Certificate)
lab certificate                the certificate
expired / not yet valid        the certificate (without NO_CHECK_TIME OpenSSL
                               aborts with a certificate_expired alert)
untrusted-root lab certificate the certificate (``is_trusted_client_certificate``
                               is then False: 403.16)
CA not in ``client_ca_pem``    connection dead (OpenSSL sends an alert):
                               ``ClientCertificateUnavailable``, not usable;
                               stdlib ssl has no verify callback to accept it
TLS 1.3 without PHA            ``ClientCertificateUnavailable``, usable: nothing
                               was sent; the old device that cannot renegotiate
no answer within ``timeout``   ``ClientCertificateUnavailable``, not usable
TLS 1.2                        what the client sent in the initial handshake
=============================  ==================================================

TLS 1.2 has no PHA, and OpenSSL defers the request only for TLS 1.3, so a
TLS 1.2 client gets an *optional* CertificateRequest in the initial
handshake: IIS's ``SSLAlwaysNegoClientCert``. Clients without a certificate
still connect.
"""
from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME; the ssl module has no name for it.
VERIFY_NO_CHECK_TIME = 0x200000

# RFC 8446 §5.1: every record starts with type (1), legacy version (2), length (2).
RECORD_HEADER = 5
# Enough to peek at a client's certificate flight (a TLS record is at most 2**14 + 256 bytes).
PEEK_BYTES = 65536
# While a record is only partly on the wire, look again this often.
PARTIAL_RECORD_POLL = 0.01


class ClientCertificateUnavailable(Exception):
    """The client could not (or did not) answer a request for its certificate.

    ``connection_usable`` says whether the TCP/TLS connection can still carry
    a response: True when the client merely lacks post-handshake auth (the
    old-device case), False when it hung up, timed out or failed the TLS
    verification of its certificate.
    """

    def __init__(self, message: str, *, connection_usable: bool) -> None:
        super().__init__(message)
        self.connection_usable = connection_usable


@dataclass
class TlsSettings:
    """What an HTTPS binding needs: the site's certificate (IIS ``SSLCertHash``) and accepted client CAs."""

    cert_chain_path: Path  # the certificate, optionally followed by its intermediate
    key_path: Path
    client_ca_pem: bytes  # CAs whose client certificates the TLS layer accepts


def server_context(settings: TlsSettings) -> ssl.SSLContext:
    """A server context that negotiates client certificates only on request (see module docstring)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(settings.cert_chain_path, settings.key_path)
    if settings.client_ca_pem:
        context.load_verify_locations(cadata=settings.client_ca_pem.decode("ascii"))
    context.verify_mode = ssl.CERT_OPTIONAL
    context.post_handshake_auth = True
    context.verify_flags |= VERIFY_NO_CHECK_TIME
    context.sslsocket_class = TlsSocket
    return context


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM file: the site's own certificate in a chain file."""
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


class TlsSocket(ssl.SSLSocket):
    """An SSLSocket that can give back application data it read too early.

    Waiting for the client's certificate means reading from the TLS
    connection; should a pipelined request arrive first, its bytes are kept
    here and handed out before anything else, so the HTTP layer never notices.
    """

    # SSLContext builds these through SSLSocket._create, never __init__: hence a class default.
    _unread = b""

    def has_unread(self) -> bool:
        """Whether application data read ahead is waiting to be returned."""
        return bool(self._unread)

    def read(self, size: int = 1024, buffer: bytearray | memoryview | None = None) -> bytes | int:
        """SSLSocket.read (which recv and recv_into use), serving read-ahead data first."""
        if not self._unread:
            return super().read(size, buffer)
        count = min(size, len(self._unread))
        if buffer is not None:
            count = min(count, memoryview(buffer).nbytes)
        data, self._unread = self._unread[:count], self._unread[count:]
        if buffer is None:
            return data
        memoryview(buffer)[:count] = data
        return count

    def await_client_flight(self, deadline: float) -> None:
        """Read until the client's answer to a CertificateRequest has been processed.

        Python's ssl shows no handshake state except that ``version()`` is
        None while OpenSSL is inside a handshake. So: wait until at least one
        complete TLS record has arrived (peeked on a duplicate of the socket,
        never consumed behind OpenSSL's back), let OpenSSL read; if it is
        mid-flight, keep reading until it is not. Application data read on
        the way goes to the read-ahead buffer.
        """
        # A duplicate of the socket: peeking through it and closing it leave the connection alone.
        peeker = socket.fromfd(self.fileno(), self.family, self.type)
        in_flight = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ClientCertificateUnavailable(
                        "the client did not answer the certificate request in time", connection_usable=False
                    )
                if not super().pending():
                    if not select.select([peeker], [], [], remaining)[0]:
                        continue
                    if not in_flight:
                        records, available = _complete_records(peeker)
                        if available == 0:
                            raise ClientCertificateUnavailable(
                                "the client closed the connection instead of answering the certificate request",
                                connection_usable=False,
                            )
                        if records == 0:
                            time.sleep(min(PARTIAL_RECORD_POLL, remaining))
                            continue
                data = self._read_nowait()
                if data == b"":
                    raise ClientCertificateUnavailable(
                        "the client closed the connection instead of answering the certificate request",
                        connection_usable=False,
                    )
                if data:
                    self._unread += data
                    in_flight = self.version() is None
                    if not in_flight and self.getpeercert(binary_form=True) is not None:
                        return
                    continue
                in_flight = self.version() is None
                if not in_flight:
                    return
        finally:
            peeker.close()

    def _read_nowait(self) -> bytes | None:
        """One TLS read that does not block: bytes, b"" at EOF, None when OpenSSL wants more input."""
        timeout = self.gettimeout()
        self.settimeout(0)
        try:
            return super().read(PEEK_BYTES)
        except ssl.SSLWantReadError:
            return None
        finally:
            self.settimeout(timeout)


class TlsConnection:
    """One HTTPS connection as the pipeline sees it (``environ["host.tls"]``)."""

    def __init__(self, sock: TlsSocket, server_certificate: x509.Certificate) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self.server_certificate = server_certificate

    @property
    def protocol(self) -> str:
        """``"TLSv1.3"`` or ``"TLSv1.2"``."""
        return self._sock.version() or ""

    @property
    def cipher(self) -> str:
        """The OpenSSL cipher suite name."""
        return self._sock.cipher()[0]

    @property
    def secret_bits(self) -> int:
        """Symmetric key size: IIS's HTTPS_KEYSIZE / HTTPS_SECRETKEYSIZE (e.g. 256)."""
        return self._sock.cipher()[2]

    def peer_certificate(self) -> x509.Certificate | None:
        """The client certificate the connection has already authenticated, if any."""
        try:
            der = self._sock.getpeercert(binary_form=True)
        except ValueError:  # OpenSSL is mid-handshake
            return None
        return x509.load_der_x509_certificate(der) if der else None

    def request_client_certificate(self, timeout: float = 10) -> x509.Certificate | None:
        """Ask the client for its certificate now, as IIS 6's renegotiation did.

        Call it after the request body has been read (IIS's
        ``UploadReadAheadSize``). Returns the certificate, or None when the
        client answered without one. A connection that already holds a
        certificate is not asked again. On TLS 1.2 the answer is the one the
        client gave in the initial handshake.

        :raises ClientCertificateUnavailable: the client did not offer TLS 1.3
            post-handshake auth, hung up, timed out, or sent a certificate the
            TLS layer could not verify against ``client_ca_pem``.
        """
        with self._lock:
            current = self.peer_certificate()
            if current is not None or self.protocol != "TLSv1.3":
                return current
            deadline = time.monotonic() + timeout
            try:
                self._sock.verify_client_post_handshake()
            except ssl.SSLError as exc:
                raise ClientCertificateUnavailable(
                    f"the client cannot be asked for a certificate on this connection ({exc.reason}): "
                    "it did not offer TLS 1.3 post-handshake authentication",
                    connection_usable=True,
                ) from exc
            try:
                with _socket_timeout(self._sock, timeout):
                    self._sock.do_handshake()  # sends the CertificateRequest
                self._sock.await_client_flight(deadline)
            except ssl.SSLCertVerificationError as exc:
                raise ClientCertificateUnavailable(
                    f"the TLS layer rejected the client certificate: {exc.verify_message}", connection_usable=False
                ) from exc
            except (ssl.SSLError, OSError) as exc:
                raise ClientCertificateUnavailable(
                    f"the certificate request failed: {exc}", connection_usable=False
                ) from exc
            return self.peer_certificate()


def _complete_records(peeker: socket.socket) -> tuple[int, int]:
    """Complete TLS records waiting in the kernel buffer, and the bytes available (0 means EOF)."""
    data = peeker.recv(PEEK_BYTES, socket.MSG_PEEK)
    records = offset = 0
    while len(data) - offset >= RECORD_HEADER:
        length = int.from_bytes(data[offset + 3 : offset + 5], "big")
        if len(data) - offset - RECORD_HEADER < length:
            break
        records += 1
        offset += RECORD_HEADER + length
    return records, len(data)


@contextlib.contextmanager
def _socket_timeout(sock: socket.socket, timeout: float):
    previous = sock.gettimeout()
    sock.settimeout(timeout)
    try:
        yield
    finally:
        sock.settimeout(previous)
