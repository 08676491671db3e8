r"""Read and edit ``registry.ini``: Windows ``.reg`` syntax, with file:line kept.

``registry.ini`` is a ``.reg`` file, so a snippet exported by regedit or pasted
from a Microsoft KB article works as it is, and it also holds IIS metabase keys
such as ``[/LM/W3SVC/1/ROOT/Exchange]``. This module knows only the syntax;
``host.metabase`` decides what a property means and which type it must have.

What is read::

    Windows Registry Editor Version 5.00      ; or REGEDIT4; optional
    [HKEY_LOCAL_MACHINE\SOFTWARE\Lab]         ; HKLM, HKCU, HKCR, HKU, HKCC too
    "Text"="C:\\Inetpub \"quoted\""           ; REG_SZ; escapes are \\ and \"
    @="default value"                         ; the value named ""
    "Flags"=dword:0000000a                    ; REG_DWORD, 1 to 8 hex digits
    "Blob"=hex:01,02,ff                       ; REG_BINARY
    "Path"=hex(2):25,00,54,00,00,00           ; hex(N): type N; hex(1), hex(2)
                                              ; and hex(7) are UTF-16LE
    "Old"=-                                   ; delete a value
    [-HKEY_LOCAL_MACHINE\SOFTWARE\Old]        ; delete a key and its subkeys
    [/LM/W3SVC/1/ROOT/Exchange]               ; a metabase key

Long ``hex`` lists continue onto the next line after a trailing ``\``, as
regedit writes them. Our own extension, because ``hex(7)`` is unreadable for
the multi-strings that bindings and script maps need, is the ``multi:`` form:
quoted strings with the same escapes, separated by commas, also continued
with a trailing ``\``; ``multi:`` alone is the empty list::

    "ServerBindings"=multi:"127.0.0.1:8080:",\
      "127.0.0.1:8081:"

Key paths and value names compare case-insensitively and keep the spelling
they were first written with. A value set twice keeps the last; a key written
in several sections merges them in file order. A key exists only where a
section names it: ``[/LM/W3SVC/1/ROOT]`` does not imply ``[/LM/W3SVC/1]``.
The signature line is accepted on any line, so a KB snippet pasted with its
header into the middle of an existing file still reads.

A bad line becomes a :class:`RegSyntaxError` in :attr:`Registry.errors` and
reading goes on, so a trainee sees every mistake at once. ``set_value`` and
``delete_value`` edit the text in place, keeping comments, blank lines, order
and line endings, for ``adsutil set``.
"""
from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Union

RegData = Union[str, int, bytes, list[str]]

SIGNATURES = ("windows registry editor version 5.00", "regedit4")
_HIVES = {
    "HKEY_LOCAL_MACHINE": "HKEY_LOCAL_MACHINE",
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKEY_CURRENT_USER": "HKEY_CURRENT_USER",
    "HKCU": "HKEY_CURRENT_USER",
    "HKEY_CLASSES_ROOT": "HKEY_CLASSES_ROOT",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKEY_USERS": "HKEY_USERS",
    "HKU": "HKEY_USERS",
    "HKEY_CURRENT_CONFIG": "HKEY_CURRENT_CONFIG",
    "HKCC": "HKEY_CURRENT_CONFIG",
}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HEADER = re.compile(r"\[(.*)\][ \t]*(?:;.*)?")
# Only hex and multi: data may continue onto the next line; a stray "\" after
# a string must stay an error rather than swallow the next value.
_CONTINUABLE = re.compile(r'(?:@|"(?:[^"\\]|\\.)*")[ \t]*=[ \t]*(?:hex|multi:)', re.I)
_HEX_TYPE = re.compile(r"hex(?:\(([^)]*)\))?:", re.I)
_HEX_BYTE = re.compile(r"[0-9a-fA-F]{1,2}")
_DWORD = re.compile(r"[0-9a-fA-F]{1,8}")
_WRAP_COLUMNS = 80  # regedit wraps hex lists so no line passes column 80


@dataclass(frozen=True)
class Location:
    """Where a key or value was written, for messages a trainee can follow."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class RegType(enum.Enum):
    """Registry value types; the values are winnt.h's numbers, as in ``hex(N)``."""

    REG_NONE = 0
    REG_SZ = 1
    REG_EXPAND_SZ = 2
    REG_BINARY = 3
    REG_DWORD = 4
    REG_MULTI_SZ = 7
    REG_QWORD = 11


