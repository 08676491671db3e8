"""What a device remembers between sessions, and its JSON file.

A real phone keeps its partnership state: DeviceId, policy key, the folder
hierarchy with its FolderSync key, one Sync key per collection. Keeping the
same here lets a "device" be resumed across lab runs, exactly like a phone
that was switched off. Passwords are not state: they are given again when a
session is opened (the lab never stores plaintext passwords at rest).
"""
from __future__ import annotations

import enum
import json
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FORMAT = 1


class FolderType(enum.IntEnum):
    """FolderHierarchy:Type values (MS-ASCMD 2.2.3.186.3)."""

    USER_GENERIC = 1
    INBOX = 2
    DRAFTS = 3
    DELETED_ITEMS = 4
    SENT_ITEMS = 5
    OUTBOX = 6
    TASKS = 7
    CALENDAR = 8
    CONTACTS = 9
    NOTES = 10
    JOURNAL = 11
    USER_MAIL = 12
    USER_CALENDAR = 13
    USER_CONTACTS = 14
    USER_TASKS = 15
    USER_JOURNAL = 16
    USER_NOTES = 17
    UNKNOWN = 18
    RECIPIENT_CACHE = 19


_CLASS_BY_TYPE = {
    **dict.fromkeys((1, 2, 3, 4, 5, 6, 12), "Email"),
    **dict.fromkeys((8, 13), "Calendar"),
    **dict.fromkeys((9, 14, 19), "Contacts"),
    **dict.fromkeys((7, 15), "Tasks"),
    **dict.fromkeys((10, 17), "Notes"),
}


@dataclass
class Folder:
    """One folder of the hierarchy, as FolderSync reported it."""

    server_id: str
    parent_id: str
    display_name: str
    type: int

    @property
    def item_class(self) -> str | None:
        """The AirSync Class of the folder's items (Email, Calendar, Contacts, Tasks, Notes)."""
        return _CLASS_BY_TYPE.get(self.type)


@dataclass
class DeviceInformation:
    """Settings:DeviceInformation (MS-ASCMD 2.2.3.51); the user agent comes from the state."""

    model: str = "easlab device"
    imei: str | None = None
    friendly_name: str | None = None
    os: str | None = None
    os_language: str | None = None
    phone_number: str | None = None
    enable_outbound_sms: bool | None = None
    mobile_operator: str | None = None


@dataclass
class DeviceState:
    """The partnership state of one device with one mailbox."""

    url: str
    user: str
    device_id: str
    device_type: str = "SmartPhone"
    user_agent: str = "easlab-device/1.0"
    protocol_version: str | None = None
    policy_key: str = "0"
    folder_sync_key: str = "0"
    folders: dict[str, Folder] = field(default_factory=dict)
    sync_keys: dict[str, str] = field(default_factory=dict)
    device_info: DeviceInformation = field(default_factory=DeviceInformation)
    server_versions: list[str] = field(default_factory=list)
    server_commands: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, url: str, user: str, **fields) -> DeviceState:
        """A factory-fresh device with a random DeviceId (MS-ASHTTP 2.2.1.1.1.2.3: 1-32 letters/digits)."""
        fields.setdefault("device_id", uuid.uuid4().hex.upper())
        return cls(url=url, user=user, **fields)

    def sync_key(self, collection_id: str) -> str:
        return self.sync_keys.get(collection_id, "0")

    def folders_of_type(self, *types: int) -> list[Folder]:
        return [f for f in self.folders.values() if f.type in types]

    def wipe(self) -> None:
        """What a remote wipe leaves of the partnership: identity only (MS-ASPROV 3.1.5.1.2.2)."""
        self.policy_key = "0"
        self.folder_sync_key = "0"
        self.folders.clear()
        self.sync_keys.clear()

    def to_dict(self) -> dict:
        return {"format": STATE_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> DeviceState:
        data = dict(data)
        if data.pop("format", None) != STATE_FORMAT:
            raise ValueError(f"device state is not format {STATE_FORMAT}")
        data["folders"] = {sid: Folder(**f) for sid, f in data.get("folders", {}).items()}
        data["device_info"] = DeviceInformation(**data.get("device_info", {}))
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write atomically, so a crash never leaves half a partnership behind."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self.to_dict(), out, indent=2, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | Path) -> DeviceState:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
