"""Exchange's WebDAV schemas: namespace URIs, property names, typed values and safe XML.

Exchange names a property by namespace URI plus local name run together
(``urn:schemas:httpmail:subject``); XML and WsgiDAV use Clark notation
(``{urn:schemas:httpmail:}subject``). Values went out typed, with a ``dt``
attribute from Microsoft's XML data types namespace (``b:dt="boolean"``,
booleans as ``1``/``0``), which clients such as MASSYNC relied on.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from lxml import etree

from host.errors import HttpError

DAV = "DAV:"
HTTPMAIL = "urn:schemas:httpmail:"
MAILHEADER = "urn:schemas:mailheader:"
EXCHANGE = "http://schemas.microsoft.com/exchange/"
CALENDAR = "urn:schemas:calendar:"
CONTACTS = "urn:schemas:contacts:"
PROPTAG = "http://schemas.microsoft.com/mapi/proptag/"
REPL = "http://schemas.microsoft.com/repl/"
DATATYPES = "urn:uuid:c2f41010-65b3-11d1-a29f-00aa00c14882/"
# Exchange 2003 had no schema for task fields: WebDAV reached them as MAPI named properties of the task
# property set, "http://schemas.microsoft.com/mapi/id/{00062003-0000-0000-C000-000000000046}/0x8105" for
# the due date, a namespace URI that XML parsers such as libxml2 refuse for its braces. The lab's own
# namespace for them, in the style of urn:schemas:contacts: (the store's keys as local names).
TASKS = "urn:schemas:tasks:"
# PidLidClipEnd (MS-OXOCAL 2.2.1.15): when an appointment is over, its recurrence included. Exchange 2003
# named it only as a MAPI named property of the appointment property set (".../mapi/id/{00062002-0000-0000-
# C000-000000000046}/0x8236", which XML cannot name either); the lab computes it and shows it under this
# name, typed dateTime.tz, so a SEARCH can ask which appointments are over before a moment (MASSYNC's
# Calendar FilterType).
CLIP_END = f"{{{CALENDAR}}}clipend"
# POLL's <subscriptionID>; Exchange spelled this one with a capital E.
NOTIFICATIONS = "http://schemas.microsoft.com/Exchange/"

# Prefixes as Exchange 2003 chose them in its answers; clients must not care,
# but a trainee reading a capture finds what the SDK shows.
PREFIXES = {
    "a": DAV, "b": DATATYPES, "d": HTTPMAIL, "e": MAILHEADER, "f": EXCHANGE,
    "g": PROPTAG, "h": REPL, "i": CALENDAR, "j": CONTACTS, "k": TASKS,
}

# PidTagChangeNumber (MS-OXCFXICS 2.2.1.2.3): the change number the store gave
# the last change of a folder or item. SEARCH "changed since N" filters on it.
CHANGE_NUMBER = f"{{{PROPTAG}}}x67a40014"
FLAG_STATUS = f"{{{PROPTAG}}}x10900003"  # PR_FLAG_STATUS
MESSAGE_SIZE = f"{{{PROPTAG}}}x0e080003"  # PR_MESSAGE_SIZE

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def clark(exchange_name: str) -> str:
    """``urn:schemas:httpmail:subject`` -> ``{urn:schemas:httpmail:}subject``.

    The namespace ends at the last ``:`` or ``/``, as Exchange split names.
    """
    if exchange_name.startswith("{"):
        return exchange_name
    cut = max(exchange_name.rfind(":"), exchange_name.rfind("/")) + 1
    return f"{{{exchange_name[:cut]}}}{exchange_name[cut:]}"


def exchange_name(clark_name: str) -> str:
    """``{urn:schemas:httpmail:}subject`` -> ``urn:schemas:httpmail:subject``."""
    namespace, _, local = clark_name[1:].partition("}")
    return namespace + local


def parse_xml(body: bytes) -> etree._Element:
    """A request body as XML: entities and network access off; 400 when it is not XML."""
    if not body.strip():
        raise HttpError(400, 0, 0, detail="The request needs an XML body.")
    try:
        return etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise HttpError(400, 0, 0, detail=f"The request body is not well-formed XML: {exc}") from None


def multistatus() -> etree._Element:
    """An empty ``<a:multistatus>`` with Exchange's prefixes declared."""
    return etree.Element(f"{{{DAV}}}multistatus", nsmap=PREFIXES)


