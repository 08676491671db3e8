"""SEARCH: Exchange SQL over a folder, ``Range: rows=`` paging, and replication manifests.

Two ways to ask "what changed since":

* SQL: ``WHERE "http://schemas.microsoft.com/mapi/proptag/x67a40014" > N``
  returns the items (and subfolders) whose change number is above N, read
  from the store's change list, so the cost follows the changes. Deleted
  items cannot be rows of a query; ask the replication way to see them.
* Replication (Exchange 2000/2003 WebDAV replication, namespace
  ``http://schemas.microsoft.com/repl/``): a ``<R:repl><R:collblob>`` in the
  search request. An empty collblob returns the whole manifest; a collblob
  from an earlier answer returns only what changed since, each response with
  ``<R:changetype>`` ``new``, ``change`` or ``delete``. A deleted item's href
  is its permanent URL (``-FlatUrlSpace-/<folder id>/<id>.EML``) and its
  ``repl-uid`` matches the one it had. The answer starts with the collblob to
  use next time. A collblob from another folder is ``475 Invalid collblob``.

Items pending a virus scan are left out of every answer, as the Exchange
store left them out of SEARCH (KB827615, PITFALLS 2.12).
"""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree
from wsgidav import util as dav_util
from wsgidav.dav_error import DAVError

from host.errors import HttpError
from plugins.owa.mailbox import Folder, Item, NoSuchItem
from plugins.owa.namespace import Kind, Location, OpenedMailbox
from plugins.owa.webdav import sql
from plugins.owa.webdav.answers import Answer, multistatus_answer, read_body, status_element
from plugins.owa.webdav.provider import folder_resource, item_resource
from plugins.owa.webdav.resource import OPENED
from plugins.owa.webdav.schemas import DAV, REPL, multistatus, parse_xml

