"""The MS-ASHTTP request line: plain text query, base64-encoded query, and the EAS headers.

Both query forms end up as one :class:`EasQuery`. The base64 form
(MS-ASHTTP 2.2.1.1.1.1) carries the protocol version and policy key inside
the query and overrides the headers; the plain form (2.2.1.1.1.2) takes them
from ``MS-ASProtocolVersion`` and ``X-MS-PolicyKey``.
"""
from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from plugins.activesync.errors import CommonStatus, EasHttpError

# MS-ASHTTP 2.2.1.1.1.1.2: command codes of the base64 form.
COMMAND_CODES: dict[int, str] = {
    0: "Sync", 1: "SendMail", 2: "SmartForward", 3: "SmartReply", 4: "GetAttachment",
    9: "FolderSync", 10: "FolderCreate", 11: "FolderDelete", 12: "FolderUpdate",
    13: "MoveItems", 14: "GetItemEstimate", 15: "MeetingResponse", 16: "Search",
    17: "Settings", 18: "Ping", 19: "ItemOperations", 20: "Provision",
    21: "ResolveRecipients", 22: "ValidateCert", 23: "Find",
}

# MS-ASHTTP 2.2.1.1.1.1.3: command parameter tags of the base64 form.
PARAMETER_TAGS: dict[int, str] = {
    0: "AttachmentName", 1: "CollectionId", 3: "ItemId", 4: "LongId",
    6: "Occurrence", 7: "Options", 8: "User",
}
OPTION_SAVE_IN_SENT = 0x01
OPTION_ACCEPT_MULTIPART = 0x02

# The original EAS client specification: "any string of letters and digits
# up to 32 characters"; a base64 query may carry a 16-byte GUID instead,
# which is shown as 32 hex digits.
_DEVICE_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_DEVICE_TYPE = re.compile(r"^[A-Za-z0-9]{1,32}$")
# A plain query names its parameters; base64 text has no "&" and at most trailing "=".
_PLAIN = re.compile(r"(^|&)[A-Za-z]+=|&")


@dataclass
class EasQuery:
    """What one EAS request says about itself, whichever query form it used."""

    command: str
    user: str
    device_id: str
    device_type: str
    protocol_version: str | None
    policy_key: int | None  # None: the device sent no key at all
    parameters: dict[str, str] = field(default_factory=dict)
    locale: int | None = None
    accept_multipart: bool = False
    save_in_sent: bool = False
    encoded: bool = False


def parse_query(query_string: str, headers) -> EasQuery:
    """Read the query and the EAS headers of a POST.

    :param headers: a mapping with case-insensitive header names (webob's).
    :raises EasHttpError: 400 for a query that is neither form.
    """
    if not query_string:
        raise EasHttpError(400, "the request has no query")
    if _PLAIN.search(query_string):
        query = _plain(query_string, headers)
    else:
        query = _encoded(query_string, headers)
    return query


def check_device(query: EasQuery) -> None:
    """Refuse a missing or malformed DeviceId (common status 108, HTTP 400 before 14.0) or DeviceType."""
    if not _DEVICE_ID.match(query.device_id):
        raise CommonStatus(108, f"DeviceId {query.device_id!r} is missing or not 1-32 letters and digits")
    if not _DEVICE_TYPE.match(query.device_type):
        raise EasHttpError(400, f"DeviceType {query.device_type!r} is missing or not 1-32 letters and digits")


