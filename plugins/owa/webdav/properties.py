"""Which Exchange properties a mailbox root, folder, item or state blob shows, and which can be set.

One table per kind of resource maps the Clark name of a property to a getter
over the store's record, so PROPFIND, SEARCH's SELECT and WHERE all read the
same values. Values are Python values (bool, int, datetime, str);
:func:`plugins.owa.webdav.schemas.typed_element` types them on the wire.
A getter returning None means "not found" (404 in the propstat).

Settable (PROPPATCH, BPROPPATCH): ``urn:schemas:httpmail:read``,
``urn:schemas:httpmail:importance``, PR_FLAG_STATUS (``proptag/x10900003``)
and, on contacts, calendar items and tasks, properties of
``urn:schemas:contacts:``, ``urn:schemas:calendar:`` (but ``clipend``,
PidLidClipEnd, which is computed) and the task property set (kept in the
item's structured properties). Values are read by their
``b:dt`` type, as Exchange read them. A PROPPATCH that creates an item also
sets its class and subject (:func:`new_item`). Everything else is refused
with 403: the lab keeps no dead properties.
"""
from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from lxml import etree

from plugins.owa.mailbox import (
    SYNC_STATE_CLASS, FlagStatus, Folder, FolderType, Importance, Item, NewItem, clip_end,
)
from plugins.owa.namespace import NON_IPM_SUBTREE, SUBMISSION_URI, MailboxNamespace, item_name
from plugins.owa.webdav.schemas import (
    CALENDAR, CHANGE_NUMBER, CLIP_END, CONTACTS, DAV, EXCHANGE, FLAG_STATUS, HTTPMAIL, MAILHEADER, MESSAGE_SIZE,
    REPL, TASKS, parse_boolean, typed_value,
)

Getter = Callable[[MailboxNamespace, Any], Any]