@dataclass
class RegValue:
    """One typed value; ``raw`` is the text after ``=`` so messages can quote it."""

    name: str
    type: RegType
    data: RegData
    location: Location
    raw: str


@dataclass
class RegKey:
    """A key with its values, keyed by ``name.casefold()`` in file order."""

    path: str
    location: Location
    values: dict[str, RegValue] = field(default_factory=dict)


class RegSyntaxError(Exception):
    """A line that is not valid ``.reg`` syntax, named by file:line, key and value."""

    def __init__(
        self, location: Location, key: str | None, value_name: str | None, message: str
    ) -> None:
        self.location = location
        self.key = key
        self.value_name = value_name
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [f"{self.location}:"]
        if self.key is not None:
            parts.append(f"[{self.key}]")
        if self.value_name is not None:
            parts.append(f"{self.value_name or '@'}:")
        parts.append(self.message)
        return " ".join(parts)


# --- key paths ------------------------------------------------------------


def normalize_key_path(path: str) -> str:
    r"""Return the display form of a key path, or raise ValueError saying why.

    Registry paths get their hive's full name (``HKLM`` -> ``HKEY_LOCAL_MACHINE``);
    metabase paths keep their spelling. Trailing separators are dropped.
    """
    text = path.strip(" \t")
    if not text:
        raise ValueError("empty key path; expected HKEY_LOCAL_MACHINE\\... or /LM/...")
    if text.startswith("/"):
        return _normalize_metabase_path(text)
    if text.startswith("\\"):
        raise ValueError(f"key path {path!r} starts with '\\'; expected a hive name first")
    hive, _sep, rest = text.partition("\\")
    full = _HIVES.get(hive.upper())
    if full is None:
        raise ValueError(
            f"unknown hive {hive!r} in {path!r}; expected HKEY_LOCAL_MACHINE (HKLM),"
            " HKEY_CURRENT_USER (HKCU), HKEY_CLASSES_ROOT (HKCR), HKEY_USERS (HKU),"
            " HKEY_CURRENT_CONFIG (HKCC) or a metabase path starting with /LM"
        )
    rest = rest.rstrip("\\")
    if rest.startswith("\\") or "\\\\" in rest:
        raise ValueError(f"key path {path!r} has an empty key name between separators")
    return f"{full}\\{rest}" if rest else full


def _normalize_metabase_path(text: str) -> str:
    trimmed = text.rstrip("/")
    if "\\" in trimmed:
        raise ValueError(f"metabase path {text!r} contains '\\'; metabase paths use '/'")
    if "//" in trimmed:
        raise ValueError(f"metabase path {text!r} has an empty key name between separators")
    if trimmed.upper().split("/")[1:2] != ["LM"]:
        raise ValueError(f"metabase path {text!r} must start with /LM")
    return trimmed


def key_id(path: str) -> str:
    """The case-insensitive identity of a key path, used as the dictionary key."""
    return normalize_key_path(path).casefold()


def _is_within(child_id: str, parent_id: str) -> bool:
    """True if ``child_id`` is ``parent_id`` or below it (both from key_id)."""
    sep = "/" if parent_id.startswith("/") else "\\"
    return child_id == parent_id or child_id.startswith(parent_id + sep)


# --- lexing: physical lines to statements --------------------------------


class _Bad(Exception):
    """A syntax problem inside one statement; becomes a RegSyntaxError."""


@dataclass
class _Statement:
    """One logical line: a header, a value (maybe continued) or something else."""

    kind: str  # "header", "value" or "other"
    start: int  # 0-based index of its first physical line
    end: int  # index after its last physical line
    path: str | None = None  # header: normalised path (raw text if bad)
    deleting: bool = False  # [-key] or "Name"=-
    name: str | None = None
    type: RegType | None = None
    data: RegData | None = None
    raw: str = ""
    error: str | None = None


def _strip_comment(line: str) -> tuple[str, bool]:
    """Cut a ``;`` comment outside quotes; also say if the line ends inside quotes."""
    quoted = escaped = False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            return line[:i].rstrip(" \t"), False
    return line.rstrip(" \t"), quoted


