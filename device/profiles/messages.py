"""What the device shows its user when a step fails, in the profile's own words.

The failure itself is the device library's exception (a WinInet code for a
transport or TLS failure, the HTTP status, the EAS Status); the profile only
decides how its phone words it: Windows Mobile's "Support code: 0x80072F0D"
and "Error code: HTTP_500", Windows Mobile 2003's "Internet_45", iOS's
"Cannot Verify Server Identity".
"""
from __future__ import annotations

from device.errors import (
    ERROR_INTERNET_NAME_NOT_RESOLVED,
    CommandFailed,
    HttpFailure,
    ProtocolError,
    TlsError,
    TlsFailure,
    TransportError,
)
from plugins.labdns.resolver import LabLookupError

from .profile import DeviceProfile

CERTIFICATE_FAILURES = {TlsFailure.UNTRUSTED_ROOT, TlsFailure.NAME_MISMATCH, TlsFailure.DATE_INVALID,
                        TlsFailure.CERTIFICATE_INVALID}


def message_kind(error: Exception) -> tuple[str, int | None]:
    """The profile message for this failure, and the WinInet HRESULT behind it (None for HTTP and EAS)."""
    if isinstance(error, LabLookupError):
        return "dns", ERROR_INTERNET_NAME_NOT_RESOLVED
    if isinstance(error, TlsError):
        return ("certificate" if error.failure in CERTIFICATE_FAILURES else "tls"), error.wininet
    if isinstance(error, TransportError):
        return "connect", error.wininet
    if isinstance(error, HttpFailure):
        return ("unauthorized" if error.status == 401 else "http"), None
    if isinstance(error, CommandFailed):
        return "status", None
    if isinstance(error, ProtocolError):
        return "protocol", None
    raise TypeError(f"no device message for {type(error).__name__}")


def device_message(profile: DeviceProfile, error: Exception | None, *, host: str = "", email: str = "") -> str:
    """The text on the phone's screen; ``error`` None means Autodiscover found nothing."""
    kind, hresult = message_kind(error) if error is not None else ("autodiscover", None)
    support = ""
    if hresult is not None and profile.support_code:
        code = hresult & 0xFFFF
        support = profile.support_code.format(hresult=hresult, code=code, short=code - 12000)
    return profile.messages[kind].format(
        support_code=support, host=host, email=email,
        status=getattr(error, "status", ""), command=getattr(error, "command", ""),
        eas_status=getattr(error, "status", "") if isinstance(error, CommandFailed) else "")