class PropertyRefused(Exception):
    """A PROPPATCH the lab will not do; ``status`` is what the propstat says (403, 409)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _dav(local: str) -> str:
    return f"{{{DAV}}}{local}"


def _ns(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


# --- folders ------------------------------------------------------------------------

_FOLDER_CONTENT_CLASSES = {
    "IPF.Appointment": "urn:content-classes:calendarfolder",
    "IPF.Contact": "urn:content-classes:contactfolder",
    "IPF.Task": "urn:content-classes:taskfolder",
    "IPF.StickyNote": "urn:content-classes:notefolder",
    "IPF.Journal": "urn:content-classes:journalfolder",
}


def _parent_href(ns: MailboxNamespace, folder: Folder) -> str:
    parent = ns.folders.get(folder.parent_id) if folder.parent_id is not None else None
    if parent is not None:
        return ns.folder_href(parent)
    return ns.href(NON_IPM_SUBTREE, collection=True) if folder.hidden else ns.href(collection=True)


FOLDER_PROPERTIES: dict[str, Getter] = {
    _dav("displayname"): lambda ns, f: f.display_name,
    _dav("contentclass"): lambda ns, f: _FOLDER_CONTENT_CLASSES.get(
        f.container_class, "urn:content-classes:mailfolder"),
    _dav("iscollection"): lambda ns, f: True,
    _dav("isfolder"): lambda ns, f: True,
    _dav("ishidden"): lambda ns, f: f.hidden,
    _dav("isreadonly"): lambda ns, f: False,
    _dav("hassubs"): lambda ns, f: bool(ns.children(f, hidden=f.hidden)),
    _dav("childcount"): lambda ns, f: len(ns.children(f, hidden=f.hidden)),
    _dav("objectcount"): lambda ns, f: ns.store.count_items(ns.mailbox_id, f.id),
    # Items pending a virus scan are not shown (KB827615), so they are not counted either.
    _dav("visiblecount"): lambda ns, f: ns.store.count_items(ns.mailbox_id, f.id, scanned_only=True),
    _dav("parentname"): _parent_href,
    _ns(EXCHANGE, "outlookfolderclass"): lambda ns, f: f.container_class,
    _ns(EXCHANGE, "permanenturl"): lambda ns, f: ns.folder_href(f) if f.hidden else ns.permanent_href(f.id),
    CHANGE_NUMBER: lambda ns, f: f.change_number,
    _ns(REPL, "repl-uid"): lambda ns, f: f"rid:f{f.id}",
    _ns(REPL, "resourcetag"): lambda ns, f: f"rt:f{f.id}-{f.change_number}",
}

# The mailbox root answers where its default folders are, as Exchange's did:
# clients (MASSYNC among them) find the Inbox this way, whatever its name.
_SPECIAL_FOLDER_PROPERTIES = {
    "inbox": FolderType.INBOX,
    "drafts": FolderType.DRAFTS,
    "deleteditems": FolderType.DELETED_ITEMS,
    "sentitems": FolderType.SENT_ITEMS,
    "outbox": FolderType.OUTBOX,
    "tasks": FolderType.TASKS,
    "calendar": FolderType.CALENDAR,
    "contacts": FolderType.CONTACTS,
    "notes": FolderType.NOTES,
    "journal": FolderType.JOURNAL,
}


def _special_folder(folder_type: FolderType) -> Getter:
    def href(ns: MailboxNamespace, _root: None) -> str | None:
        folder = next((f for f in ns.folders.values()
                       if f.special and not f.hidden and f.folder_type == folder_type), None)
        return ns.folder_href(folder) if folder else None

    return href


MAILBOX_PROPERTIES: dict[str, Getter] = {
    _dav("displayname"): lambda ns, _: ns.store.get_mailbox(ns.mailbox_id).display_name,
    _dav("contentclass"): lambda ns, _: "urn:content-classes:folder",
    _dav("iscollection"): lambda ns, _: True,
    _dav("isfolder"): lambda ns, _: True,
    _dav("ishidden"): lambda ns, _: False,
    _dav("isreadonly"): lambda ns, _: False,
    _dav("hassubs"): lambda ns, _: True,
    _dav("childcount"): lambda ns, _: len(ns.children(None, hidden=False)),
    CHANGE_NUMBER: lambda ns, _: ns.store.get_mailbox(ns.mailbox_id).change_number,
    _ns(HTTPMAIL, "msgfolderroot"): lambda ns, _: ns.href(collection=True),
    _ns(HTTPMAIL, "sendmsg"): lambda ns, _: ns.href(SUBMISSION_URI, collection=True),
    **{_ns(HTTPMAIL, name): _special_folder(folder_type)
       for name, folder_type in _SPECIAL_FOLDER_PROPERTIES.items()},
}

# --- items ------------------------------------------------------------------------------

_ITEM_CONTENT_CLASSES = (
    ("IPM.Schedule.Meeting", "urn:content-classes:calendarmessage"),
    ("IPM.Appointment", "urn:content-classes:appointment"),
    ("IPM.Contact", "urn:content-classes:person"),
    ("IPM.Task", "urn:content-classes:task"),
    ("IPM.StickyNote", "urn:content-classes:note"),
    ("IPM.Activity", "urn:content-classes:journal"),
)
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|wg)\s*:\s*)+", re.IGNORECASE)


def _content_class(message_class: str) -> str:
    if message_class == SYNC_STATE_CLASS:
        return "urn:content-classes:document"
    for prefix, content_class in _ITEM_CONTENT_CLASSES:
        if message_class.startswith(prefix):
            return content_class
    return "urn:content-classes:message"


def _address_part(header: str, part: int) -> str | None:
    if not header:
        return None
    return email.utils.parseaddr(header)[part] or None


def _rfc2822(moment: datetime | None) -> str | None:
    return email.utils.format_datetime(moment.astimezone(timezone.utc)) if moment else None


ITEM_PROPERTIES: dict[str, Getter] = {
    _dav("displayname"): lambda ns, i: i.subject if ns.folders[i.folder_id].hidden else item_name(i),
    _dav("contentclass"): lambda ns, i: _content_class(i.message_class),
    _dav("iscollection"): lambda ns, i: False,
    _dav("isfolder"): lambda ns, i: False,
    _dav("ishidden"): lambda ns, i: ns.folders[i.folder_id].hidden,
    _dav("isreadonly"): lambda ns, i: False,
    _dav("getcontentlength"): lambda ns, i: i.size,
    _dav("getcontenttype"): lambda ns, i: (
        "application/octet-stream" if i.message_class == SYNC_STATE_CLASS else "message/rfc822"),
    _dav("creationdate"): lambda ns, i: i.date_received,
    _dav("getlastmodified"): lambda ns, i: i.date_received,
    _dav("parentname"): lambda ns, i: ns.folder_href(ns.folders[i.folder_id]),
    _ns(HTTPMAIL, "subject"): lambda ns, i: i.subject,
    _ns(HTTPMAIL, "normalizedsubject"): lambda ns, i: _REPLY_PREFIX.sub("", i.subject),
    _ns(HTTPMAIL, "from"): lambda ns, i: i.sender or None,
    _ns(HTTPMAIL, "fromemail"): lambda ns, i: _address_part(i.sender, 1),
    _ns(HTTPMAIL, "fromname"): lambda ns, i: _address_part(i.sender, 0),
    _ns(HTTPMAIL, "to"): lambda ns, i: i.to or None,
    _ns(HTTPMAIL, "displayto"): lambda ns, i: i.to,
    _ns(HTTPMAIL, "cc"): lambda ns, i: i.cc or None,
    _ns(HTTPMAIL, "displaycc"): lambda ns, i: i.cc,
    _ns(HTTPMAIL, "date"): lambda ns, i: i.date_sent,
    _ns(HTTPMAIL, "datereceived"): lambda ns, i: i.date_received,
    _ns(HTTPMAIL, "read"): lambda ns, i: i.read,
    _ns(HTTPMAIL, "hasattachment"): lambda ns, i: i.has_attachments,
    _ns(HTTPMAIL, "importance"): lambda ns, i: int(i.importance),
    _ns(MAILHEADER, "subject"): lambda ns, i: i.subject,
    _ns(MAILHEADER, "from"): lambda ns, i: i.sender or None,
    _ns(MAILHEADER, "to"): lambda ns, i: i.to or None,
    _ns(MAILHEADER, "cc"): lambda ns, i: i.cc or None,
    _ns(MAILHEADER, "date"): lambda ns, i: _rfc2822(i.date_sent),
    _ns(MAILHEADER, "importance"): lambda ns, i: i.importance.name.lower(),
    _ns(EXCHANGE, "outlookmessageclass"): lambda ns, i: i.message_class,
    _ns(EXCHANGE, "permanenturl"): lambda ns, i: (
        ns.item_href(i) if ns.folders[i.folder_id].hidden else ns.permanent_href(i.folder_id, i.id)),
    CHANGE_NUMBER: lambda ns, i: i.change_number,
    FLAG_STATUS: lambda ns, i: int(i.flag_status),
    MESSAGE_SIZE: lambda ns, i: i.size,
    _ns(REPL, "repl-uid"): lambda ns, i: f"rid:i{i.id}",
    _ns(REPL, "resourcetag"): lambda ns, i: f"rt:i{i.id}-{i.change_number}",
}

# Calendar items keep their data under the store's keys (NewItem's docstring);
# WebDAV names them as urn:schemas:calendar did.
_CALENDAR_NAMES = {"start": "dtstart", "end": "dtend", "all_day": "alldayevent", "time_zone": "timezone"}
_CALENDAR_KEYS = {name: key for key, name in _CALENDAR_NAMES.items()}

READ = _ns(HTTPMAIL, "read")
IMPORTANCE = _ns(HTTPMAIL, "importance")
CONTENT_CLASS = _dav("contentclass")
MESSAGE_CLASS = _ns(EXCHANGE, "outlookmessageclass")
_SETTABLE = frozenset({READ, IMPORTANCE, FLAG_STATUS})
# Only a PROPPATCH that creates an item sets its class and subject: the store keeps them as they were made.
_SUBJECTS = frozenset({_ns(HTTPMAIL, "subject"), _ns(MAILHEADER, "subject")})
# The class of an item created with DAV:contentclass alone. Meeting messages arrive as mail: no PROPPATCH makes one.
_CREATED_CLASSES = {
    "urn:content-classes:message": "IPM.Note",
    **{content_class: prefix for prefix, content_class in _ITEM_CONTENT_CLASSES if prefix != "IPM.Schedule.Meeting"},
}


def structured_namespace(message_class: str) -> str | None:
    """The schema an item's structured properties appear in (None: mail and notes have none)."""
    if message_class.startswith("IPM.Contact"):
        return CONTACTS
    if message_class.startswith(("IPM.Appointment", "IPM.Schedule")):
        return CALENDAR
    if message_class.startswith("IPM.Task"):
        return TASKS
    return None


