"""The query value of an EAS POST: plain text or base64 (MS-ASHTTP 2.2.1.1.1).

The base64 form packs the URI parameters *and* three headers
(MS-ASProtocolVersion, X-MS-PolicyKey, the locale) into bytes, so a device
that uses it sends neither header (MS-ASHTTP 2.2.1.1.2.6, 2.2.1.1.2.8).
"""
from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from urllib.parse import quote

from .versions import version_tuple

#: MS-ASHTTP 2.2.1.1.1.1.2: command codes of the base64 query.
COMMAND_CODES: dict[str, int] = {
    "Sync": 0, "SendMail": 1, "SmartForward": 2, "SmartReply": 3, "GetAttachment": 4,
    "FolderSync": 9, "FolderCreate": 10, "FolderDelete": 11, "FolderUpdate": 12,
    "MoveItems": 13, "GetItemEstimate": 14, "MeetingResponse": 15, "Search": 16,
    "Settings": 17, "Ping": 18, "ItemOperations": 19, "Provision": 20,
    "ResolveRecipients": 21, "ValidateCert": 22, "Find": 23,
}

#: MS-ASHTTP 2.2.1.1.1.1.3: tags of the encoded command parameters.
PARAMETER_TAGS: dict[str, int] = {
    "AttachmentName": 0, "CollectionId": 1, "ItemId": 3, "LongId": 4,
    "Occurrence": 6, "Options": 7, "User": 8,
}

#: Bits of the single-byte Options parameter (MS-ASHTTP 2.2.1.1.1.1.3).
OPTION_SAVE_IN_SENT = 0x01
OPTION_ACCEPT_MULTIPART = 0x02


def plain_query(command: str, user: str, device_id: str, device_type: str,
                parameters: Mapping[str, str] | None = None) -> str:
    """``Cmd=..&User=..&DeviceId=..&DeviceType=..[&name=value]`` in the ABNF's order (2.2.1.1.1.2)."""
    pairs = [("Cmd", command), ("User", user), ("DeviceId", device_id), ("DeviceType", device_type)]
    pairs += list((parameters or {}).items())
    return "&".join(f"{name}={quote(value, safe='')}" for name, value in pairs)


def base64_query(protocol_version: str, command: str, device_id: str, device_type: str, *,
                 locale: int = 0x0409, policy_key: int | None = None,
                 parameters: Mapping[str, str | bytes] | None = None) -> str:
    """The base64-encoded query value, field by field as MS-ASHTTP 2.2.1.1.1.1 lays it out.

    Multi-byte integers are little-endian, as the spec's example shows for the
    locale (``09 04`` for 0x0409). A policy key of None or 0 is left out
    (length 0): the device has none yet.
    """
    version = version_tuple(protocol_version)
    if version < (12, 1):
        raise ValueError(f"protocol version {protocol_version} MUST use the plain text query "
                         "(MS-ASHTTP 2.2.1.1.1.1)")
    if command not in COMMAND_CODES:
        raise ValueError(f"{command} has no base64 command code (MS-ASHTTP 2.2.1.1.1.1.2)")
    out = bytearray((version[0] * 10 + version[1], COMMAND_CODES[command]))
    out += struct.pack("<H", locale)
    out += _field(device_id.encode("utf-8"), "Device ID", minimum=1)
    out += _field(struct.pack("<I", policy_key) if policy_key else b"", "Policy key")
    out += _field(device_type.encode("utf-8"), "Device type")
    for name, value in (parameters or {}).items():
        if name not in PARAMETER_TAGS:
            raise ValueError(f"{name} is not a base64 command parameter (MS-ASHTTP 2.2.1.1.1.1.3)")
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        out.append(PARAMETER_TAGS[name])
        out += _field(raw, name)
    return base64.b64encode(bytes(out)).decode("ascii")


def _field(raw: bytes, what: str, minimum: int = 0) -> bytes:
    """A length byte and the bytes it counts."""
    if not minimum <= len(raw) <= 255:
        raise ValueError(f"{what} must be {minimum}-255 bytes long, not {len(raw)}")
    return bytes((len(raw),)) + raw
