"""WebDAV bodies the hop sends and the multistatus answers it reads, in Exchange's schemas.

Property names are Clark names (``{urn:schemas:httpmail:}subject``); in SQL
they are written as Exchange wrote them (``"urn:schemas:httpmail:subject"``).
Values come back typed with Microsoft's data types namespace
(``b:dt="boolean"`` and ``1``/``0``, ``int``, ``dateTime.tz``); untyped text
is text, JSON text that decodes to a list or object is that list or object
(how the mailbox server shows structured properties).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

DAV = "DAV:"
HTTPMAIL = "urn:schemas:httpmail:"
MAILHEADER = "urn:schemas:mailheader:"
EXCHANGE = "http://schemas.microsoft.com/exchange/"
PROPTAG = "http://schemas.microsoft.com/mapi/proptag/"
REPL = "http://schemas.microsoft.com/repl/"
CONTACTS = "urn:schemas:contacts:"
TASKS = "urn:schemas:tasks:"  # the lab's own: Exchange reached task fields as MAPI named properties
CALENDAR = "urn:schemas:calendar:"
DATATYPES = "urn:uuid:c2f41010-65b3-11d1-a29f-00aa00c14882/"
NOTIFICATIONS = "http://schemas.microsoft.com/Exchange/"


def clark(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


CHANGE_NUMBER = clark(PROPTAG, "x67a40014")  # PidTagChangeNumber
FLAG_STATUS = clark(PROPTAG, "x10900003")  # PR_FLAG_STATUS
MESSAGE_SIZE = clark(PROPTAG, "x0e080003")  # PR_MESSAGE_SIZE
REPL_UID = clark(REPL, "repl-uid")
DISPLAYNAME = clark(DAV, "displayname")
PARENTNAME = clark(DAV, "parentname")
HREF = clark(DAV, "href")
FOLDER_CLASS = clark(EXCHANGE, "outlookfolderclass")
MESSAGE_CLASS = clark(EXCHANGE, "outlookmessageclass")
CONTENT_CLASS = clark(DAV, "contentclass")
# PidLidClipEnd (MS-OXOCAL 2.2.1.15), computed by the mailbox server: when an appointment, its recurrence
# included, is over (docs/webdav.md). Searched on, never set.
CLIP_END = clark(CALENDAR, "clipend")

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_PREFIXES = {DAV: "a", DATATYPES: "b"}


class AnswerError(ValueError):
    """The mailbox server's answer is not the XML the hop asked for."""


# --- requests ---------------------------------------------------------------------


def _declare(names) -> tuple[dict[str, str], str]:
    """Prefixes for the namespaces of ``names`` and their xmlns attributes."""
    prefixes = dict(_PREFIXES)
    for name in names:
        namespace = name[1:].partition("}")[0]
        prefixes.setdefault(namespace, f"n{len(prefixes)}")
    attributes = " ".join(f"xmlns:{p}={quoteattr(ns)}" for ns, p in prefixes.items())
    return prefixes, attributes


def _tag(prefixes: dict[str, str], name: str) -> str:
    namespace, _, local = name[1:].partition("}")
    return f"{prefixes[namespace]}:{local}"


def propfind(names: list[str]) -> bytes:
    prefixes, attributes = _declare(names)
    props = "".join(f"<{_tag(prefixes, n)}/>" for n in names)
    return f'<?xml version="1.0" encoding="utf-8"?><a:propfind {attributes}><a:prop>{props}</a:prop></a:propfind>'.encode()


def bpropfind(hrefs: list[str]) -> bytes:
    """A BPROPFIND body asking every property (``allprop``) of each target."""
    targets = "".join(f"<a:href>{escape(href)}</a:href>" for href in hrefs)
    return (f'<?xml version="1.0" encoding="utf-8"?><a:propfind xmlns:a="DAV:"><a:target>{targets}</a:target>'
            "<a:allprop/></a:propfind>").encode()


def sql_name(name: str) -> str:
    """``{urn:schemas:httpmail:}subject`` -> ``"urn:schemas:httpmail:subject"``."""
    namespace, _, local = name[1:].partition("}")
    return f'"{namespace}{local}"'


def search(sql: str, collblob: str | None = None) -> bytes:
    """A SEARCH body; with ``collblob`` (``""`` for the whole manifest) a replication request."""
    repl = ""
    if collblob is not None:
        repl = f"<R:repl><R:collblob>{escape(collblob)}</R:collblob></R:repl>"
    return (f'<?xml version="1.0" encoding="utf-8"?><a:searchrequest xmlns:a="DAV:" xmlns:R="{REPL}">'
            f"<a:sql>{escape(sql)}</a:sql>{repl}</a:searchrequest>").encode()


