"""``ExchangeHopAccess``: the mailbox as Exchange 2003's MASSYNC reached it, over WebDAV.

Every call is one or more WebDAV requests to ``/<ExchangeVDir>/<mailbox>/``
on the home server (docs/webdav.md), over :mod:`.client`'s NTLM
connections. Identifiers stay the command layer's: a folder's ServerId is
its store id as the mailbox server reports it (``repl-uid`` ``rid:f<id>``),
addressed by its permanent URL (``-FlatUrlSpace-/<id>/``); an item is
``<folder id>:<item id>``. Marks are the mailbox's change number; how they
map to replication collblobs is told in :mod:`.replication`.

Whatever the back end answers that the call did not ask for becomes a
:class:`~.client.HopError` (HTTP 500 and event 3005 for the device), except
where the answer means something to the command: 404 of a folder or item
(FolderNotFound, ItemNotFound), 507 (MailboxFull, the store's quota
refusal, so Sync answers status 9 / 113), and the statuses of folder writes.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from plugins.activesync.backend import (
    TOP_LEVEL,
    BackendError,
    ChangeListener,
    FolderInfo,
    FolderNameTaken,
    FolderNotFound,
    HierarchyDelta,
    ItemDelta,
    ItemNotFound,
    MailboxAccess,
    MailboxFull,
    MailboxItem,
    MessageTooLarge,
    NoRecipients,
    SendQuotaExceeded,
    SpecialFolder,
)
from plugins.activesync.exchangehop import davxml, ledger, replication
from plugins.activesync.exchangehop.client import HopResponse, HopSession
from plugins.activesync.exchangehop.davxml import (
    CHANGE_NUMBER, CLIP_END, DISPLAYNAME, FLAG_STATUS, FOLDER_CLASS, HTTPMAIL, MESSAGE_CLASS, MESSAGE_SIZE,
    PARENTNAME, REPL_UID, clark, path_key, record_id, sql_name,
)
from plugins.activesync.exchangehop.listener import MAX_WATCHED, HopChangeListener
from plugins.owa.mailbox import NewItem

_SEGMENT_SAFE = "!$'()*,;=@~-._"
FLAT = "-FlatUrlSpace-"
HIDDEN = "NON_IPM_SUBTREE"
SUBMISSION = "%23%23DavMailSubmissionURI%23%23"
XML = {"Content-Type": 'text/xml; charset="utf-8"'}
FREE_NAME_TRIES = 20  # "Name (2)" ... when Deleted Items already has the name

# The mailbox root names its default folders (urn:schemas:httpmail:inbox...): EAS types 2-11.
_DEFAULT_FOLDERS = {"inbox": 2, "drafts": 3, "deleteditems": 4, "sentitems": 5, "outbox": 6, "tasks": 7,
                    "calendar": 8, "contacts": 9, "notes": 10, "journal": 11}
# Other folders by their class (PR_CONTAINER_CLASS), as user-created folders (12-17).
_USER_FOLDER_TYPES = {"IPF.Note": 12, "IPF.Appointment": 13, "IPF.Contact": 14, "IPF.Task": 15,
                      "IPF.Journal": 16, "IPF.StickyNote": 17}
# Where structured properties appear (docs/webdav.md, Properties): namespace and renamed calendar keys.
_CALENDAR_NAMES = {"start": "dtstart", "end": "dtend", "all_day": "alldayevent", "time_zone": "timezone"}
_CALENDAR_KEYS = {name: key for key, name in _CALENDAR_NAMES.items()}


def _segment(text: str) -> str:
    return quote(text, safe=_SEGMENT_SAFE)


def structured_namespace(message_class: str) -> str | None:
    if message_class.startswith("IPM.Contact"):
        return davxml.CONTACTS
    if message_class.startswith(("IPM.Appointment", "IPM.Schedule")):
        return davxml.CALENDAR
    if message_class.startswith("IPM.Task"):
        return davxml.TASKS
    return None


def _property_name(namespace: str, key: str) -> str:
    return clark(namespace, _CALENDAR_NAMES.get(key, key) if namespace == davxml.CALENDAR else key)


@dataclass
class _Folders:
    """The visible hierarchy as the mailbox server listed it in this request."""

    infos: list[FolderInfo]
    hrefs: dict[str, str]  # ServerId -> path href

    def get(self, server_id: str) -> FolderInfo:
        for info in self.infos:
            if info.server_id == server_id:
                return info
        raise FolderNotFound(f"folder {server_id} is not a visible folder of this mailbox")


class ExchangeHopAccess(MailboxAccess):
    """One request's view of one mailbox through ``ExchangeVDir`` on its home server.

    :param service: the running host (the push hub's stop flag, the listener registry).
    :param session: the request's :class:`~.client.HopSession` (server, credentials, pool).
    :param base: the quoted mailbox path without trailing slash, e.g. ``/Exchange/alice``.
    :param ledgers: the process's collblob ledgers. :param mailbox_key: this mailbox's key in them.
    """

    def __init__(self, service, session: HopSession, base: str, ledgers: ledger.Ledgers, mailbox_key: str) -> None:
        self.service = service
        self.session = session
        self.base = base
        self.ledgers = ledgers
        self.mailbox_id = mailbox_key
        self._specials: dict[str, int] | None = None
        self._folders: _Folders | None = None
        self._watched: list[str] = []
        self._read_ahead: dict[str, davxml.DavResource] = {}  # ServerId -> properties (prefetch)

    @property
    def calls(self) -> int:  # type: ignore[override]
        return self.session.calls

    @property
    def elapsed(self) -> float:  # type: ignore[override]
        return self.session.elapsed

    # -- requests --------------------------------------------------------------------

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                body: bytes = b"") -> HopResponse:
        return self.session.request(method, url, headers=headers, body=body)

    def _failure(self, answer: HopResponse, method: str, url: str) -> BackendError:
        """What an answer the call did not ask for means: quota, or the hop's failure."""
        if answer.status == 507:
            return MailboxFull(f"the mailbox server refused {method} {url} with 507 Insufficient Storage "
                               "(the mailbox is over its ProhibitSendReceiveQuota)")
        reason = f"answered {answer.status_line}"
        if 300 <= answer.status < 400:
            reason += f", redirecting to {answer.header('Location') or '(no Location)'}; MASSYNC follows no redirects"
        elif answer.status == 401:
            offered = ", ".join(v.split(" ", 1)[0] for v in answer.all_headers("WWW-Authenticate")) or "nothing"
            reason += f"; the server offers {offered}, MASSYNC logs on with NTLM only"
            if self.session.credentials.password is None:
                reason += (" and holds no password for this user (the device did not use Basic "
                           "authentication, and NTLM credentials cannot be passed on)")
        return self.session.failure(answer.status, method, url, reason)

    def _expect(self, answer: HopResponse, method: str, url: str, *ok: int) -> HopResponse:
        if answer.status in ok:
            return answer
        raise self._failure(answer, method, url)

    def _propfind(self, url: str, names: list[str] | None, *, missing=None) -> davxml.DavResource:
        body = davxml.propfind(names) if names else b'<?xml version="1.0"?><a:propfind xmlns:a="DAV:"><a:allprop/></a:propfind>'
        answer = self.request("PROPFIND", url, headers={**XML, "Depth": "0"}, body=body)
        if answer.status == 404 and missing is not None:
            raise missing
        self._expect(answer, "PROPFIND", url, 207)
        resources = self._parse(answer, "PROPFIND", url).resources
        if not resources:
            raise self.session.failure(answer.status, "PROPFIND", url, "the answer names no resource")
        return resources[0]

    def search(self, url: str, sql: str, *, collblob: str | None = None, headers: dict[str, str] | None = None,
                missing=None) -> tuple[HopResponse, davxml.Multistatus]:
        answer = self.request("SEARCH", url, headers={**XML, **(headers or {})}, body=davxml.search(sql, collblob))
        if answer.status == 404 and missing is not None:
            raise missing
        if answer.status == 416:  # Range past the end: no rows at all
            return answer, davxml.Multistatus([])
        self._expect(answer, "SEARCH", url, 207)
        return answer, self._parse(answer, "SEARCH", url)

    def _parse(self, answer: HopResponse, method: str, url: str) -> davxml.Multistatus:
        try:
            return davxml.parse_multistatus(answer.body)
        except davxml.AnswerError as exc:
            raise self.session.failure(answer.status, method, url, str(exc)) from None

    # -- URLs ----------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        return self.base + "/"

    def _folder_number(self, server_id: str) -> int:
        if not server_id.isdigit():
            raise FolderNotFound(f"{server_id!r} is not a folder ServerId")
        return int(server_id)

    def flat_url(self, server_id: str) -> str:
        return f"{self.base}/{FLAT}/{self._folder_number(server_id)}/"

    def _item_url(self, server_id: str) -> tuple[str, str]:
        folder, sep, item = server_id.partition(":")
        if not sep or not folder.isdigit() or not item.isdigit():
            raise ItemNotFound(f"{server_id!r} is not an item ServerId")
        return folder, f"{self.base}/{FLAT}/{folder}/{item}.EML"

    def _state_url(self, folder_path: str, name: str | None = None) -> str:
        folders = "/".join(_segment(s) for s in folder_path.split("/") if s)
        return f"{self.base}/{HIDDEN}/{folders}/" + (_segment(name) if name is not None else "")

    def _absolute(self, path: str) -> str:
        return self.session.target.url(path)

    def _watch(self, server_id: str) -> None:
        if server_id not in self._watched:
            self._watched.append(server_id)

    # -- the mailbox root and the hierarchy ------------------------------------------------

    def _open(self) -> dict[str, int]:
        """PROPFIND of the mailbox root, the first request: it exists, and where the default folders are."""
        if self._specials is None:
            names = [clark(HTTPMAIL, name) for name in _DEFAULT_FOLDERS]
            root = self._propfind(self.root_url, [CHANGE_NUMBER, *names])
            self._specials = {path_key(root.text(clark(HTTPMAIL, name))): folder_type
                              for name, folder_type in _DEFAULT_FOLDERS.items() if root.text(clark(HTTPMAIL, name))}
        return self._specials

    def mailbox_change_number(self) -> int:
        """The mailbox's change number now (``x67a40014`` of the mailbox root)."""
        self._open()
        return int(self._propfind(self.root_url, [CHANGE_NUMBER]).value(CHANGE_NUMBER, 0))

    def _table(self) -> _Folders:
        if self._folders is None:
            specials = self._open()
            select = ", ".join(sql_name(n) for n in (DISPLAYNAME, REPL_UID, PARENTNAME, FOLDER_CLASS))
            _, answer = self.search(self.root_url, f"SELECT {select} FROM SCOPE('hierarchical traversal of "
                                                    f"\"{self.root_url}\"')")
            ids = {path_key(r.href): record_id(r.text(REPL_UID), "f") for r in answer.resources}
            root_key = path_key(self.root_url)
            infos, hrefs = [], {}
            for row in answer.resources:
                folder_id = ids[path_key(row.href)]
                if folder_id is None:
                    continue
                parent_key = path_key(row.text(PARENTNAME))
                parent = TOP_LEVEL if parent_key == root_key else str(ids.get(parent_key))
                folder_type = specials.get(path_key(row.href)) or _USER_FOLDER_TYPES.get(row.text(FOLDER_CLASS), 12)
                infos.append(FolderInfo(str(folder_id), parent, row.text(DISPLAYNAME), folder_type))
                hrefs[str(folder_id)] = row.href
            self._folders = _Folders(infos, hrefs)
        return self._folders

    def folders(self) -> list[FolderInfo]:
        return list(self._table().infos)

    def folder(self, server_id: str) -> FolderInfo:
        self._folder_number(server_id)
        info = self._table().get(server_id)
        self._watch(server_id)
        return info

    def default_folder(self, folder_type: int) -> FolderInfo:
        for info in self._table().infos:
            if info.type == folder_type and 2 <= folder_type <= 11:
                return info
        raise FolderNotFound(f"the mailbox server names no default folder of type {folder_type}")

    def hierarchy_mark(self) -> int:
        """A mark the hierarchy ledger knows: the whole folder manifest, read once."""
        self._open()
        *_, mark = self._replicate("Hierarchy", self.root_url, "hierarchical", 0, "f", record_empty=True)
        return mark

    def hierarchy_changes(self, mark: int) -> HierarchyDelta:
        added, changed, deleted, new_mark = self._replicate("Hierarchy", self.root_url, "hierarchical", mark, "f")
        if not (added or changed or deleted):
            return HierarchyDelta((), (), (), mark)
        self._folders = None
        visible = {info.server_id: info for info in self._table().infos}
        return HierarchyDelta(
            added=tuple(visible[str(i)] for i in added if str(i) in visible),
            changed=tuple(visible[str(i)] for i in changed if str(i) in visible),
            deleted=tuple(str(i) for i in deleted),
            mark=new_mark,
        )

    def _parent_href(self, parent_id: str) -> str:
        if parent_id == TOP_LEVEL:
            return self.root_url
        self._folder_number(parent_id)
        href = self._table().hrefs.get(parent_id)
        if href is None:
            raise FolderNotFound(f"folder {parent_id} is not a visible folder of this mailbox")
        return href

    def _folder_id_at(self, url: str) -> str:
        found = self._propfind(url, [REPL_UID])
        folder_id = record_id(found.text(REPL_UID), "f")
        if folder_id is None:
            raise self.session.failure(207, "PROPFIND", url, "the answer carries no folder repl-uid")
        return str(folder_id)

    @staticmethod
    def _folder_class(folder_type: int) -> str:
        """The ``outlookfolderclass`` of a user folder's EAS type (1, a generic folder, holds mail)."""
        return next((folder_class for folder_class, user_type in _USER_FOLDER_TYPES.items()
                     if user_type == folder_type), "IPF.Note")

    def create_folder(self, parent_id: str, display_name: str, folder_type: int) -> FolderInfo:
        """MKCOL below the parent, its body setting the folder class of the EAS type, as Exchange 2003's
        MKCOL took one (without it the server makes a folder of the parent's kind)."""
        url = self._parent_href(parent_id).rstrip("/") + "/" + _segment(display_name) + "/"
        answer = self.request("MKCOL", url, headers=XML,
                              body=davxml.proppatch({FOLDER_CLASS: self._folder_class(folder_type)}))
        if answer.status in (405, 409):
            raise FolderNameTaken(f"the mailbox server refused MKCOL {url}: {answer.status_line}")
        self._expect(answer, "MKCOL", url, 201)
        self._folders = None
        return self._table().get(self._folder_id_at(url))

    def update_folder(self, server_id: str, parent_id: str, display_name: str) -> FolderInfo:
        current = self.folder(server_id)
        if current.parent_id == parent_id and current.display_name == display_name:
            return current
        source = self._table().hrefs[server_id]
        destination = self._parent_href(parent_id).rstrip("/") + "/" + _segment(display_name) + "/"
        answer = self.request("MOVE", source, headers={"Destination": self._absolute(destination), "Overwrite": "F"})
        if answer.status == 403:
            raise SpecialFolder(f"the mailbox server refused to move or rename folder {server_id}: 403")
        if answer.status in (409, 412):
            raise FolderNameTaken(f"the mailbox server refused MOVE to {destination}: {answer.status_line}")
        if answer.status == 404:
            raise FolderNotFound(f"folder {server_id} is gone")
        self._expect(answer, "MOVE", source, 201, 204)
        self._folders = None
        return self.folder(server_id)

    def delete_folder(self, server_id: str) -> None:
        """Into Deleted Items with MOVE, as Outlook and OWA deleted folders (a free name, "Name (2)"...);
        inside Deleted Items a DELETE removes it for good. The store-direct personas do the same."""
        info = self.folder(server_id)
        table = self._table()
        deleted_items = self.default_folder(4).server_id
        ancestors, parent = set(), info.parent_id
        for _ in range(len(table.infos)):  # bounded by the tree
            if parent == TOP_LEVEL:
                break
            ancestors.add(parent)
            parent = table.get(parent).parent_id
        source = table.hrefs[server_id]
        if deleted_items in ancestors:
            answer = self.request("DELETE", source)
            if answer.status == 404:
                raise FolderNotFound(f"folder {server_id} is gone")
            self._expect(answer, "DELETE", source, 200, 204)
            self._folders = None
            return
        target = table.hrefs[deleted_items].rstrip("/")
        for attempt in range(1, FREE_NAME_TRIES + 1):
            name = info.display_name if attempt == 1 else f"{info.display_name} ({attempt})"
            answer = self.request("MOVE", source, headers={
                "Destination": self._absolute(f"{target}/{_segment(name)}/"), "Overwrite": "F"})
            if answer.status in (409, 412):
                continue
            if answer.status == 403:
                raise SpecialFolder(f"the mailbox server refused to delete folder {server_id}: 403")
            if answer.status == 404:
                raise FolderNotFound(f"folder {server_id} is gone")
            self._expect(answer, "MOVE", source, 201, 204)
            self._folders = None
            return
        raise FolderNameTaken(f"Deleted Items already holds {FREE_NAME_TRIES} folders named {info.display_name!r}")

    # -- replication: changes since a mark ------------------------------------------------

    def _replicate(self, scope: str, url: str, traversal: str, mark: int, kind: str, *,
                   record_empty: bool = False) -> tuple[list[int], list[int], list[int], int]:
        return replication.changes_since(self, scope, url, traversal, mark, kind, record_empty=record_empty)

    # -- items ---------------------------------------------------------------------------

    def item_changes(self, folder_id: str, mark: int) -> ItemDelta:
        url = self.flat_url(folder_id)
        self._watch(folder_id)
        added, changed, deleted, new_mark = self._replicate(f"Folder-{folder_id}", url, "shallow", mark, "i")
        return ItemDelta(tuple(f"{folder_id}:{i}" for i in added), tuple(f"{folder_id}:{i}" for i in changed),
                         tuple(f"{folder_id}:{i}" for i in deleted), new_mark)

    def _items_sql(self, url: str, received_after: datetime | None, select: str, *, by_end: bool = False) -> str:
        """The SEARCH of a folder's items, those received after a moment, or (``by_end``) over after it:
        the server's clip end, or DateReceived for an item without one (``backend.window_date``)."""
        where = '"DAV:isfolder" = false'
        if received_after is not None:
            _, moment = davxml.format_value(received_after)
            since = f"CAST(\"{moment}\" AS 'dateTime')"
            dated = f'"urn:schemas:httpmail:datereceived" >= {since}'
            if by_end:
                clip = sql_name(CLIP_END)
                dated = f"({clip} >= {since} OR ({clip} IS NULL AND {dated}))"
            where += f" AND {dated}"
        return f"SELECT {select} FROM SCOPE('shallow traversal of \"{url}\"') WHERE {where}"

    def list_item_ids(self, folder_id: str, received_after: datetime | None = None, *,
                      by_end: bool = False) -> list[str]:
        url = self.flat_url(folder_id)
        self._watch(folder_id)
        sql = self._items_sql(url, received_after, sql_name(REPL_UID), by_end=by_end)
        latest_end = f"{sql_name(CLIP_END)} DESC, " if by_end else ""
        sql += f' ORDER BY {latest_end}"urn:schemas:httpmail:datereceived" DESC'
        _, answer = self.search(url, sql, missing=FolderNotFound(f"folder {folder_id} is gone"))
        ids = (record_id(r.text(REPL_UID), "i") for r in answer.resources)
        return [f"{folder_id}:{i}" for i in ids if i is not None]

    def get_item(self, server_id: str) -> MailboxItem:
        folder_id, url = self._item_url(server_id)
        found = self._read_ahead.get(server_id)
        if found is None:
            found = self._propfind(url, None, missing=ItemNotFound(f"item {server_id} is not in that folder"))
        return _mailbox_item(server_id, folder_id, found)

    def prefetch(self, server_ids: Sequence[str]) -> None:
        """One BPROPFIND per folder for the items not read yet (a Sync window: one request, not one per item).

        Targets the server no longer has are left out; ``get_item`` then asks
        for them alone and gets its own 404 (ItemNotFound).
        """
        wanted: dict[str, list[str]] = {}
        for server_id in server_ids:
            if server_id not in self._read_ahead:
                folder_id, url = self._item_url(server_id)
                wanted.setdefault(folder_id, []).append(url)
        for folder_id, urls in wanted.items():
            folder_url = self.flat_url(folder_id)
            answer = self.request("BPROPFIND", folder_url, headers=XML, body=davxml.bpropfind(urls))
            if answer.status == 404:
                continue  # the folder is gone: each get_item finds out alone
            self._expect(answer, "BPROPFIND", folder_url, 207)
            for resource in self._parse(answer, "BPROPFIND", folder_url).resources:
                # Answered under its own href (folder path and subject), so known by its repl-uid.
                item_id = record_id(resource.text(REPL_UID), "i") if resource.status is None else None
                if item_id is not None:
                    self._read_ahead[f"{folder_id}:{item_id}"] = resource

    def get_mime(self, server_id: str) -> bytes:
        _, url = self._item_url(server_id)
        answer = self.request("GET", url)
        if answer.status == 404:
            raise ItemNotFound(f"item {server_id} is gone")
        return self._expect(answer, "GET", url, 200).body

    def _item_id_at(self, folder_id: str, url: str) -> str:
        found = self._propfind(url, [REPL_UID])
        item_id = record_id(found.text(REPL_UID), "i")
        if item_id is None:
            raise self.session.failure(207, "PROPFIND", url, "the answer carries no item repl-uid")
        return f"{folder_id}:{item_id}"

    def add_item(self, folder_id: str, item: NewItem) -> str:
        """Mail: PUT of its MIME. Other items: a PROPPATCH that creates one (Exchange's way for contacts,
        appointments and tasks). Either way the server names the item (docs/webdav.md)."""
        url = f"{self.flat_url(folder_id)}{uuid.uuid4().hex}.EML"
        if item.mime:
            server_id = self._create_item(folder_id, "PUT", url, {"Content-Type": "message/rfc822"}, item.mime)
            if item.read or item.flag_status:
                self.change_item(server_id, read=item.read or None, flag_status=item.flag_status or None)
            return server_id
        sets: dict[str, Any] = {clark(davxml.DAV, "contentclass"): _content_class(item.message_class),
                                MESSAGE_CLASS: item.message_class, clark(HTTPMAIL, "subject"): item.subject,
                                clark(HTTPMAIL, "read"): item.read}
        namespace = structured_namespace(item.message_class)
        if namespace is not None:
            sets.update({_property_name(namespace, k): v for k, v in item.properties.items()})
        return self._create_item(folder_id, "PROPPATCH", url, XML, davxml.proppatch(sets))

    def _create_item(self, folder_id: str, method: str, url: str, headers: dict[str, str], body: bytes) -> str:
        """The request that creates an item at ``url``; the new item's ServerId, read where Location says.

        The server names new items itself, so the item is not at ``url``. A
        creating PROPPATCH that refuses a property creates nothing (and sends
        no Location); over quota it is 507 (MailboxFull); a folder that is
        gone is 404 or 409.
        """
        answer = self.request(method, url, headers=headers, body=body)
        if answer.status in (404, 409):
            raise FolderNotFound(f"folder {folder_id} is gone")
        self._expect(answer, method, url, 201 if method == "PUT" else 207)
        location = answer.header("Location")
        if location is None and method == "PROPPATCH":
            refused = _describe(self._refused(answer, method, url)) or "nothing"
            raise self.session.failure(answer.status, method, url, f"the server created no item; it refused {refused}")
        return self._item_id_at(folder_id, location or url)

    def _refused(self, answer: HopResponse, method: str, url: str) -> dict[str, int]:
        """The properties a PROPPATCH's 207 refused: name -> the status of their propstat."""
        return {name: status for resource in self._parse(answer, method, url).resources
                for name, status in resource.failed.items()}

    def _proppatch(self, url: str, sets: dict[str, Any], removes: list[str], *, missing) -> None:
        answer = self.request("PROPPATCH", url, headers=XML, body=davxml.proppatch(sets, removes))
        if answer.status == 404 and missing is not None:
            raise missing
        self._expect(answer, "PROPPATCH", url, 207)
        refused = self._refused(answer, "PROPPATCH", url)
        if 507 in refused.values():
            raise MailboxFull(f"the mailbox server refused PROPPATCH {url} with 507 Insufficient Storage")
        if refused:
            raise self.session.failure(207, "PROPPATCH", url, f"the server refused {_describe(refused)}")

    def change_item(self, server_id: str, *, read: bool | None = None, flag_status: int | None = None,
                    properties: Mapping[str, Any] | None = None) -> None:
        self._read_ahead.pop(server_id, None)
        _, url = self._item_url(server_id)
        sets: dict[str, Any] = {}
        removes: list[str] = []
        if read is not None:
            sets[clark(HTTPMAIL, "read")] = bool(read)
        if flag_status is not None:
            sets[FLAG_STATUS] = int(flag_status)
        if properties is not None:
            current = self.get_item(server_id)
            namespace = structured_namespace(current.message_class)
            if namespace is None:
                raise self.session.failure(None, "PROPPATCH", url, f"a {current.message_class} item shows no "
                                           "structured properties over WebDAV to change")
            sets.update({_property_name(namespace, k): v for k, v in properties.items()})
            removes = [_property_name(namespace, k) for k in current.properties if k not in properties]
        if sets or removes:
            self._proppatch(url, sets, removes, missing=ItemNotFound(f"item {server_id} is gone"))

    def _move(self, server_id: str, url: str, destination_folder: str) -> HopResponse:
        # The folder's permanent URL as Destination: davex puts the item into the folder it names, so a
        # move needs no folder listing. A folder that is not there (or hidden) is 409.
        answer = self.request("MOVE", url, headers={"Destination": self._absolute(self.flat_url(destination_folder))})
        if answer.status == 404:
            raise ItemNotFound(f"item {server_id} is gone")
        if answer.status == 409:
            raise FolderNotFound(f"folder {destination_folder} is not a folder of this mailbox")
        return self._expect(answer, "MOVE", url, 201, 204)

    def delete_item(self, server_id: str, *, to_deleted_items: bool) -> None:
        """To Deleted Items with MOVE (what Outlook and OWA did); DELETE removes for good."""
        self._read_ahead.pop(server_id, None)
        folder_id, url = self._item_url(server_id)
        if to_deleted_items:
            deleted_items = self.default_folder(4).server_id
            if deleted_items != folder_id:
                self._move(server_id, url, deleted_items)
                return
        answer = self.request("DELETE", url)
        if answer.status == 404:
            raise ItemNotFound(f"item {server_id} is gone")
        self._expect(answer, "DELETE", url, 200, 204)

    def move_item(self, server_id: str, folder_id: str) -> str:
        self._read_ahead.pop(server_id, None)
        _, url = self._item_url(server_id)
        answer = self._move(server_id, url, folder_id)
        return self._item_id_at(folder_id, answer.header("Location") or url)

    # -- state blobs ---------------------------------------------------------------------

    def get_state(self, folder_path: str, name: str) -> bytes | None:
        self._open()  # a 404 below must mean "no blob", not "no mailbox"
        url = self._state_url(folder_path, name)
        answer = self.request("GET", url)
        if answer.status == 404:
            return None
        return self._expect(answer, "GET", url, 200).body

    def put_state(self, folder_path: str, name: str, data: bytes) -> None:
        self._open()
        url = self._state_url(folder_path, name)
        headers = {"Content-Type": "application/octet-stream"}
        answer = self.request("PUT", url, headers=headers, body=data)
        if answer.status in (404, 409):  # the hidden folders do not exist yet
            path = ""
            for segment in (s for s in folder_path.split("/") if s):
                path = f"{path}/{segment}" if path else segment
                made = self.request("MKCOL", self._state_url(path))
                if made.status not in (201, 405):
                    raise self._failure(made, "MKCOL", self._state_url(path))
            answer = self.request("PUT", url, headers=headers, body=data)
        self._expect(answer, "PUT", url, 200, 201, 204)

    def delete_state(self, folder_path: str, name: str) -> None:
        self._open()
        url = self._state_url(folder_path, name)
        self._expect(self.request("DELETE", url), "DELETE", url, 200, 204, 404)

    # -- direct push ---------------------------------------------------------------------

    def listen(self) -> ChangeListener:
        self._open()
        urls = [self.root_url, *(self.flat_url(f) for f in self._watched[:MAX_WATCHED])]
        return HopChangeListener(self, urls)

    # -- sending -------------------------------------------------------------------------

    def send_mail(self, mime: bytes, *, save_in_sent: bool) -> None:
        """PUT to the mailbox's submission URI (``Saveinsent: f`` keeps no copy)."""
        self._open()
        url = f"{self.base}/{SUBMISSION}/"
        answer = self.request("PUT", url, headers={"Content-Type": "message/rfc822",
                                                   "Saveinsent": "t" if save_in_sent else "f"}, body=mime)
        if answer.status == 507:
            raise SendQuotaExceeded("the mailbox server refused the submission with 507 Insufficient Storage")
        if answer.status == 413:
            raise MessageTooLarge("the mailbox server refused the submission with 413 (MaxMessageSize)")
        if answer.status == 400:
            raise NoRecipients("the mailbox server refused the submission with 400 (no recipients)")
        self._expect(answer, "PUT", url, 200, 201, 204)


def _describe(refused: dict[str, int]) -> str:
    return ", ".join(f"{sql_name(name)} ({status})" for name, status in refused.items())


def _mailbox_item(server_id: str, folder_id: str, found: davxml.DavResource) -> MailboxItem:
    """A MailboxItem from an item's properties as PROPFIND (or BPROPFIND) reported them."""
    message_class = found.text(MESSAGE_CLASS) or "IPM.Note"
    properties: dict[str, Any] = {}
    namespace = structured_namespace(message_class)
    if namespace is not None:
        prefix = f"{{{namespace}}}"
        for name in found.props:
            if name.startswith(prefix) and name != CLIP_END:  # computed by the server, not the item's own
                local = name[len(prefix):]
                key = _CALENDAR_KEYS.get(local, local) if namespace == davxml.CALENDAR else local
                properties[key] = found.value(name)
    return MailboxItem(
        server_id=server_id, folder_id=folder_id, message_class=message_class,
        subject=found.text(clark(HTTPMAIL, "subject")), sender=found.text(clark(HTTPMAIL, "from")),
        to=found.text(clark(HTTPMAIL, "to")), cc=found.text(clark(HTTPMAIL, "cc")),
        date_sent=found.value(clark(HTTPMAIL, "date")), date_received=found.value(clark(HTTPMAIL, "datereceived")),
        read=bool(found.value(clark(HTTPMAIL, "read"), False)), flag_status=int(found.value(FLAG_STATUS, 0)),
        importance=int(found.value(clark(HTTPMAIL, "importance"), 1)),
        has_attachments=bool(found.value(clark(HTTPMAIL, "hasattachment"), False)),
        size=int(found.value(MESSAGE_SIZE, 0)), properties=properties,
    )


def _content_class(message_class: str) -> str:
    if message_class.startswith("IPM.Contact"):
        return "urn:content-classes:person"
    if message_class.startswith(("IPM.Appointment", "IPM.Schedule")):
        return "urn:content-classes:appointment"
    if message_class.startswith("IPM.Task"):
        return "urn:content-classes:task"
    if message_class.startswith("IPM.StickyNote"):
        return "urn:content-classes:note"
    return "urn:content-classes:message"
