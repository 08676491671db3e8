"""Sync: items of one or more collections (MS-ASCMD 2.2.1.21)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from ..response import EasResponse
from ..versions import at_least
from .tree import children, clark, copies, flag, leaf, node, number, text


@dataclass(frozen=True)
class SyncOptions:
    """airsync:Options of a Sync collection.

    Body limits differ by version: 2.5 has ``truncation`` (AirSync:Truncation,
    a size code); 12.0+ has AirSyncBase:BodyPreference (``body_type``:
    1 plain, 2 HTML, 3 RTF, 4 MIME; ``truncation_size`` in bytes). Asking a
    version for the other kind is an error, not silently dropped.
    """

    filter_type: int | None = None
    truncation: int | None = None
    body_type: int | None = None
    truncation_size: int | None = None
    mime_support: int | None = None
    mime_truncation: int | None = None
    conflict: int | None = None

    def element(self, version: str) -> etree._Element:
        modern = at_least(version, "12.0")
        if modern and self.truncation is not None:
            raise ValueError(f"AirSync:Truncation exists only in protocol 2.5, not {version}; use body_type")
        if not modern and (self.body_type is not None or self.truncation_size is not None):
            raise ValueError("AirSyncBase:BodyPreference needs protocol 12.0 or later; use truncation")
        preference = None
        if self.body_type is not None:
            preference = node("AirSyncBase:BodyPreference",
                              leaf("AirSyncBase:Type", self.body_type),
                              leaf("AirSyncBase:TruncationSize", self.truncation_size))
        return node("AirSync:Options",
                    leaf("AirSync:FilterType", self.filter_type),
                    leaf("AirSync:Truncation", self.truncation),
                    preference,
                    leaf("AirSync:MIMESupport", self.mime_support),
                    leaf("AirSync:MIMETruncation", self.mime_truncation),
                    leaf("AirSync:Conflict", self.conflict))


@dataclass(frozen=True)
class Add:
    """A new item from the device; ``client_id`` correlates the server's response."""

    client_id: str
    data: Sequence[etree._Element]


@dataclass(frozen=True)
class Change:
    server_id: str
    data: Sequence[etree._Element]


@dataclass(frozen=True)
class Delete:
    server_id: str


@dataclass(frozen=True)
class Fetch:
    server_id: str


ClientCommand = Add | Change | Delete | Fetch


def _command(cmd: ClientCommand) -> etree._Element:
    if isinstance(cmd, Add):
        return node("AirSync:Add", leaf("AirSync:ClientId", cmd.client_id),
                    node("AirSync:ApplicationData", *copies(cmd.data)))
    if isinstance(cmd, Change):
        return node("AirSync:Change", leaf("AirSync:ServerId", cmd.server_id),
                    node("AirSync:ApplicationData", *copies(cmd.data)))
    tag = "AirSync:Delete" if isinstance(cmd, Delete) else "AirSync:Fetch"
    return node(tag, leaf("AirSync:ServerId", cmd.server_id))


@dataclass(frozen=True)
class SyncCollection:
    """One Collection of a Sync request.

    ``item_class`` is sent only with 2.5, where Class leads the Collection;
    later versions know the class from the folder.
    """

    collection_id: str
    sync_key: str
    item_class: str | None = None
    deletes_as_moves: bool | None = None
    get_changes: bool | None = None
    window_size: int | None = None
    options: SyncOptions | None = None
    commands: Sequence[ClientCommand] = ()

    def element(self, version: str) -> etree._Element:
        """MS-ASCMD 2.2.3.29.2: SyncKey, CollectionId, Supported, DeletesAsMoves,
        GetChanges, WindowSize, ConversationMode, Options, Commands, strictly."""
        get_changes = None
        if self.get_changes is not None:  # MS-ASCMD GetChanges: an empty element means TRUE
            get_changes = flag("AirSync:GetChanges", True) if self.get_changes else leaf("AirSync:GetChanges", 0)
        deletes = None if self.deletes_as_moves is None else leaf("AirSync:DeletesAsMoves", int(self.deletes_as_moves))
        return node("AirSync:Collection",
                    leaf("AirSync:Class", self.item_class) if not at_least(version, "12.0") else None,
                    leaf("AirSync:SyncKey", self.sync_key),
                    leaf("AirSync:CollectionId", self.collection_id),
                    deletes,
                    get_changes,
                    leaf("AirSync:WindowSize", self.window_size),
                    self.options.element(version) if self.options else None,
                    node("AirSync:Commands", *map(_command, self.commands)) if self.commands else None)


