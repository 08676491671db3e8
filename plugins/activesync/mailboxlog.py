"""The per-user mailbox log: each EAS request and response, decoded to XML.

Off by default, switched per user from the CLI (``activesync mailboxlog USER
on|off|show``), as Set-CASMailbox -ActiveSyncDebugLogging did. Entries go to
``<data>/ActiveSync/MailboxLog/<user>.log``; the Authorization header is
masked and so are passwords inside bodies (Settings DevicePassword, Search
and ItemOperations credentials), because a log an administrator mails to
support must not carry them.
"""
from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

from plugins.activesync.wbxml import WbxmlError, to_xml

_MASKED_ELEMENTS = re.compile(r"(<(?:\w+:)?Password>)(.*?)(</(?:\w+:)?Password>)", re.S)
_MAX_ENTRIES_BYTES = 4 * 1024 * 1024  # per user; older half dropped past this
_lock = threading.Lock()


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "ActiveSync" / "MailboxLog"


def _key(user: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", user.casefold())


def _settings_path(data_dir: Path) -> Path:
    return folder(data_dir) / "enabled.json"


def enabled_users(data_dir: Path) -> set[str]:
    try:
        return set(json.loads(_settings_path(data_dir).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return set()


def set_enabled(data_dir: Path, user: str, on: bool) -> None:
    with _lock:
        users = enabled_users(data_dir)
        users = users | {_key(user)} if on else users - {_key(user)}
        path = _settings_path(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sorted(users)), encoding="utf-8")


def is_enabled(data_dir: Path, user: str) -> bool:
    return _key(user) in enabled_users(data_dir)


def log_path(data_dir: Path, user: str) -> Path:
    return folder(data_dir) / f"{_key(user)}.log"


def _body_text(body: bytes) -> str:
    if not body:
        return "(empty)"
    try:
        return _MASKED_ELEMENTS.sub(r"\1********\3", to_xml(body))
    except WbxmlError as exc:
        return f"(not WBXML: {exc}; {len(body)} bytes)"


def _headers_text(headers: list[tuple[str, str]]) -> str:
    lines = []
    for name, value in headers:
        if name.casefold() in ("authorization", "cookie"):
            value = value.split(" ", 1)[0] + " ********"
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def record(data_dir: Path, user: str, request_line: str, request_headers: list[tuple[str, str]],
           request_body: bytes, status: str, response_headers: list[tuple[str, str]],
           response_body: bytes) -> None:
    """Append one exchange to the user's log (callers check :func:`is_enabled` first)."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    entry = (
        f"----- {stamp} -----\n"
        f"RequestHeader:\n{request_line}\n{_headers_text(request_headers)}\n\n"
        f"RequestBody:\n{_body_text(request_body)}\n\n"
        f"ResponseHeader:\nHTTP/1.1 {status}\n{_headers_text(response_headers)}\n\n"
        f"ResponseBody:\n{_body_text(response_body)}\n\n"
    )
    path = log_path(data_dir, user)
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(entry)
        if path.stat().st_size > _MAX_ENTRIES_BYTES:
            text = path.read_text(encoding="utf-8")
            path.write_text(text[len(text) // 2:], encoding="utf-8")