def _logical_lines(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, code) with comments cut and continuations joined."""
    i = 0
    while i < len(lines):
        start, physical = i, lines[i].strip(" \t")
        i += 1
        if physical.startswith("["):  # key names may hold ';', so no comment cut
            yield start, i, physical
            continue
        code, open_quote = _strip_comment(physical)
        if _CONTINUABLE.match(code):
            while code.endswith("\\") and not open_quote and i < len(lines):
                more, open_quote = _strip_comment(lines[i])
                code = code[:-1] + more.lstrip(" \t")
                i += 1
        yield start, i, code


def _scan(lines: list[str]) -> Iterator[_Statement]:
    for start, end, code in _logical_lines(lines):
        if not code or code.casefold() in SIGNATURES:
            continue
        if code.startswith("["):
            yield _parse_header(start, end, code)
        elif code.startswith(('"', "@")):
            yield _parse_value_line(start, end, code)
        else:
            shown = code if len(code) <= 40 else code[:37] + "..."
            yield _Statement("other", start, end, raw=code, error=(
                f'expected a [KEY] header, a "Name"=value line or a ; comment, got {shown!r}'
            ))


def _parse_header(start: int, end: int, code: str) -> _Statement:
    match = _HEADER.fullmatch(code)
    if match is None:
        return _Statement("header", start, end, error=(
            "broken section header: expected [KEY PATH] with a closing ']' and"
            " nothing after it but a ; comment"
        ))
    text = match.group(1)
    deleting = text.startswith("-")
    written = text[1:] if deleting else text
    try:
        path = normalize_key_path(written)
    except ValueError as exc:
        return _Statement("header", start, end, path=written, error=f"bad key path: {exc}")
    return _Statement("header", start, end, path=path, deleting=deleting)


def _parse_value_line(start: int, end: int, code: str) -> _Statement:
    statement = _Statement("value", start, end)
    try:
        if code.startswith("@"):
            statement.name, pos = "", 1
        else:
            statement.name, pos = _read_quoted(code, 0, "value name")
        rest = code[pos:].lstrip(" \t")
        if not rest.startswith("="):
            raise _Bad(f"expected '=' after the value name, got {rest[:20]!r}")
        statement.raw = rest[1:].lstrip(" \t")
        if statement.raw == "-":
            statement.deleting = True
        else:
            statement.type, statement.data = _parse_data(statement.raw)
    except _Bad as exc:
        statement.error = str(exc)
    return statement


def _read_quoted(text: str, pos: int, what: str) -> tuple[str, int]:
    """Read a ``"..."`` at ``pos``; return its unescaped text and the index after it."""
    if text[pos : pos + 1] != '"':
        raise _Bad(f"expected a quoted {what}, got {text[pos:pos + 20]!r}")
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), i + 1
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped not in ("\\", '"'):
                raise _Bad(
                    f"unknown escape '\\{escaped}' in {what}; write \\\\ for a backslash"
                    ' and \\" for a quote'
                )
            char = escaped
            i += 1
        out.append(char)
        i += 1
    raise _Bad(f"unterminated {what}: expected a closing '\"'")


def _parse_data(raw: str) -> tuple[RegType, RegData]:
    if raw.startswith('"'):
        text, pos = _read_quoted(raw, 0, "string")
        if raw[pos:].strip(" \t"):
            raise _Bad(f"unexpected text after the string: {raw[pos:][:20]!r}")
        return RegType.REG_SZ, text
    lowered = raw.lower()
    if lowered.startswith("dword:"):
        digits = raw[6:].strip(" \t")
        if not _DWORD.fullmatch(digits):
            raise _Bad(
                f"expected a dword of 1 to 8 hex digits (e.g. dword:0000000a), got {raw!r}"
            )
        return RegType.REG_DWORD, int(digits, 16)
    if lowered.startswith("multi:"):
        return RegType.REG_MULTI_SZ, _parse_multi(raw[6:])
    match = _HEX_TYPE.match(raw)
    if match is not None:
        return _decode_hex(match.group(1), _parse_hex_bytes(raw[match.end() :]))
    raise _Bad(
        'expected "text", dword:, hex:, hex(N):, multi: or - after \'=\','
        f" got {raw[:20]!r}"
    )


def _parse_multi(text: str) -> list[str]:
    items: list[str] = []
    pos = 0
    text = text.strip(" \t")
    while pos < len(text):
        item, pos = _read_quoted(text, pos, f"multi: string {len(items) + 1}")
        items.append(item)
        rest = text[pos:].lstrip(" \t")
        if not rest:
            break
        if not rest.startswith(","):
            raise _Bad(f"expected ',' between multi: strings, got {rest[:20]!r}")
        pos = len(text) - len(rest[1:].lstrip(" \t"))
        if pos == len(text):
            raise _Bad("expected a quoted string after the last ',' of multi:")
    return items


def _parse_hex_bytes(text: str) -> bytes:
    if not text.strip(" \t"):
        return b""
    out = bytearray()
    for index, part in enumerate(text.split(","), start=1):
        piece = part.strip(" \t")
        if not _HEX_BYTE.fullmatch(piece):
            raise _Bad(f"bad hex byte {piece!r} (byte {index}); expected bytes like 01,0a,ff")
        out.append(int(piece, 16))
    return bytes(out)


def _decode_hex(type_text: str | None, data: bytes) -> tuple[RegType, RegData]:
    if type_text is None:
        return RegType.REG_BINARY, data
    try:
        reg_type = RegType(int(type_text, 16))
    except ValueError:
        raise _Bad(
            f"unknown value type hex({type_text}); expected hex(0), hex(1), hex(2),"
            " hex(3), hex(4), hex(7) or hex(b)"
        ) from None
    if reg_type in (RegType.REG_NONE, RegType.REG_BINARY):
        return reg_type, data
    if reg_type in (RegType.REG_DWORD, RegType.REG_QWORD):
        size = 4 if reg_type is RegType.REG_DWORD else 8
        if len(data) != size:
            raise _Bad(f"hex({type_text}) needs exactly {size} bytes, got {len(data)}")
        return reg_type, int.from_bytes(data, "little")
    if len(data) % 2:
        raise _Bad(
            f"hex({type_text}) is UTF-16LE and needs an even number of bytes, got {len(data)}"
        )
    try:
        text = data.decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise _Bad(f"hex({type_text}) is not valid UTF-16LE: {exc.reason}") from None
    if reg_type is RegType.REG_MULTI_SZ:
        # Strings end at NUL and the list at an empty string (a double NUL).
        body = text.split("\0\0", 1)[0].rstrip("\0")
        return reg_type, body.split("\0") if body else []
    return reg_type, text.split("\0", 1)[0]


# --- the registry model ---------------------------------------------------


class Registry:
    """An ordered tree of keys; case-insensitive lookups."""

    def __init__(self) -> None:
        self.errors: list[RegSyntaxError] = []
        self._keys: dict[str, RegKey] = {}

    @classmethod
    def from_text(cls, text: str, filename: str = "registry.ini") -> Registry:
        registry = cls()
        registry.apply_text(text, filename)
        return registry

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Registry:
        """Read a file as regedit might have saved it: UTF-8, UTF-8 BOM or UTF-16."""
        registry = cls()
        name = Path(path).name
        data = Path(path).read_bytes()
        try:
            text, _encoding = decode_reg_bytes(data)
        except UnicodeDecodeError as exc:
            text = data.decode(exc.encoding, errors="replace")
            line = data[: exc.start].decode(exc.encoding, errors="replace").count("\n") + 1
            registry.errors.append(RegSyntaxError(Location(name, line), None, None, (
                f"not valid {exc.encoding} (byte 0x{data[exc.start]:02x}); save the file"
                " as UTF-8 or as regedit's Unicode (UTF-16) export"
            )))
        registry.apply_text(text, name)
        return registry

    def apply_text(self, text: str, filename: str) -> None:
        """Layer a ``.reg`` text on top of what is already read, deletions included."""
        current: RegKey | None = None
        # With no current key, values are still checked; this says which key
        # to show and, unless a broken header already said it, why they are lost.
        orphan_key: str | None = None
        orphan_message: str | None = "value line before any [KEY] section; put it under its key"
        for statement in _scan(_LINE_BREAK.split(text.removeprefix("\ufeff"))):
            location = Location(filename, statement.start + 1)
            if statement.kind == "header":
                current, orphan_key = None, statement.path
                if statement.error is not None:
                    self._error(location, statement.path, None, statement.error)
                    orphan_message = None
                elif statement.deleting:
                    self._delete_tree(statement.path)
                    orphan_message = (
                        f"value line under [-{statement.path}], which deletes the key;"
                        f" write [{statement.path}] to set values"
                    )
                else:
                    current = self._define(statement.path, location)
            elif statement.error is not None:
                shown = current.path if current else orphan_key
                self._error(location, shown, statement.name, statement.error)
            elif current is not None:
                self._set(current, statement, location)
            elif orphan_message is not None:
                self._error(location, orphan_key, statement.name, orphan_message)

    def key(self, path: str) -> RegKey | None:
        return self._keys.get(key_id(path))

    def keys(self) -> list[RegKey]:
        """Every key in the order it was first defined."""
        return list(self._keys.values())

    def subkeys(self, path: str) -> list[RegKey]:
        """Defined keys directly below ``path``, in file order."""
        parent = key_id(path)
        sep = "/" if parent.startswith("/") else "\\"
        prefix = parent + sep
        return [
            key
            for ident, key in self._keys.items()
            if ident.startswith(prefix) and sep not in ident[len(prefix) :]
        ]

    def value(self, path: str, name: str) -> RegValue | None:
        key = self.key(path)
        return key.values.get(name.casefold()) if key else None

    def _error(self, location: Location, key: str | None, name: str | None, message: str) -> None:
        self.errors.append(RegSyntaxError(location, key, name, message))

    def _define(self, path: str, location: Location) -> RegKey:
        return self._keys.setdefault(key_id(path), RegKey(path, location))

    def _delete_tree(self, path: str) -> None:
        doomed = key_id(path)
        for ident in [ident for ident in self._keys if _is_within(ident, doomed)]:
            del self._keys[ident]

    @staticmethod
    def _set(key: RegKey, statement: _Statement, location: Location) -> None:
        folded = statement.name.casefold()
        if statement.deleting:
            key.values.pop(folded, None)
            return
        earlier = key.values.get(folded)
        key.values[folded] = RegValue(
            earlier.name if earlier else statement.name,
            statement.type,
            statement.data,
            location,
            statement.raw,
        )


def decode_reg_bytes(data: bytes) -> tuple[str, str]:
    """Decode a registry file; return the text and the codec to write it back with.

    A BOM stays in the text as ``\\ufeff`` (the reader skips it), so encoding
    the edited text with the returned codec writes the file as it was.
    Raises UnicodeDecodeError for bytes that fit no supported encoding.
    """
    if data.startswith(b"\xff\xfe"):
        encoding = "utf-16-le"
    elif data.startswith(b"\xfe\xff"):
        encoding = "utf-16-be"
    else:
        encoding = "utf-8"
    return data.decode(encoding), encoding


# --- writing values -------------------------------------------------------


def format_value(name: str, type: RegType, data: RegData) -> str:
    r"""One value as ``.reg`` text; continuation lines are joined by ``\n``.

    Strings holding a line break are written as ``hex(1)``/``hex(7)`` because
    a quoted string cannot span lines. Raises TypeError or ValueError for data
    the type cannot hold.
    """
    _check_registry_string(name, "value name")
    if "\r" in name or "\n" in name:
        raise ValueError(f"value name {name!r} contains a line break")
    prefix = ("@" if name == "" else _quote(name)) + "="
    if type in (RegType.REG_DWORD, RegType.REG_QWORD):
        bits = 32 if type is RegType.REG_DWORD else 64
        if not isinstance(data, int) or isinstance(data, bool) or not 0 <= data < 2**bits:
            raise ValueError(
                f"{type.name} data must be an int from 0 to 2**{bits}-1, got {data!r}"
            )
        if type is RegType.REG_DWORD:
            return f"{prefix}dword:{data:08x}"
        return _wrap_hex(prefix + "hex(b):", data.to_bytes(8, "little"))
    if type in (RegType.REG_BINARY, RegType.REG_NONE):
        if not isinstance(data, bytes):
            raise TypeError(f"{type.name} data must be bytes, got {data!r}")
        return _wrap_hex(prefix + ("hex:" if type is RegType.REG_BINARY else "hex(0):"), data)
    if type is RegType.REG_MULTI_SZ:
        return _format_multi(prefix, data)
    if not isinstance(data, str):
        raise TypeError(f"{type.name} data must be a str, got {data!r}")
    _check_registry_string(data, type.name)
    if type is RegType.REG_SZ and "\r" not in data and "\n" not in data:
        return prefix + _quote(data)
    return _wrap_hex(f"{prefix}hex({type.value:x}):", (data + "\0").encode("utf-16-le"))


def _format_multi(prefix: str, data: RegData) -> str:
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise TypeError(f"REG_MULTI_SZ data must be a list of str, got {data!r}")
    for item in data:
        _check_registry_string(item, "REG_MULTI_SZ item")
    if not any("\r" in item or "\n" in item for item in data):
        return _wrap(prefix + "multi:", [_quote(item) for item in data])
    if "" in data:
        raise ValueError(
            "REG_MULTI_SZ cannot hold an empty string next to one with a line break:"
            " hex(7) ends the list at an empty string"
        )
    encoded = "".join(item + "\0" for item in data) + "\0"
    return _wrap_hex(prefix + "hex(7):", encoded.encode("utf-16-le"))


def _check_registry_string(text: str, what: str) -> None:
    if "\0" in text:
        raise ValueError(f"{what} {text!r} contains NUL; registry strings end at NUL")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrap_hex(prefix: str, data: bytes) -> str:
    return _wrap(prefix, [f"{byte:02x}" for byte in data])


def _wrap(prefix: str, pieces: list[str]) -> str:
    """Join pieces with commas, continuing with ``\\`` before column 80 as regedit does."""
    lines: list[str] = []
    line, filled = prefix, False
    for index, piece in enumerate(pieces):
        if index < len(pieces) - 1:
            piece += ","
        if filled and len(line) + len(piece) + 1 > _WRAP_COLUMNS:
            lines.append(line + "\\")
            line = "  "
        line += piece
        filled = True
    lines.append(line)
    return "\n".join(lines)


# --- editing text in place ------------------------------------------------


@dataclass
class _Target:
    """Where a value of one key is written in a text, as the reader sees it."""

    mentions: list[tuple[int, int]]  # lines naming the value, after the key's last deletion
    insert_at: int | None  # after the last value line of the key's last section


def _locate(lines: list[str], key_path: str, name: str) -> _Target:
    wanted, folded = key_id(key_path), name.casefold()
    target = _Target([], None)
    in_key = False
    for statement in _scan(lines):
        if statement.kind == "header":
            in_key = False
            if statement.error is not None:
                continue
            ident = key_id(statement.path)
            if statement.deleting and _is_within(wanted, ident):
                target = _Target([], None)
            elif not statement.deleting and ident == wanted:
                in_key, target.insert_at = True, statement.end
        elif statement.kind == "value" and in_key:
            target.insert_at = statement.end
            if statement.name is not None and statement.name.casefold() == folded:
                target.mentions.append((statement.start, statement.end))
    return target


class _Lines:
    """A text split into lines that remembers each line's own ending."""

    def __init__(self, text: str) -> None:
        self.bom = "\ufeff" if text.startswith("\ufeff") else ""
        parts = _LINE_BREAK.split(text[len(self.bom) :])
        endings = _LINE_BREAK.findall(text)
        self.newline = endings[0] if endings else "\n"
        self.pairs = list(zip(parts, endings + [""]))

    @property
    def contents(self) -> list[str]:
        return [content for content, _ending in self.pairs]

    def splice(self, start: int, end: int, new: list[str]) -> None:
        """Replace lines ``start:end`` with ``new``, keeping the span's last ending."""
        if end > start:
            tail = self.pairs[end - 1][1]
        else:
            tail = self.newline
            if start and self.pairs[start - 1][1] == "":
                self.pairs[start - 1] = (self.pairs[start - 1][0], self.newline)
                tail = ""
        if not new and end == len(self.pairs) and start:
            self.pairs[start - 1] = (self.pairs[start - 1][0], tail)
        replacement = [(line, self.newline) for line in new]
        if replacement:
            replacement[-1] = (new[-1], tail)
        self.pairs[start:end] = replacement

    def text(self) -> str:
        return self.bom + "".join(content + ending for content, ending in self.pairs)


