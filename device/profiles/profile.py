"""A device profile: what one kind of phone is, read from its data file.

Everything that tells one phone from another is data in ``<name>.ini`` beside
this module: the User-Agent and DeviceType it sends, the EAS versions it
speaks, whether it runs Autodiscover, provisions and pushes, how it judges
a server certificate and the words it shows its user. Code only turns the
data into the device library's settings, so a new profile is a new file.

Sections of a profile file (see ``wm5.ini`` for a commented example):

``[device]``     name, user_agent, device_type, device_id_prefix, model, os,
                 versions, auth (Basic|NTLM), autodiscover, provision,
                 sync (folder types)
``[tls]``        wildcard_names, post_handshake_auth, checks_off_value,
                 checks_off_when, checks_off_note
``[direct push]`` ping, heartbeat
``[messages]``   support_code and the texts in :data:`MESSAGE_KINDS`
"""
from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

from device.state import FolderType

PROFILE_DIR = Path(__file__).resolve().parent

#: What a device tells its user, one text per kind of failure (see ``messages.py``).
MESSAGE_KINDS = ("dns", "connect", "certificate", "tls", "unauthorized", "http", "status", "protocol",
                 "autodiscover")

_FOLDER_NAMES = {"inbox": FolderType.INBOX, "calendar": FolderType.CALENDAR, "contacts": FolderType.CONTACTS,
                 "tasks": FolderType.TASKS, "notes": FolderType.NOTES, "sent items": FolderType.SENT_ITEMS,
                 "deleted items": FolderType.DELETED_ITEMS, "drafts": FolderType.DRAFTS}


class ProfileError(Exception):
    """A profile that does not exist or whose data file is wrong; names the file."""


@dataclass(frozen=True)
class CertificateSwitch:
    """The device registry value that switches off every certificate check.

    ``value`` is ``KEY\\Name``; ``{partner}`` in the key stands for the
    partnership's ID (Windows Mobile keeps one key per partnership).
    ``off_when`` is the data that means "no checks"; the other state is
    what a fresh device.ini holds.
    """

    value: str
    off_when: int
    note: str

    @property
    def key(self) -> str:
        return self.value.rsplit("\\", 1)[0]

    @property
    def name(self) -> str:
        return self.value.rsplit("\\", 1)[1]

    @property
    def default(self) -> int:
        return 0 if self.off_when else 1


@dataclass(frozen=True)
class DeviceProfile:
    """One kind of phone, as its data file describes it."""

    name: str
    display_name: str
    user_agent: str
    device_type: str
    device_id_prefix: str
    model: str
    os: str
    versions: tuple[str, ...]
    auth: str
    autodiscover: bool
    provision: bool
    sync_folders: tuple[FolderType, ...]
    wildcard_names: bool
    post_handshake_auth: bool
    certificate_switch: CertificateSwitch | None
    ping: bool
    heartbeat: int
    support_code: str
    messages: dict[str, str] = field(compare=False)
    source: Path = field(compare=False)


def profile_names() -> list[str]:
    """Every profile shipped beside this module, by file name."""
    return sorted(path.stem for path in PROFILE_DIR.glob("*.ini"))


def load_profile(name: str) -> DeviceProfile:
    """The profile ``name`` (``wm5``, ``ios``...); :class:`ProfileError` names the choices."""
    path = PROFILE_DIR / f"{name}.ini"
    if not path.is_file():
        raise ProfileError(f"no device profile {name!r}; profiles: {', '.join(profile_names())}")
    return read_profile(path)


def read_profile(path: Path) -> DeviceProfile:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
        device, tls, push, messages = (parser[s] for s in ("device", "tls", "direct push", "messages"))
        switch = None
        if tls.get("checks_off_value"):
            switch = CertificateSwitch(tls["checks_off_value"], tls.getint("checks_off_when"),
                                       " ".join(tls.get("checks_off_note", "").split()))
        missing = [kind for kind in MESSAGE_KINDS if kind not in messages]
        if missing:
            raise ProfileError(f"{path}: [messages] lacks {', '.join(missing)}")
        auth = device.get("auth", "Basic")
        if auth not in ("Basic", "NTLM"):
            raise ProfileError(f"{path}: auth must be Basic or NTLM, not {auth!r}")
        return DeviceProfile(
            name=path.stem, display_name=device["name"], user_agent=device["user_agent"],
            device_type=device["device_type"], device_id_prefix=device.get("device_id_prefix", ""),
            model=device["model"], os=device["os"], versions=_list(device["versions"]),
            auth=auth, autodiscover=device.getboolean("autodiscover"), provision=device.getboolean("provision"),
            sync_folders=folder_types(device["sync"], path),
            wildcard_names=tls.getboolean("wildcard_names"), post_handshake_auth=tls.getboolean("post_handshake_auth"),
            certificate_switch=switch, ping=push.getboolean("ping"), heartbeat=push.getint("heartbeat"),
            support_code=messages["support_code"],
            messages={kind: " ".join(messages[kind].split()) for kind in MESSAGE_KINDS}, source=path)
    except KeyError as exc:
        raise ProfileError(f"{path}: missing {exc}") from None
    except (configparser.Error, ValueError) as exc:
        raise ProfileError(f"{path}: {exc}") from None


def _list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def folder_types(text: str, where: object = "sync") -> tuple[FolderType, ...]:
    """``"Inbox, Calendar"`` to folder types, as a device's sync options name them."""
    try:
        return tuple(_FOLDER_NAMES[name.casefold()] for name in _list(text))
    except KeyError as exc:
        raise ProfileError(f"{where}: unknown folder {exc}; known: {', '.join(_FOLDER_NAMES)}") from None
