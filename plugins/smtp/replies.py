"""SMTP replies with enhanced status codes (RFC 3463), worded as Exchange 2003's SMTP service did.

Trainees search for these texts, so they are Exchange's, not aiosmtpd's.
The same replies fill the Status and Diagnostic-Code fields of a
non-delivery report (RFC 3464) when the failure happens after DATA.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    code: int
    status: str  # the enhanced status code, "5.1.1"
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.text}"


USER_UNKNOWN = Reply(550, "5.1.1", "User unknown")
MAILBOX_FULL = Reply(552, "5.2.2", "Mailbox full")
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
# RFC 5321 4.5.3.1.10: too many recipients is a temporary 452; the client sends the rest later.
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")
# The store failed for a reason other than quota: temporary, so the sender retries.
LOCAL_ERROR = Reply(451, "4.3.0", "Local error in processing; try again later")


def relay_denied(address: str) -> Reply:
    """An anonymous client may only send to the lab's own domains (no open relay)."""
    return Reply(550, "5.7.1", f"Unable to relay for {address}")