def _plain(query_string: str, headers) -> EasQuery:
    """MS-ASHTTP 2.2.1.1.1.2: Cmd, User, DeviceId, DeviceType and command parameters."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        params[name.casefold()] = value
    command = params.pop("cmd", "")
    if not command:
        raise EasHttpError(400, "the query names no Cmd")
    return EasQuery(
        command=command,
        user=params.pop("user", ""),
        device_id=params.pop("deviceid", ""),
        device_type=params.pop("devicetype", ""),
        protocol_version=headers.get("MS-ASProtocolVersion"),
        policy_key=_policy_key_header(headers.get("X-MS-PolicyKey")),
        parameters={_CANONICAL.get(k, k): v for k, v in params.items()},
        accept_multipart=headers.get("MS-ASAcceptMultiPart", "").strip().upper() == "T",
        save_in_sent=params.get("saveinsent", "F").upper() == "T",
    )


_CANONICAL = {name.casefold(): name for name in (*PARAMETER_TAGS.values(), "SaveInSent")}


def _policy_key_header(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        key = int(text.strip())
    except ValueError:
        raise EasHttpError(400, f"X-MS-PolicyKey {text!r} is not a number") from None
    if not 0 <= key <= 0xFFFFFFFF:
        raise EasHttpError(400, f"X-MS-PolicyKey {text!r} is not a 32-bit unsigned number")
    return key


def _encoded(query_string: str, headers) -> EasQuery:
    """MS-ASHTTP 2.2.1.1.1.1: a base64 byte sequence, fields in a fixed order."""
    text = query_string.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise EasHttpError(400, "the query is neither plain text nor base64") from None
    reader = _Reader(raw)
    version_code = reader.byte("protocol version")
    command_code = reader.byte("command code")
    locale = struct.unpack("<H", reader.take(2, "locale"))[0]
    device_id = _device_id(reader.take(reader.byte("device ID length"), "device ID"))
    key_length = reader.byte("policy key length")
    if key_length not in (0, 4):
        raise EasHttpError(400, f"policy key length {key_length}; MS-ASHTTP allows 0 or 4")
    policy_key = struct.unpack("<I", reader.take(4, "policy key"))[0] if key_length else None
    device_type = _ascii(reader.take(reader.byte("device type length"), "device type"))
    parameters: dict[str, str] = {}
    options = 0
    while not reader.done:
        tag = reader.byte("parameter tag")
        value = reader.take(reader.byte("parameter length"), "parameter value")
        if tag == 7:
            options = value[0] if value else 0
        elif tag in PARAMETER_TAGS:
            parameters[PARAMETER_TAGS[tag]] = value.decode("utf-8", "replace")
        else:
            raise EasHttpError(400, f"unknown command parameter tag {tag}")
    if command_code not in COMMAND_CODES:
        raise EasHttpError(501, f"command code {command_code} is not an EAS command")
    return EasQuery(
        command=COMMAND_CODES[command_code],
        user=parameters.pop("User", ""),
        device_id=device_id,
        device_type=device_type,
        protocol_version=f"{version_code // 10}.{version_code % 10}",
        policy_key=policy_key,
        parameters=parameters,
        locale=locale,
        accept_multipart=bool(options & OPTION_ACCEPT_MULTIPART),
        save_in_sent=bool(options & OPTION_SAVE_IN_SENT),
        encoded=True,
    )


def _device_id(raw: bytes) -> str:
    """A device ID is text, or a GUID sent as 16 raw bytes (shown as hex)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if text.isalnum():
        return text
    return raw.hex().upper()


def _ascii(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise EasHttpError(400, "the device type is not ASCII") from None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def take(self, count: int, what: str) -> bytes:
        if self.pos + count > len(self.data):
            raise EasHttpError(400, f"the base64 query ends inside the {what}")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk


def encode_query(query: EasQuery) -> str:
    """The base64 form of ``query`` (clients build it; tests and the bench use this)."""
    major, _, minor = (query.protocol_version or "14.1").partition(".")
    code = {name: number for number, name in COMMAND_CODES.items()}[query.command]
    device_id = query.device_id.encode("ascii")
    out = bytearray((int(major) * 10 + int(minor), code))
    out += struct.pack("<H", query.locale or 0x0409)
    out += bytes((len(device_id),)) + device_id
    out += b"\x04" + struct.pack("<I", query.policy_key) if query.policy_key is not None else b"\x00"
    out += bytes((len(query.device_type),)) + query.device_type.encode("ascii")
    tags = {name: number for number, name in PARAMETER_TAGS.items()}
    for name, value in {**query.parameters, **({"User": query.user} if query.user else {})}.items():
        data = value.encode("utf-8")
        out += bytes((tags[name], len(data))) + data
    options = (OPTION_ACCEPT_MULTIPART if query.accept_multipart else 0) | (
        OPTION_SAVE_IN_SENT if query.save_in_sent else 0)
    if options:
        out += bytes((7, 1, options))
    return base64.b64encode(bytes(out)).decode("ascii")
