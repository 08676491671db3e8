"""Trace headers the SMTP service stamps on mail it accepts (RFC 5321 4.4), in IIS 6's format.

Exchange 2003 on Windows Server 2003 SP2 wrote
``Received: from HELO ([ip]) by fqdn with Microsoft SMTPSVC(6.0.3790.3959);``
followed by the date, and ``X-OriginalArrivalTime`` with the arrival time as
a Windows FILETIME; trainees read both when following a message's path.
"""
from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

SMTPSVC_VERSION = "6.0.3790.3959"
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def received_header(helo: str | None, peer_ip: str, fqdn: str, when: datetime) -> bytes:
    origin = f"{helo} ([{peer_ip}])" if helo else f"[{peer_ip}]"
    return (f"Received: from {origin} by {fqdn} with Microsoft SMTPSVC({SMTPSVC_VERSION});\r\n"
            f"\t {format_datetime(when)}\r\n").encode("ascii", "replace")


def original_arrival_time(when: datetime) -> bytes:
    """``X-OriginalArrivalTime: 26 Nov 2025 16:00:00.0625 (UTC) FILETIME=[low:high]``."""
    utc = when.astimezone(timezone.utc)
    delta = utc - _FILETIME_EPOCH
    filetime = (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    stamp = (f"{utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year} "
             f"{utc:%H:%M:%S}.{utc.microsecond // 100:04d}")
    return (f"X-OriginalArrivalTime: {stamp} (UTC) "
            f"FILETIME=[{filetime & 0xFFFFFFFF:08X}:{filetime >> 32:08X}]\r\n").encode("ascii")
