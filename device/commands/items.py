"""Commands on single items: ItemOperations Fetch, MoveItems, MeetingResponse (MS-ASCMD 2.2.1.10, .12, .11)."""
from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from ..response import EasResponse
from .tree import clark, leaf, node, number, text


@dataclass(frozen=True)
class FetchRequest:
    """One ItemOperations Fetch: an item (collection + server id), a search result
    (``long_id``) or an attachment (``file_reference``)."""

    store: str = "Mailbox"
    collection_id: str | None = None
    server_id: str | None = None
    long_id: str | None = None
    file_reference: str | None = None
    body_type: int | None = None
    truncation_size: int | None = None
    mime_support: int | None = None
    range: str | None = None

    def element(self) -> etree._Element:
        """Children in the order of the element table of MS-ASCMD 2.2.3.67.1."""
        preference = None
        if self.body_type is not None:
            preference = node("AirSyncBase:BodyPreference", leaf("AirSyncBase:Type", self.body_type),
                              leaf("AirSyncBase:TruncationSize", self.truncation_size))
        options = node("ItemOperations:Options", leaf("ItemOperations:Range", self.range),
                       leaf("AirSync:MIMESupport", self.mime_support), preference)
        return node("ItemOperations:Fetch",
                    leaf("ItemOperations:Store", self.store),
                    leaf("Search:LongId", self.long_id),
                    leaf("AirSync:CollectionId", self.collection_id),
                    leaf("AirSync:ServerId", self.server_id),
                    options if len(options) else None,
                    leaf("AirSyncBase:FileReference", self.file_reference))


def build_item_operations(fetches: Sequence[FetchRequest]) -> etree._Element:
    return node("ItemOperations:ItemOperations", *(f.element() for f in fetches))


@dataclass
class FetchedItem:
    status: int | None
    collection_id: str | None
    server_id: str | None
    long_id: str | None
    file_reference: str | None
    item_class: str | None
    properties: etree._Element | None
    content: bytes | None

    def field(self, ns_tag: str) -> str | None:
        return text(self.properties, ns_tag)


@dataclass
class ItemOperationsReply:
    status: int | None
    fetched: list[FetchedItem]
    response: EasResponse | None = field(default=None, repr=False)


def read_item_operations(root: etree._Element | None, parts: Sequence[bytes] = ()) -> ItemOperationsReply:
    """Fetched items with their bytes: inline base64 Data, inline body text, or a multipart Part."""
    if root is None:
        return ItemOperationsReply(status=None, fetched=[])
    fetched = []
    for fetch in root.iterfind("{ItemOperations}Response/{ItemOperations}Fetch"):
        properties = fetch.find("{ItemOperations}Properties")
        fetched.append(FetchedItem(
            status=number(fetch, "ItemOperations:Status"), collection_id=text(fetch, "AirSync:CollectionId"),
            server_id=text(fetch, "AirSync:ServerId"), long_id=text(fetch, "Search:LongId"),
            file_reference=text(fetch, "AirSyncBase:FileReference"), item_class=text(fetch, "AirSync:Class"),
            properties=properties, content=_content(properties, parts)))
    return ItemOperationsReply(status=number(root, "ItemOperations:Status"), fetched=fetched)


def _content(properties: etree._Element | None, parts: Sequence[bytes]) -> bytes | None:
    if properties is None:
        return None
    body = properties.find(clark("AirSyncBase:Body"))
    for holder in (properties, body):
        part = number(holder, "ItemOperations:Part")
        if part is not None and 0 <= part < len(parts):
            return parts[part]
    data = text(properties, "ItemOperations:Data")
    if data is not None:
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error:
            return data.encode("utf-8")
    body_data = text(body, "AirSyncBase:Data")
    return None if body_data is None else body_data.encode("utf-8")


@dataclass(frozen=True)
class MoveRequest:
    src_msg_id: str
    src_fld_id: str
    dst_fld_id: str


def build_move_items(moves: Sequence[MoveRequest]) -> etree._Element:
    """MS-ASCMD 2.2.1.12: Move elements of SrcMsgId, SrcFldId, DstFldId."""
    return node("Move:MoveItems", *(node("Move:Move", leaf("Move:SrcMsgId", m.src_msg_id),
                                         leaf("Move:SrcFldId", m.src_fld_id),
                                         leaf("Move:DstFldId", m.dst_fld_id)) for m in moves))


@dataclass
class MoveResult:
    src_msg_id: str | None
    status: int | None
    dst_msg_id: str | None


@dataclass
class MoveItemsReply:
    results: list[MoveResult] = field(default_factory=list)
    response: EasResponse | None = field(default=None, repr=False)


def read_move_items(root: etree._Element | None) -> MoveItemsReply:
    if root is None:
        return MoveItemsReply()
    return MoveItemsReply([MoveResult(text(r, "Move:SrcMsgId"), number(r, "Move:Status"), text(r, "Move:DstMsgId"))
                           for r in root.iterfind("{Move}Response")])


def build_meeting_response(user_response: int, *, collection_id: str | None = None, request_id: str | None = None,
                           long_id: str | None = None, instance_id: str | None = None) -> etree._Element:
    """UserResponse (1 accept, 2 tentative, 3 decline), then the meeting request's
    CollectionId and RequestId, or its search LongId; InstanceId is 14.1+."""
    return node("MeetingResponse:MeetingResponse", node(
        "MeetingResponse:Request",
        leaf("MeetingResponse:UserResponse", user_response),
        leaf("MeetingResponse:CollectionId", collection_id),
        leaf("MeetingResponse:RequestId", request_id),
        leaf("Search:LongId", long_id),
        leaf("MeetingResponse:InstanceId", instance_id)))


@dataclass
class MeetingResult:
    request_id: str | None
    status: int | None
    calendar_id: str | None


@dataclass
class MeetingResponseReply:
    results: list[MeetingResult] = field(default_factory=list)
    response: EasResponse | None = field(default=None, repr=False)


def read_meeting_response(root: etree._Element | None) -> MeetingResponseReply:
    if root is None:
        return MeetingResponseReply()
    return MeetingResponseReply([MeetingResult(text(r, "MeetingResponse:RequestId"),
                                               number(r, "MeetingResponse:Status"),
                                               text(r, "MeetingResponse:CalendarId"))
                                 for r in root.iterfind("{MeetingResponse}Result")])