def set_value(text: str, key_path: str, name: str, type: RegType, data: RegData) -> str:
    """Return ``text`` with one value set, everything else left as written.

    The value's effective line is replaced; else the line goes after the last
    value of the key's last section; else a new section is added at the end.
    """
    new = format_value(name, type, data).split("\n")
    lines = _Lines(text)
    target = _locate(lines.contents, key_path, name)
    if target.mentions:
        start, end = target.mentions[-1]
        lines.splice(start, end, new)
    elif target.insert_at is not None:
        lines.splice(target.insert_at, target.insert_at, new)
    else:
        body = lines.text()
        if body.strip("\ufeff \t\r\n"):
            if not body.endswith(("\n", "\r")):
                body += lines.newline
            if _LINE_BREAK.split(body)[-2].strip(" \t"):
                body += lines.newline  # a blank line before the new section
        section = [f"[{normalize_key_path(key_path)}]", *new]
        return body + "".join(line + lines.newline for line in section)
    return lines.text()


def delete_value(text: str, key_path: str, name: str) -> str:
    """Return ``text`` without the lines that give the key this value.

    Every line naming the value after the key's last deletion goes, so no
    earlier definition resurfaces; a value that is not there leaves the text as is.
    """
    lines = _Lines(text)
    for start, end in reversed(_locate(lines.contents, key_path, name).mentions):
        lines.splice(start, end, [])
    return lines.text()
