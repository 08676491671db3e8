"""A table-driven converter between ApplicationData and an item's structured properties.

Contacts, Calendar, Tasks and Notes are mostly flat lists of elements; each
class module lists its :class:`Field` rows and this module does both
directions. Properties are JSON values: text, numbers, booleans, ISO 8601
datetimes (UTC), lists and nested dicts, under snake_case keys (the Calendar
keys ``start``, ``end``, ``all_day``, ``location``, ``organizer``,
``attendees``, ``recurrence``, ``exceptions``, ``time_zone`` are the ones
the mailbox store documents, so OWA reads the same items).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from plugins.activesync.items.body import airsyncbase_body, html_to_text, v25_plain_body, xml_text
from plugins.activesync.items.options import ItemOptions
from plugins.activesync.items.values import compact_datetime, eas_datetime, parse_datetime
from plugins.activesync.personas import V12_0, ProtocolVersion
from plugins.activesync.wbxml import element

TEXT, INT, BOOL, DATE, COMPACT_DATE, LIST, STRUCT, STRUCT_LIST = (
    "text", "int", "bool", "date", "compact", "list", "struct", "structs")


@dataclass(frozen=True)
class Field:
    """One element: ``tag`` as ``Page:Name``; ``key`` its property (dotted for nesting).

    LIST holds ``child`` text elements; STRUCT and STRUCT_LIST hold ``fields``
    (``child`` names each STRUCT_LIST entry). ``since``/``until`` bound the
    protocol versions that carry the element.
    """

    tag: str
    key: str
    kind: str = TEXT
    child: str = ""
    fields: tuple["Field", ...] = ()
    since: ProtocolVersion | None = None
    until: ProtocolVersion | None = None
    names: tuple[tuple[str, int], ...] = ()  # INT values the store may keep as words ("weekly")

    def applies(self, version: ProtocolVersion) -> bool:
        return (self.since is None or version >= self.since) and (self.until is None or version <= self.until)

    @property
    def clark(self) -> str:
        page, _, name = self.tag.partition(":")
        return f"{{{page}}}{name}"


@dataclass(frozen=True)
class ClassSpec:
    name: str  # the EAS class: Contacts, Calendar, Tasks, Notes
    message_class: str
    page: str  # the code page whose Body elements 2.5 uses
    fields: tuple[Field, ...]
    subject_key: str = "subject"


def _get(properties: dict, key: str) -> Any:
    value: Any = properties
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _set(properties: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        properties = properties.setdefault(part, {})
    properties[parts[-1]] = value


def _render(f: Field, value: Any, version: ProtocolVersion) -> etree._Element | None:
    if value is None or value == "" or value == []:
        return None
    if f.kind == BOOL:
        return element(f.tag, "1" if value else "0")
    if f.kind == INT:
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            value = dict(f.names)[value.strip().casefold()]
        return element(f.tag, str(int(value)))
    if f.kind in (DATE, COMPACT_DATE):
        moment = parse_datetime(str(value))
        return element(f.tag, compact_datetime(moment) if f.kind == COMPACT_DATE else eas_datetime(moment))
    if f.kind == LIST:
        return element(f.tag, None, *(element(f.child, xml_text(str(v))) for v in value))
    if f.kind == STRUCT:
        return _struct(f.tag, f.fields, value, version)
    if f.kind == STRUCT_LIST:
        container = element(f.tag)
        for entry in value:
            child = _struct(f.child, f.fields, entry, version)
            if child is not None:
                container.append(child)
        return container if len(container) else None
    return element(f.tag, xml_text(str(value)))


def _struct(tag: str, fields: tuple[Field, ...], value: dict, version: ProtocolVersion) -> etree._Element | None:
    if not isinstance(value, dict):
        return None
    out = element(tag)
    for f in fields:
        if f.applies(version):
            child = _render(f, _get(value, f.key), version)
            if child is not None:
                out.append(child)
    return out


def _parse(f: Field, el: etree._Element) -> Any:
    text = (el.text or "").strip()
    if f.kind == BOOL:
        return text == "1"
    if f.kind == INT:
        return int(text)
    if f.kind in (DATE, COMPACT_DATE):
        return parse_datetime(text).isoformat()
    if f.kind == LIST:
        page, _, name = f.child.partition(":")
        return [c.text or "" for c in el.findall(f"{{{page}}}{name}")]
    if f.kind == STRUCT:
        return _parse_struct(f.fields, el)
    if f.kind == STRUCT_LIST:
        page, _, name = f.child.partition(":")
        return [_parse_struct(f.fields, c) for c in el.findall(f"{{{page}}}{name}")]
    return el.text or ""


def _parse_struct(fields: tuple[Field, ...], el: etree._Element) -> dict:
    out: dict = {}
    for f in fields:
        child = el.find(f.clark)
        if child is not None:
            _set(out, f.key, _parse(f, child))
    return out


def application_data(spec: ClassSpec, subject: str, properties: dict, options: ItemOptions,
                     version: ProtocolVersion) -> etree._Element:
    data = element("AirSync:ApplicationData")
    values = {spec.subject_key: subject, **properties} if spec.subject_key else properties
    for f in spec.fields:
        if f.applies(version):
            child = _render(f, _get(values, f.key), version)
            if child is not None:
                data.append(child)
    body = str(properties.get("body") or "")
    if version >= V12_0:
        data.append(airsyncbase_body(options, version, text=body, html_text=None, mime=None))
    else:
        data.extend(v25_plain_body(spec.page, options, body))
    return data


def properties_from(spec: ClassSpec, data: etree._Element, previous: dict | None = None) -> tuple[str, dict]:
    """(subject, properties) of a device's Add or Change.

    A Change carries the whole item (MS-ASCMD 2.2.3.24), so absent elements
    are removed, except the body: its absence is not a delete (MS-ASNOTE 3.2.5.3).
    """
    properties: dict = {}
    for f in spec.fields:
        el = data.find(f.clark)
        if el is not None:
            _set(properties, f.key, _parse(f, el))
    body = data.find("{AirSyncBase}Body")
    if body is not None:
        text = body.findtext("{AirSyncBase}Data") or ""
        body_type = (body.findtext("{AirSyncBase}Type") or "1").strip()
        properties["body"] = html_to_text(text) if body_type == "2" else text
    else:
        legacy = data.find(f"{{{spec.page}}}Body")
        if legacy is not None:
            properties["body"] = legacy.text or ""
        elif previous and "body" in previous:
            properties["body"] = previous["body"]
    subject = str(properties.pop(spec.subject_key, "") or "") if spec.subject_key else ""
    return subject, properties
