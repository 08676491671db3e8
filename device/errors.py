"""What can go wrong between a device and the server, in the words a device uses.

A Windows Mobile device reports a failed connection as a WinInet error code
(the "support code" in its error dialog), so every transport failure carries
the HRESULT the device would show. The connectivity analyzer prints these;
tests assert them. HTTP failures keep status, headers and body, because the
IIS substatus page in the body is often the only clue (PITFALLS §0).
"""
from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .response import EasResponse
    from .tls import PeerCertificate


def _hresult(wininet_code: int) -> int:
    """HRESULT_FROM_WIN32: facility 7, severity bit set."""
    return 0x80070000 | wininet_code


# wininet.h error codes (ERROR_INTERNET_BASE is 12000), as HRESULTs.
ERROR_INTERNET_TIMEOUT = _hresult(12002)
ERROR_INTERNET_NAME_NOT_RESOLVED = _hresult(12007)
ERROR_INTERNET_CANNOT_CONNECT = _hresult(12029)
ERROR_INTERNET_CONNECTION_ABORTED = _hresult(12030)
ERROR_INTERNET_CONNECTION_RESET = _hresult(12031)
ERROR_INTERNET_SEC_CERT_DATE_INVALID = _hresult(12037)  # 0x80072F05
ERROR_INTERNET_SEC_CERT_CN_INVALID = _hresult(12038)  # 0x80072F06
ERROR_INTERNET_CLIENT_AUTH_CERT_NEEDED = _hresult(12044)  # 0x80072F0C
ERROR_INTERNET_INVALID_CA = _hresult(12045)  # 0x80072F0D
ERROR_INTERNET_SEC_CERT_ERRORS = _hresult(12055)  # 0x80072F17
ERROR_HTTP_INVALID_SERVER_RESPONSE = _hresult(12152)  # 0x80072F78
ERROR_INTERNET_SECURITY_CHANNEL_ERROR = _hresult(12157)  # 0x80072F7D


class TlsFailure(enum.Enum):
    """Why a TLS connection was refused, with the WinInet code a device shows."""

    UNTRUSTED_ROOT = ("untrusted root", ERROR_INTERNET_INVALID_CA)
    NAME_MISMATCH = ("name mismatch", ERROR_INTERNET_SEC_CERT_CN_INVALID)
    DATE_INVALID = ("expired or not yet valid", ERROR_INTERNET_SEC_CERT_DATE_INVALID)
    CERTIFICATE_INVALID = ("certificate invalid", ERROR_INTERNET_SEC_CERT_ERRORS)
    CLIENT_CERTIFICATE_NEEDED = ("client certificate needed", ERROR_INTERNET_CLIENT_AUTH_CERT_NEEDED)
    HANDSHAKE_FAILURE = ("handshake failure", ERROR_INTERNET_SECURITY_CHANNEL_ERROR)

    def __init__(self, text: str, wininet: int) -> None:
        self.text = text
        self.wininet = wininet


class EasError(Exception):
    """Base of every error this package raises."""


class TransportError(EasError):
    """No HTTP response arrived: DNS, TCP, timeout, reset, or TLS.

    ``wininet`` is the HRESULT a Windows Mobile device would report.
    """

    def __init__(self, reason: str, wininet: int) -> None:
        super().__init__(f"{reason} (0x{wininet:08X})")
        self.reason = reason
        self.wininet = wininet


class TlsError(TransportError):
    """The TLS handshake failed or the device refused the server certificate.

    ``failure`` says why in device terms; ``detail`` is OpenSSL's own text;
    ``verify_code`` is OpenSSL's X509_V_ERR value when certificate
    verification failed; ``vetoed`` is True when the device's certificate
    check (not OpenSSL) refused a certificate that OpenSSL accepted.
    """

    def __init__(self, failure: TlsFailure, detail: str, *, verify_code: int | None = None,
                 peer: PeerCertificate | None = None, vetoed: bool = False) -> None:
        super().__init__(f"TLS {failure.text}: {detail}", failure.wininet)
        self.failure = failure
        self.detail = detail
        self.verify_code = verify_code
        self.peer = peer
        self.vetoed = vetoed


class HttpFailure(EasError):
    """The server answered with a non-2xx status (MS-ASHTTP 3.1.5.2).

    ``location`` carries X-MS-Location of a 451 redirect (MS-ASHTTP 3.1.5.2.2).
    """

    def __init__(self, response: EasResponse) -> None:
        self.response = response
        self.status = response.http_status
        self.reason = response.reason
        self.headers = response.headers
        self.body = response.body
        self.location = response.headers.get("X-MS-Location")
        where = f", X-MS-Location: {self.location}" if self.location else ""
        super().__init__(f"{response.command or 'OPTIONS'}: HTTP {self.status} {self.reason}{where}")


class ProtocolError(EasError):
    """A response the protocol does not allow, e.g. WBXML that does not decode."""

    def __init__(self, message: str, response: EasResponse | None = None) -> None:
        super().__init__(message)
        self.response = response


class CommandFailed(EasError):
    """A command came back with an EAS Status other than success."""

    def __init__(self, command: str, status: int | None, response: EasResponse, detail: str = "") -> None:
        text = f"{command} failed with Status {status}" + (f": {detail}" if detail else "")
        super().__init__(text)
        self.command = command
        self.status = status
        self.response = response


class SyncIncomplete(EasError):
    """The server still said MoreAvailable when the round limit was reached."""

    def __init__(self, collection_id: str, rounds: int) -> None:
        super().__init__(f"collection {collection_id}: MoreAvailable after {rounds} Sync rounds")
        self.collection_id = collection_id
        self.rounds = rounds