def _structured_name(namespace: str, key: str) -> str:
    return _ns(namespace, _CALENDAR_NAMES.get(key, key) if namespace == CALENDAR else key)


def _structured_key(namespace: str, local: str) -> str:
    return _CALENDAR_KEYS.get(local, local) if namespace == CALENDAR else local


def item_property_names(item: Item) -> list[str]:
    """Every property an item shows: the table's, then its structured ones (a calendar item's clip end first)."""
    namespace = structured_namespace(item.message_class)
    extra = [_structured_name(namespace, key) for key in item.properties] if namespace else []
    if namespace == CALENDAR:
        extra = [CLIP_END, *(name for name in extra if name != CLIP_END)]
    return [*ITEM_PROPERTIES, *extra]


def item_property(ns: MailboxNamespace, item: Item, name: str) -> Any:
    getter = ITEM_PROPERTIES.get(name)
    if getter is not None:
        return getter(ns, item)
    namespace = structured_namespace(item.message_class)
    if namespace == CALENDAR and name == CLIP_END:
        return clip_end(item.properties)
    if namespace and name.startswith(f"{{{namespace}}}"):
        return item.properties.get(_structured_key(namespace, name[len(namespace) + 2:]))
    return None


def item_update(message_class: str, properties: Mapping[str, Any], name: str,
                element: etree._Element | None) -> dict[str, Any]:
    """The ``update_item`` arguments a PROPPATCH of one property asks for.

    ``message_class`` and ``properties`` are the item's; ``element`` is the
    property as sent, typed by its ``b:dt`` (None removes the property).
    Raises :class:`PropertyRefused`.
    """
    namespace = structured_namespace(message_class)
    structured = namespace is not None and name.startswith(f"{{{namespace}}}") and name != CLIP_END
    if name not in _SETTABLE and not structured:
        if name in ITEM_PROPERTIES or name == CLIP_END:
            raise PropertyRefused(403, "The property is computed by the store and cannot be set.")
        raise PropertyRefused(403, "The lab keeps no properties beyond those it computes.")
    value = _typed(element)
    if name == READ:
        return {"read": _boolean(value) if value is not None else False}
    if name == FLAG_STATUS:
        return {"flag_status": _enum_value(FlagStatus, value, FlagStatus.NONE)}
    if name == IMPORTANCE:
        return {"importance": _enum_value(Importance, value, Importance.NORMAL)}
    updated = dict(properties)
    key = _structured_key(namespace, name[len(namespace) + 2:])
    if value is None:
        updated.pop(key, None)
    else:
        updated[key] = _stored(value)
    return {"properties": updated}


