"""Device partnerships: one per user and DeviceId, kept in the user's mailbox.

As on Exchange, a partnership lives in the hidden ``Microsoft-Server-ActiveSync``
folder of the mailbox, one subfolder per device (``<DeviceType>/<DeviceId>``),
next to that device's sync state; a mailbox-wide index names the devices so
the CLI can list them (Get-ActiveSyncDevice). Everything goes through the
request's :class:`~plugins.activesync.backend.MailboxAccess`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from plugins.activesync.backend import MailboxAccess

ROOT = "Microsoft-Server-ActiveSync"
INDEX = "DeviceIndex"
RECORD = "Partnership"

# DeviceWipeStatus as Get-ActiveSyncDevice shows it.
WIPE_NONE = ""
WIPE_PENDING = "PendingWipe"
WIPE_SUCCEEDED = "WipeSuccessful"
WIPE_FAILED = "WipeFailed"

# DevicePolicyApplicationStatus as Get-ActiveSyncDevice shows it.
POLICY_UNKNOWN = "Unknown"
POLICY_APPLIED = "AppliedInFull"
POLICY_PARTIAL = "PartiallyApplied"
POLICY_NOT_APPLIED = "NotApplied"
POLICY_EXTERNAL = "ExternallyManaged"

# Saving a partnership is a store write; "last sync" is refreshed at most this often.
LAST_SYNC_RESOLUTION_S = 60


def now() -> datetime:
    return datetime.now(timezone.utc)


def device_folder(device_type: str, device_id: str) -> str:
    """Where a device's state lives, as Exchange 2003 laid it out."""
    return f"{ROOT}/{device_type}/{device_id}"


@dataclass
class Partnership:
    user: str
    device_id: str
    device_type: str
    user_agent: str = ""
    protocol_version: str = ""
    first_sync: str = ""
    last_sync: str = ""
    last_command: str = ""
    policy_key: int = 0  # the acknowledged (final) key
    pending_policy_key: int = 0  # handed out in phase 1, waiting for the acknowledgement
    policy_fingerprint: str = ""
    policy_status: str = POLICY_UNKNOWN
    provisioned_at: str = ""
    wipe_status: str = WIPE_NONE
    wipe_requested: str = ""
    wipe_acknowledged: str = ""
    states: list[str] = field(default_factory=list)  # names of this device's sync state blobs
    # What the device told Settings DeviceInformation (MS-ASCMD 2.2.3.55), as
    # Get-ActiveSyncDevice shows them (DeviceModel, DeviceImei, DeviceOS, ...).
    device_model: str = ""
    device_imei: str = ""
    device_friendly_name: str = ""
    device_os: str = ""
    device_os_language: str = ""
    device_phone_number: str = ""
    device_mobile_operator: str = ""
    device_user_agent: str = ""
    device_outbound_sms: bool = False
    # Settings DevicePassword (MS-ASCMD 2.2.3.54): the recovery password the user may look up.
    recovery_password: str = ""

    @property
    def folder(self) -> str:
        return device_folder(self.device_type, self.device_id)

    def to_json(self) -> bytes:
        values = {k: v for k, v in asdict(self).items() if k not in _UNSET_IF_EMPTY or v}
        return json.dumps(values, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Partnership:
        values = json.loads(data)
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


# Settings-reported fields are left out of the record until a device reports
# them: most devices never do, and every byte of the record counts toward quota.
_UNSET_IF_EMPTY = frozenset({
    "device_model", "device_imei", "device_friendly_name", "device_os", "device_os_language",
    "device_phone_number", "device_mobile_operator", "device_user_agent", "device_outbound_sms",
    "recovery_password",
})


class Partnerships:
    """The partnerships of one mailbox."""

    def __init__(self, backend: MailboxAccess, user: str) -> None:
        self.backend = backend
        self.user = user

    def index(self) -> list[tuple[str, str]]:
        raw = self.backend.get_state(ROOT, INDEX)
        return [tuple(pair) for pair in json.loads(raw)] if raw else []

    def get(self, device_type: str, device_id: str) -> Partnership | None:
        raw = self.backend.get_state(device_folder(device_type, device_id), RECORD)
        return Partnership.from_json(raw) if raw else None

    def find(self, device_id: str) -> Partnership | None:
        """By DeviceId alone, case-insensitively (what an administrator types)."""
        for device_type, known_id in self.index():
            if known_id.casefold() == device_id.casefold():
                return self.get(device_type, known_id)
        return None

    def all(self) -> list[Partnership]:
        found = (self.get(device_type, device_id) for device_type, device_id in self.index())
        return [p for p in found if p is not None]

    def save(self, partnership: Partnership) -> None:
        self.backend.put_state(partnership.folder, RECORD, partnership.to_json())
        entry = (partnership.device_type, partnership.device_id)
        index = self.index()
        if entry not in index:
            self.backend.put_state(ROOT, INDEX, json.dumps([*index, entry]).encode())

    def touch(self, device_type: str, device_id: str, *, user_agent: str, protocol_version: str,
              command: str) -> tuple[Partnership, bool]:
        """The device's partnership, created on its first request; ``last_sync`` refreshed.

        :return: the partnership and whether it still needs saving.
        """
        partnership = self.get(device_type, device_id)
        moment = now()
        stamp = moment.isoformat(timespec="seconds")
        if partnership is None:
            partnership = Partnership(self.user, device_id, device_type, first_sync=stamp)
            dirty = True
        else:
            last = datetime.fromisoformat(partnership.last_sync) if partnership.last_sync else None
            dirty = last is None or (moment - last).total_seconds() >= LAST_SYNC_RESOLUTION_S
            dirty = dirty or partnership.user_agent != user_agent or partnership.protocol_version != protocol_version
        if dirty:
            partnership.last_sync = stamp
            partnership.last_command = command
        partnership.user_agent = user_agent
        partnership.protocol_version = protocol_version
        return partnership, dirty

    def remove(self, partnership: Partnership) -> None:
        """Remove-ActiveSyncDevice: the record, the device's state blobs and its index entry."""
        for name in [RECORD, *partnership.states]:
            self.backend.delete_state(partnership.folder, name)
        index = [e for e in self.index() if e != (partnership.device_type, partnership.device_id)]
        self.backend.put_state(ROOT, INDEX, json.dumps(index).encode())
