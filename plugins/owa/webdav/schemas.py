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
# POLL's <subscriptionID>; Exchange spelled this one with a capital E.
NOTIFICATIONS = "http://schemas.microsoft.com/Exchange/"

# Prefixes as Exchange 2003 chose them in its answers; clients must not care,
# but a trainee reading a capture finds what the SDK shows.
PREFIXES = {
    "a": DAV, "b": DATATYPES, "d": HTTPMAIL, "e": MAILHEADER, "f": EXCHANGE,
    "g": PROPTAG, "h": REPL, "i": CALENDAR, "j": CONTACTS,
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
