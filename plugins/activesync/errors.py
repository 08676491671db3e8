"""How MASSYNC says no: an HTTP status, or a status code inside the command's response.

Protocol 14.0 moved most request-level failures from HTTP status codes into
the response body as common status codes (MS-ASCMD 2.2.2). A command raises
:class:`CommonStatus` with the 14.0 code; the transport turns it into the
body status for 14.0+ and into the HTTP equivalent that older versions used
(PITFALLS §3.5: 110->500, 111->503, 113->507, 140/142-144->449).
"""
from __future__ import annotations

from http import HTTPStatus


class EasHttpError(Exception):
    """Answer with this HTTP status and an empty body (MS-ASHTTP 3.2.5.1).

    :param log: the word the ``&Log=`` field shows after ``Error:``.
    """

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]] | None = None,
                 log: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []
        self.log = log or HTTPStatus(status).phrase.replace(" ", "")


class CommonStatus(Exception):
    """A common status code of MS-ASCMD 2.2.2 (14.0 and later).

    :param code: the status, e.g. 142 DeviceNotProvisioned.
    :param reason: a sentence for the mailbox log and the ``&Log=`` field.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @property
    def http_equivalent(self) -> int:
        """The HTTP status protocol 2.5-12.1 used for the same condition."""
        return _HTTP_EQUIVALENTS.get(self.code, 400 if 101 <= self.code <= 108 else 500)


_HTTP_EQUIVALENTS = {
    110: 500,  # ServerError
    111: 503,  # ServerErrorRetryLater
    113: 507,  # MailboxQuotaExceeded
    115: 507,  # SendQuotaExceeded: over ProhibitSendQuota, the server is "out of space" for this mailbox
    126: 403,  # UserDisabledForSync
    129: 403,  # DeviceIsBlockedForThisUser
    139: 403,  # DeviceNotFullyProvisionable
    140: 449,  # RemoteWipeRequested: provision to receive the wipe
    141: 403,  # LegacyDeviceOnStrictPolicy
    142: 449,  # DeviceNotProvisioned
    143: 449,  # PolicyRefresh
    144: 449,  # InvalidPolicyKey
}

# MS-ASCMD 2.2.2 names, for the mailbox log and the &Log= field.
COMMON_STATUS_NAMES = {
    101: "InvalidContent", 102: "InvalidWBXML", 103: "InvalidXML", 108: "DeviceIdMissingOrInvalid",
    104: "InvalidDateTime", 105: "InvalidCombinationOfIDs", 106: "InvalidIDs", 107: "InvalidMIME",
    110: "ServerError", 111: "ServerErrorRetryLater", 113: "MailboxQuotaExceeded",
    115: "SendQuotaExceeded", 116: "MessageRecipientUnresolved", 117: "MessageReplyNotAllowed",
    118: "MessagePreviouslySent", 119: "MessageHasNoRecipient", 120: "MailSubmissionFailed",
    121: "MessageReplyFailed", 122: "AttachmentIsTooLarge", 137: "CommandNotSupported",
    150: "ItemNotFound",
    126: "UserDisabledForSync", 139: "DeviceNotFullyProvisionable", 140: "RemoteWipeRequested",
    141: "LegacyDeviceOnStrictPolicy", 142: "DeviceNotProvisioned", 143: "PolicyRefresh",
    144: "InvalidPolicyKey",
}


def not_in_version(version, command: str) -> Exception:
    """A command this protocol version lacks (MS-ASCMD's per-command version table).

    14.0 and later name it with common status 137 CommandNotSupported; before
    14.0 there is no status to carry it, so the device hears HTTP 501 as for
    a command the server does not know.
    """
    reason = f"{command} is not part of protocol version {version}"
    if version.major >= 14:
        return CommonStatus(137, reason)
    return EasHttpError(501, reason, log="CommandNotSupported")