_RANGE = re.compile(r"\s*rows\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)
_BATCH = 200  # beyond this many changed ids, read the folder page-wise instead of item by item
HREF = f"{{{DAV}}}href"


@dataclass(frozen=True)
class Row:
    resource: object  # a provider resource
    changetype: str | None = None  # replication only: "new" or "change"


@dataclass(frozen=True)
class Tombstone:
    href: str
    repl_uid: str


def handle_search(environ, opened: OpenedMailbox, target: Location, request_segments: list[str]) -> Answer:
    request = parse_xml(read_body(environ))
    if request.tag != f"{{{DAV}}}searchrequest":
        raise HttpError(400, 0, 0, detail="SEARCH needs a <D:searchrequest> body.")
    statement = request.find(f"{{{DAV}}}sql")
    if statement is None or not (statement.text or "").strip():
        raise HttpError(400, 0, 0, detail="Only the Exchange SQL query grammar (<D:sql>) is supported.")
    try:
        query = sql.parse(statement.text)
    except sql.SqlError as error:
        raise HttpError(400, 0, 0, detail=f"SEARCH: {error}") from None
    repl = request.find(f"{{{REPL}}}repl")
    scopes = [_scope_location(opened, target, request_segments, scope) for scope in query.scopes]
    if repl is not None:
        if len(scopes) != 1:
            raise HttpError(400, 0, 0, detail="A replication SEARCH takes exactly one scope.")
        collblob = (repl.findtext(f"{{{REPL}}}collblob") or "").strip()
        rows, tombstones, mark = _manifest(environ, query, *scopes[0], collblob)
        return _answer(environ, query, rows, tombstones, _collblob(scopes[0], mark))
    rows = [row for location, traversal in scopes for row in _rows(environ, query, location, traversal)]
    return _answer(environ, query, rows, [], None)


def _scope_location(opened: OpenedMailbox, target: Location, request_segments: list[str],
                    scope: sql.Scope) -> tuple[Location, str]:
    if scope.traversal == "deep":
        raise HttpError(403, 0, 5, detail="Deep traversal is not supported in a mailbox store; "
                                          "use shallow or hierarchical traversal.")
    if not scope.url:
        return target, scope.traversal
    segments = opened.segments_of(scope.url)
    location = opened.locate(segments) if segments is not None else None
    if location is None:
        raise HttpError(404, 0, 3, detail=f"The SEARCH scope {scope.url!r} names nothing in this mailbox.")
    if location.kind in (Kind.ITEM, Kind.STATE, Kind.SUBMISSION):
        raise HttpError(400, 0, 0, detail="A SEARCH scope must be a folder.")
    return location, scope.traversal


# --- rows ---------------------------------------------------------------------------------


def _folder_of(location: Location) -> Folder | None:
    return location.folder if location.kind in (Kind.FOLDER, Kind.HIDDEN_FOLDER) else None


def _hidden(location: Location) -> bool:
    return location.kind in (Kind.HIDDEN_ROOT, Kind.HIDDEN_FOLDER)


def _rows(environ, query: sql.Query, location: Location, traversal: str) -> Iterator[Row]:
    ns = environ[OPENED].namespace
    folder, hidden = _folder_of(location), _hidden(location)
    if traversal == "hierarchical":
        candidates: Iterable = (folder_resource(environ, f) for f in ns.descendants(folder, hidden=hidden))
    else:
        subfolders = (folder_resource(environ, f) for f in ns.children(folder, hidden=hidden))
        since = sql.changed_since(query.where)
        items = _items(environ, folder, since) if folder is not None else ()
        candidates = (*subfolders, *(item_resource(environ, item) for item in items))
    for resource in candidates:
        if sql.matches(query.where, resource.raw_property):
            yield Row(resource)


def _items(environ, folder: Folder, since: int | None) -> list[Item]:
    """A folder's visible items; with ``since``, only those changed after it (from the change list)."""
    ns = environ[OPENED].namespace
    if since is None:
        return list(ns.items(folder, scanned_only=not folder.hidden))
    changes = ns.store.changes_since(ns.mailbox_id, folder.id, since)
    return _scanned(environ, folder, [*changes.added, *changes.changed])


def _scanned(environ, folder: Folder, ids: list[int]) -> list[Item]:
    """The items with these ids that a virus scanner has passed, in the order given."""
    ns = environ[OPENED].namespace
    wanted = set(ids)
    if len(ids) > _BATCH:
        found = {item.id: item for item in ns.items(folder, scanned_only=not folder.hidden) if item.id in wanted}
    else:
        current = ns.store.current_scan_id()
        found = {}
        for item_id in ids:
            try:
                item = ns.store.get_item(ns.mailbox_id, item_id)
            except NoSuchItem:
                continue
            if folder.hidden or item.scan_stamp >= current:
                found[item_id] = item
    return [found[i] for i in ids if i in found]


# --- replication -----------------------------------------------------------------------------


def _scope_key(location: Location, traversal: str) -> str:
    folder = _folder_of(location)
    return f"{traversal}:{location.kind.value}:{folder.id if folder else ''}"


def _collblob(scope: tuple[Location, str], mark: int) -> str:
    text = json.dumps({"scope": _scope_key(*scope), "cn": mark}, separators=(",", ":"))
    return base64.b64encode(text.encode()).decode()


def _read_collblob(collblob: str, scope: tuple[Location, str]) -> int:
    if not collblob:
        return 0
    try:
        data = json.loads(base64.b64decode(collblob, validate=True))
        if data["scope"] == _scope_key(*scope) and isinstance(data["cn"], int):
            return data["cn"]
    except (ValueError, KeyError, TypeError):
        pass
    raise HttpError(475, 0, 0, detail="The collblob does not belong to this collection.")


def _manifest(environ, query: sql.Query, location: Location, traversal: str,
              collblob: str) -> tuple[list[Row], list[Tombstone], int]:
    ns = environ[OPENED].namespace
    since = _read_collblob(collblob, (location, traversal))
    folder = _folder_of(location)
    if traversal == "hierarchical":
        if _hidden(location):
            raise HttpError(400, 0, 0, detail="Hidden folders are not replicated; list them with PROPFIND.")
        changes = ns.store.hierarchy_changes_since(ns.mailbox_id, since)
        below = {f.id for f in ns.descendants(folder, hidden=False)}
        records = [(ns.folders[i], kind) for ids, kind in ((changes.added, "new"), (changes.changed, "change"))
                   for i in ids if i in below]
        rows = [Row(folder_resource(environ, f), kind) for f, kind in records]
        tombstones = [Tombstone(ns.permanent_href(i), f"rid:f{i}") for i in changes.deleted]
    elif folder is None:
        raise HttpError(400, 0, 0, detail="Replicate a folder's items with a shallow traversal of that folder.")
    else:
        changes = ns.store.changes_since(ns.mailbox_id, folder.id, since)
        added = set(changes.added)
        items = _scanned(environ, folder, [*changes.added, *changes.changed])
        rows = [Row(item_resource(environ, item), "new" if item.id in added else "change") for item in items]
        tombstones = [Tombstone(ns.permanent_href(folder.id, i), f"rid:i{i}") for i in changes.deleted]
    rows = [row for row in rows if sql.matches(query.where, row.resource.raw_property)]
    return rows, tombstones, changes.change_number


# --- the answer ---------------------------------------------------------------------------------


def _ordered(rows: list[Row], query: sql.Query) -> list[Row]:
    for prop, descending in reversed(query.order_by):
        present = [r for r in rows if r.resource.raw_property(prop) is not None]
        missing = [r for r in rows if r.resource.raw_property(prop) is None]
        present.sort(key=lambda r: _sort_key(r.resource.raw_property(prop)), reverse=descending)
        rows = present + missing
    return rows


def _sort_key(value):
    return value.casefold() if isinstance(value, str) else value


def _paged(environ, rows: list) -> tuple[list, list[tuple[str, str]]]:
    """``Range: rows=0-99`` as Exchange paged SEARCH results; Content-Range tells the total."""
    header = environ.get("HTTP_RANGE")
    if not header:
        return rows, []
    match = _RANGE.fullmatch(header)
    if match is None or not (match.group(1) or match.group(2)):
        raise HttpError(400, 0, 0, detail=f"Range must be rows=first-last, not {header!r}.")
    total = len(rows)
    if match.group(1):
        first = int(match.group(1))
        last = min(int(match.group(2)), total - 1) if match.group(2) else total - 1
    else:  # rows=-N: the last N rows
        first, last = max(total - int(match.group(2)), 0), total - 1
    if first >= total or first > last:
        raise HttpError(416, 0, 0, headers=[("Content-Range", f"rows */{total}")])
    return rows[first:last + 1], [("Content-Range", f"rows {first}-{last}; total={total}")]


def _answer(environ, query: sql.Query, rows: list[Row], tombstones: list[Tombstone],
            collblob: str | None) -> Answer:
    element = multistatus()
    if collblob is not None:
        repl = etree.SubElement(element, f"{{{REPL}}}repl")
        etree.SubElement(repl, f"{{{REPL}}}collblob").text = collblob
    page, headers = _paged(environ, [*_ordered(rows, query), *tombstones])
    select = [name for name in query.select if name != HREF]
    for entry in page:
        if isinstance(entry, Tombstone):
            response = etree.SubElement(element, f"{{{DAV}}}response")
            etree.SubElement(response, HREF).text = entry.href
            propstat = etree.SubElement(response, f"{{{DAV}}}propstat")
            prop = etree.SubElement(propstat, f"{{{DAV}}}prop")
            etree.SubElement(prop, f"{{{REPL}}}repl-uid").text = entry.repl_uid
            status_element(propstat, 200)
            etree.SubElement(response, f"{{{REPL}}}changetype").text = "delete"
            continue
        resource = entry.resource
        properties = (resource.get_properties("named", name_list=select) if query.select
                      else resource.get_properties("allprop"))
        dav_util.add_property_response(element, resource.get_href(), [
            (name, value) for name, value in properties if not isinstance(value, DAVError) or query.select])
        if entry.changetype:
            etree.SubElement(element[-1], f"{{{REPL}}}changetype").text = entry.changetype
    return multistatus_answer(element, headers)
