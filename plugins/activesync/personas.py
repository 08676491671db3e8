"""Which Exchange MASSYNC plays, and what follows from it.

``EmulatedVersion`` picks one persona. A persona is everything a device can
tell apart between Exchange releases: the protocol versions and commands
OPTIONS advertises, the ``MS-Server-ActiveSync`` build, whether a device that
lacks a policy key hears HTTP 449 or a status code, whether the Default
mobile policy forces every device to provision, and how MASSYNC reaches the
mailbox (see :mod:`plugins.activesync.backend`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering


@total_ordering
@dataclass(frozen=True)
class ProtocolVersion:
    """An MS-ASProtocolVersion such as ``12.1``, compared as numbers."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> ProtocolVersion:
        major, dot, minor = text.strip().partition(".")
        if not dot or not major.isdigit() or not minor.isdigit():
            raise ValueError(f"not an EAS protocol version: {text!r}")
        return cls(int(major), int(minor))

    def __lt__(self, other: ProtocolVersion) -> bool:
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def log_code(self) -> str:
        """Exchange's spelling in the ``&Log=`` field: V25, V121, V141."""
        return f"V{self.major}{self.minor}"


V2_5 = ProtocolVersion(2, 5)
V12_0 = ProtocolVersion(12, 0)
V12_1 = ProtocolVersion(12, 1)
V14_0 = ProtocolVersion(14, 0)
V14_1 = ProtocolVersion(14, 1)
V16_0 = ProtocolVersion(16, 0)

# Exchange's own MS-ASProtocolCommands lists. OPTIONS advertises the part of a
# list this server implements, so a device never learns of a command that
# would answer 501.
_COMMANDS_2003 = (
    "Sync", "SendMail", "SmartForward", "SmartReply", "GetAttachment", "GetHierarchy",
    "CreateCollection", "DeleteCollection", "MoveCollection", "FolderSync", "FolderCreate",
    "FolderDelete", "FolderUpdate", "MoveItems", "GetItemEstimate", "MeetingResponse",
    "ResolveRecipients", "ValidateCert", "Provision", "Search", "Ping",
)
_COMMANDS_2007 = _COMMANDS_2003 + ("Settings", "ItemOperations")
_COMMANDS_2016 = _COMMANDS_2007 + ("Find",)


@dataclass(frozen=True)
class Persona:
    """One emulated Exchange release.

    :param name: the ``EmulatedVersion`` text.
    :param server_version: the ``MS-Server-ActiveSync`` header (the build).
    :param versions: MS-ASProtocolVersions, oldest first.
    :param commands: MS-ASProtocolCommands of that release.
    :param default_policy_enforced: Exchange 2010 and later put every mailbox
        under a Default mobile device policy, so every device must provision;
        Exchange 2003 SP2 and 2007 SP1 only when the policy asks for a password.
    :param mailbox_via_exchange_vdir: Exchange 2003 reached the mailbox over
        HTTP through ``/Exchange``; later releases talk to the store.
    """

    name: str
    server_version: str
    versions: tuple[str, ...]
    commands: tuple[str, ...]
    default_policy_enforced: bool
    mailbox_via_exchange_vdir: bool

    def supports(self, version: str) -> bool:
        return version in self.versions


PERSONAS: dict[str, Persona] = {
    p.name: p
    for p in (
        Persona("Exchange 2003 SP2", "6.5.7638.1", ("1.0", "2.0", "2.1", "2.5"), _COMMANDS_2003,
                default_policy_enforced=False, mailbox_via_exchange_vdir=True),
        Persona("Exchange 2007 SP1", "8.1.240.6", ("2.0", "2.1", "2.5", "12.0", "12.1"), _COMMANDS_2007,
                default_policy_enforced=False, mailbox_via_exchange_vdir=False),
        Persona("Exchange 2010 SP1", "14.1.218.15",
                ("2.0", "2.1", "2.5", "12.0", "12.1", "14.0", "14.1"), _COMMANDS_2007,
                default_policy_enforced=True, mailbox_via_exchange_vdir=False),
        Persona("Exchange 2016", "15.1.225.42",
                ("2.0", "2.1", "2.5", "12.0", "12.1", "14.0", "14.1", "16.0", "16.1"), _COMMANDS_2016,
                default_policy_enforced=True, mailbox_via_exchange_vdir=False),
    )
}