def new_item(updates: Sequence[tuple[str, etree._Element | None]]) -> tuple[NewItem, dict[str, PropertyRefused]]:
    """The item a PROPPATCH that creates one describes, and the properties it refuses.

    The Exchange SDK creates contacts, appointments and tasks this way:
    ``DAV:contentclass`` and ``outlookmessageclass`` say what the item is
    (either one will do; given both, they must agree, since the store derives
    the content class from the message class), ``urn:schemas:httpmail:subject``
    names it, and everything else is set as PROPPATCH sets it on an existing
    item of that class. ``updates`` are :func:`~.schemas.property_updates`.
    """
    refused: dict[str, PropertyRefused] = {}
    message_class = _created_class(updates, refused)
    fields: dict[str, Any] = {}
    properties: Mapping[str, Any] = {}
    for name, element in updates:
        try:
            if name in _SUBJECTS:
                value = _typed(element)
                fields["subject"] = "" if value is None else str(value)
            elif name not in (CONTENT_CLASS, MESSAGE_CLASS):
                changes = item_update(message_class, properties, name, element)
                properties = changes.pop("properties", properties)
                fields.update(changes)
        except PropertyRefused as refusal:
            refused[name] = refusal
    return NewItem(message_class=message_class, properties=properties, **fields), refused