def build_sync(version: str, collections: Sequence[SyncCollection]) -> etree._Element:
    return node("AirSync:Sync", node("AirSync:Collections", *(c.element(version) for c in collections)))


@dataclass
class SyncItem:
    """An item the server sent (Add/Change) or returned for a Fetch."""

    server_id: str
    data: etree._Element | None
    item_class: str | None = None

    def field(self, ns_tag: str) -> str | None:
        """Text of an ApplicationData child, e.g. ``item.field("Email:Subject")``."""
        return text(self.data, ns_tag)


@dataclass
class ClientResponse:
    """The server's answer to one of the device's Add/Change/Delete/Fetch commands."""

    kind: str
    status: int | None
    client_id: str | None = None
    server_id: str | None = None
    data: etree._Element | None = None


@dataclass
class CollectionReply:
    collection_id: str | None
    sync_key: str | None
    status: int | None
    more_available: bool = False
    added: list[SyncItem] = field(default_factory=list)
    changed: list[SyncItem] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    soft_deleted: list[str] = field(default_factory=list)
    responses: list[ClientResponse] = field(default_factory=list)
    response: EasResponse | None = field(default=None, repr=False)


@dataclass
class SyncReply:
    """A Sync response; an empty body (no changes, 12.1+) gives no collections."""

    status: int | None
    collections: list[CollectionReply] = field(default_factory=list)
    response: EasResponse | None = field(default=None, repr=False)

    def collection(self, collection_id: str) -> CollectionReply | None:
        return next((c for c in self.collections if c.collection_id == collection_id), None)


def _item(el: etree._Element) -> SyncItem:
    return SyncItem(server_id=text(el, "AirSync:ServerId") or "", data=el.find(clark("AirSync:ApplicationData")),
                    item_class=text(el, "AirSync:Class"))


def _collection(el: etree._Element) -> CollectionReply:
    commands = el.find(clark("AirSync:Commands"))
    responses = el.find(clark("AirSync:Responses"))
    reply = CollectionReply(
        collection_id=text(el, "AirSync:CollectionId"), sync_key=text(el, "AirSync:SyncKey"),
        status=number(el, "AirSync:Status"), more_available=el.find(clark("AirSync:MoreAvailable")) is not None,
        added=[_item(a) for a in children(commands, "AirSync:Add")],
        changed=[_item(c) for c in children(commands, "AirSync:Change")],
        deleted=[text(d, "AirSync:ServerId") or "" for d in children(commands, "AirSync:Delete")],
        soft_deleted=[text(d, "AirSync:ServerId") or "" for d in children(commands, "AirSync:SoftDelete")])
    for answer in [] if responses is None else responses:
        reply.responses.append(ClientResponse(
            kind=etree.QName(answer).localname, status=number(answer, "AirSync:Status"),
            client_id=text(answer, "AirSync:ClientId"), server_id=text(answer, "AirSync:ServerId"),
            data=answer.find(clark("AirSync:ApplicationData"))))
    return reply


def read_sync(root: etree._Element | None) -> SyncReply:
    if root is None:
        return SyncReply(status=None)
    return SyncReply(status=number(root, "AirSync:Status"),
                     collections=[_collection(c) for c in root.iterfind("{AirSync}Collections/{AirSync}Collection")])