def format_value(value: Any) -> tuple[str | None, str]:
    """(data type, text) for a property value, typed as Exchange typed it."""
    if isinstance(value, bool):
        return "boolean", "1" if value else "0"
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, datetime):
        moment = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        return "dateTime.tz", moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if isinstance(value, (list, dict)):
        return None, json.dumps(value, ensure_ascii=False, sort_keys=True)
    return None, "" if value is None else str(value)


def proppatch(sets: dict[str, Any], removes: list[str] = ()) -> bytes:
    prefixes, attributes = _declare([*sets, *removes])
    parts = []
    if sets:
        props = []
        for name, value in sets.items():
            data_type, text = format_value(value)
            typed = f' b:dt="{data_type}"' if data_type else ""
            props.append(f"<{_tag(prefixes, name)}{typed}>{escape(text)}</{_tag(prefixes, name)}>")
        parts.append(f"<a:set><a:prop>{''.join(props)}</a:prop></a:set>")
    if removes:
        parts.append(f"<a:remove><a:prop>{''.join(f'<{_tag(prefixes, n)}/>' for n in removes)}</a:prop></a:remove>")
    return (f'<?xml version="1.0" encoding="utf-8"?><a:propertyupdate {attributes}>{"".join(parts)}'
            "</a:propertyupdate>").encode()


# --- answers --------------------------------------------------------------------------


@dataclass
class DavResource:
    """One ``<D:response>`` of a multistatus."""

    href: str
    props: dict[str, etree._Element] = field(default_factory=dict)  # found (2xx propstat)
    failed: dict[str, int] = field(default_factory=dict)  # property -> propstat status, for the rest
    status: int | None = None  # a response-level <D:status>
    changetype: str | None = None  # replication: new, change, delete

    def value(self, name: str, default: Any = None) -> Any:
        element = self.props.get(name)
        return typed_value(element) if element is not None else default

    def text(self, name: str, default: str = "") -> str:
        element = self.props.get(name)
        return element.text or "" if element is not None else default


@dataclass
class Multistatus:
    resources: list[DavResource]
    collblob: str | None = None  # replication answers: the blob to send next time


def _status(text: str | None) -> int | None:
    parts = (text or "").split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


def parse_multistatus(body: bytes) -> Multistatus:
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise AnswerError(f"the answer is not XML: {exc}") from None
    if root.tag != clark(DAV, "multistatus"):
        raise AnswerError(f"the answer is a <{root.tag}>, not a multistatus")
    collblob = root.findtext(f"{{{REPL}}}repl/{{{REPL}}}collblob")
    resources = []
    for response in root.findall(clark(DAV, "response")):
        resource = DavResource(href=(response.findtext(HREF) or "").strip(),
                               status=_status(response.findtext(clark(DAV, "status"))),
                               changetype=(response.findtext(clark(REPL, "changetype")) or "").strip() or None)
        for propstat in response.findall(clark(DAV, "propstat")):
            code = _status(propstat.findtext(clark(DAV, "status"))) or 0
            for prop in propstat.findall(clark(DAV, "prop")):
                for child in prop:
                    if 200 <= code < 300:
                        resource.props[child.tag] = child
                    else:
                        resource.failed[child.tag] = code
        resources.append(resource)
    return Multistatus(resources, collblob.strip() if collblob is not None else None)


def typed_value(element: etree._Element) -> Any:
    data_type = element.get(f"{{{DATATYPES}}}dt")
    text = element.text or ""
    if data_type == "boolean":
        return text.strip().casefold() in ("1", "true", "t")
    if data_type in ("int", "i2", "i4", "i8", "ui4", "ui8", "number"):
        return int(text.strip())
    if data_type in ("dateTime.tz", "dateTime"):
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            decoded = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(decoded, (list, dict)):
            return decoded
    return text


def path_key(href: str) -> str:
    """An href or URL as a comparable path: decoded, case-folded, without the trailing slash."""
    path = urlsplit(href).path if "://" in href else href
    return unquote(path, encoding="utf-8", errors="replace").rstrip("/").casefold()


def record_id(repl_uid: str, kind: str) -> int | None:
    """The store id in a ``repl-uid`` (``rid:f12`` folder 12, ``rid:i7`` item 7)."""
    prefix = f"rid:{kind}"
    value = repl_uid.strip()
    return int(value[len(prefix):]) if value.startswith(prefix) and value[len(prefix):].isdigit() else None