def _created_class(updates: Sequence[tuple[str, etree._Element | None]],
                   refused: dict[str, PropertyRefused]) -> str:
    """The message class of a new item from its class properties; contradicting or unknown ones are refused."""
    values: dict[str, Any] = {}
    for name, element in updates:
        if name in (CONTENT_CLASS, MESSAGE_CLASS):
            try:
                values[name] = _typed(element)
            except PropertyRefused as refusal:
                refused[name] = refusal
    message_class = values.get(MESSAGE_CLASS)
    if message_class is not None and str(message_class).split(".")[0].upper() != "IPM":
        refused[MESSAGE_CLASS] = PropertyRefused(
            409, f"{message_class!r} is not an IPM message class, the kind items in folders have.")
        message_class = None
    content_class = values.get(CONTENT_CLASS)
    if content_class is None:
        return message_class or "IPM.Note"
    if not isinstance(content_class, str) or content_class not in _CREATED_CLASSES:
        refused[CONTENT_CLASS] = PropertyRefused(
            403, f"The lab creates items of the content classes {', '.join(sorted(_CREATED_CLASSES))}.")
    elif message_class is None:
        return _CREATED_CLASSES[content_class]
    elif _content_class(message_class) != content_class:
        refused[CONTENT_CLASS] = PropertyRefused(
            409, f"A {message_class} item is {_content_class(message_class)}: the store derives "
                 "DAV:contentclass from the message class.")
    return message_class or "IPM.Note"


def _typed(element: etree._Element | None) -> Any:
    """The value a PROPPATCH sets, typed by its ``b:dt``; None for a remove. A value not of its type is 409."""
    if element is None:
        return None
    try:
        return typed_value(element)
    except ValueError as error:
        raise PropertyRefused(409, str(error)) from None


def _boolean(value: Any) -> bool:
    parsed = value if isinstance(value, bool) else parse_boolean(str(value))
    if parsed is None:
        raise PropertyRefused(409, f"{value!r} is not a boolean.")
    return parsed


def _enum_value(kind: type, value: Any, default: Any) -> Any:
    if value is None:
        return default
    try:
        return kind(value if isinstance(value, int) else int(str(value).strip()))
    except ValueError:
        raise PropertyRefused(409, f"{value!r} is not one of {[int(v) for v in kind]}.") from None


def _stored(value: Any) -> Any:
    """A structured property as the store keeps it: JSON values, datetimes as ISO 8601 text (NewItem).

    Lists and objects arrive as JSON text, the way PROPFIND shows them
    (:func:`~.schemas.typed_element`), or as a multi-valued type.
    """
    if isinstance(value, list):
        return [_iso(v) for v in value]
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, (list, dict)) else value
    return _iso(value)


def _iso(value: Any) -> Any:
    return value.astimezone(timezone.utc).isoformat() if isinstance(value, datetime) else value


def lookup(table: Mapping[str, Getter], ns: MailboxNamespace, record: Any, name: str) -> Any:
    getter = table.get(name)
    return getter(ns, record) if getter is not None else None