def to_xml(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding="utf-8")


def format_time(moment: datetime) -> str:
    """``2003-05-27T17:01:47.673Z``, Exchange's dateTime.tz form."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def typed_element(name: str, value: Any) -> etree._Element:
    """The property element for a Python value, typed as Exchange typed it."""
    if isinstance(value, bool):
        return _typed(name, "boolean", "1" if value else "0")
    if isinstance(value, int):
        return _typed(name, "int", str(value))
    if isinstance(value, datetime):
        return _typed(name, "dateTime.tz", format_time(value))
    element = etree.Element(name)
    if isinstance(value, (list, dict)):
        element.text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        element.text = str(value)
    return element


def _typed(name: str, data_type: str, text: str) -> etree._Element:
    element = etree.Element(name, nsmap={"b": DATATYPES})
    element.set(f"{{{DATATYPES}}}dt", data_type)
    element.text = text
    return element


def parse_boolean(text: str) -> bool | None:
    """``1``/``0``, ``true``/``false``, ``t``/``f`` as Exchange accepted them; None otherwise."""
    return {"1": True, "0": False, "true": True, "false": False, "t": True, "f": False}.get(
        text.strip().casefold())


def parse_time(text: str) -> datetime:
    """``dateTime.tz`` (or ``dateTime``, which Exchange read as UTC) as an aware datetime."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class UnknownDataType(ValueError):
    """A data type the lab neither compares nor stores (``bin.base64``, ``time``...)."""


# Microsoft's XML data types (the "XML Data Types Reference"), by the Python value they become.
_INTEGER_TYPES = frozenset({"int", "i1", "i2", "i4", "i8", "ui1", "ui2", "ui4", "ui8"})
_FLOAT_TYPES = frozenset({"float", "r4", "r8", "number", "fixed.14.4"})
_TEXT_TYPES = frozenset({"string", "char", "uri", "uuid"})


def parse_typed(data_type: str, text: str) -> Any:
    """Text of one of Microsoft's XML data types as its Python value.

    :raises UnknownDataType: for a type the lab does not handle.
    :raises ValueError: for text that is not of its type.
    """
    kind = data_type.strip().casefold()
    if kind in _TEXT_TYPES:
        return text
    if kind == "boolean":
        value = parse_boolean(text)
        if value is None:
            raise ValueError(f"{text!r} is not a boolean.")
        return value
    if kind in _INTEGER_TYPES:
        return int(text.strip())
    if kind in _FLOAT_TYPES:
        return float(text.strip())
    if kind in ("datetime", "datetime.tz"):
        return parse_time(text)
    raise UnknownDataType(f"The lab handles no values of type {data_type!r}.")


def typed_value(element: etree._Element) -> Any:
    """A property value a client sent, as the Python value its ``dt`` attribute names.

    Exchange read what clients set with the same data types it answered
    with (``b:dt="boolean"`` and ``1``/``0``, ``int``, ``dateTime.tz``), so a
    boolean set as ``1`` is stored as a boolean, not as the text "1". A
    multi-valued type (``mv.string``, ``mv.int``...) holds one child element
    per value (``<c:v>`` in the Exchange SDK's samples). Untyped values are text.

    :raises ValueError: for text that is not of its type, or a type the lab does not handle.
    """
    data_type = element.get(f"{{{DATATYPES}}}dt")
    if data_type is None:
        return element.text or ""
    if data_type.casefold().startswith("mv."):
        return [parse_typed(data_type[3:], child.text or "") for child in element if isinstance(child.tag, str)]
    return parse_typed(data_type, element.text or "")


def property_updates(body: etree._Element) -> list[tuple[str, etree._Element | None]]:
    """The ``(name, element)`` pairs of a ``<D:propertyupdate>`` in document order; None removes.

    RFC 4918 14.19: ``<D:set>`` and ``<D:remove>`` hold ``<D:prop>`` elements
    whose children name the properties.
    """
    updates: list[tuple[str, etree._Element | None]] = []
    for action in body:
        if action.tag not in (f"{{{DAV}}}set", f"{{{DAV}}}remove"):
            continue
        for prop in action.iter(f"{{{DAV}}}prop"):
            updates += [(child.tag, child if action.tag == f"{{{DAV}}}set" else None)
                        for child in prop if isinstance(child.tag, str)]
    return updates
