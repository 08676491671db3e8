"""ItemOperations (MS-ASCMD 2.2.1.10): Fetch, EmptyFolderContents and (14.0+) conversation Move.

Fetch takes an item by CollectionId and ServerId, a Search result by
LongId, or an attachment by FileReference, with the same Options as Sync
(BodyPreference, MIMESupport) plus Range for attachment bytes and Schema
to name the properties wanted. Content is inline (attachments base64 in
``Data``) unless the device sent ``MS-ASAcceptMultiPart: T``; then the
answer is the MultiPartResponse of 2.2.1.10.1.1 (part 0 the WBXML, each
``Part`` element the index of a binary part) with Content-Type
``application/vnd.ms-sync.multipart``.

Statuses (2.2.3.177.8): 1 success, 2 protocol error, 3 server error,
6 object not found, 8 bad byte range, 9 unknown or unsupported store (the
DocumentLibrary store is not offered), 15 attachment reference invalid,
105 Move to the recipient information cache, 156 Move to a folder that is
not a mail folder. Not part of protocol 2.5.
"""
from __future__ import annotations

import base64
import struct

from lxml import etree
from webob import Response

from plugins.activesync import items
from plugins.activesync.backend import BackendError, FolderNotFound, ItemNotFound
from plugins.activesync.context import CommandContext
from plugins.activesync.errors import not_in_version
from plugins.activesync.items.attachments import attachment, split_reference
from plugins.activesync.items.conversation import conversation_id
from plugins.activesync.items.options import ItemOptions, OptionsError, parse_options
from plugins.activesync.personas import V12_0, V14_0
from plugins.activesync.wbxml import element, encode, opaque_bytes

NAME = "ItemOperations"
ROOT = "ItemOperations:ItemOperations"
IO, AS, ASB, SE = "{ItemOperations}", "{AirSync}", "{AirSyncBase}", "{Search}"
MULTIPART_TYPE = "application/vnd.ms-sync.multipart"

SUCCESS, PROTOCOL_ERROR, SERVER_ERROR, NOT_FOUND = 1, 2, 3, 6
BAD_RANGE, UNKNOWN_STORE, BAD_ATTACHMENT = 8, 9, 15
RECIPIENT_CACHE, NOT_MAIL_FOLDER = 105, 156
RECIPIENT_INFO_CACHE_TYPE = 19


class _Parts:
    """Binary parts of a multipart answer (part 0 is the WBXML itself), or None when inline."""

    def __init__(self) -> None:
        self.data: list[bytes] = []

    def add(self, data: bytes) -> int:
        self.data.append(data)
        return len(self.data)  # index in the MultiPartResponse: after the WBXML part


def _text(el: etree._Element, path: str) -> str | None:
    found = el.find(path)
    return None if found is None else (found.text or "").strip()


# -- Fetch -------------------------------------------------------------------------


def _byte_range(text: str | None, total: int) -> tuple[int, int] | None:
    """MS-ASCMD 2.2.3.143.2: "m-n", zero-based and inclusive; None when invalid."""
    if text is None:
        return 0, total - 1
    first, sep, last = text.partition("-")
    if not sep or not first.isdigit() or not last.isdigit():
        return None
    start, end = int(first), int(last)
    if start > end or (total and start >= total):
        return None
    return start, min(end, total - 1)


def _fetch_attachment(ctx: CommandContext, reference: str, options: etree._Element | None,
                      parts: _Parts | None) -> tuple[int, etree._Element | None]:
    split = split_reference(reference)
    if split is None:
        return BAD_ATTACHMENT, None
    server_id, number = split
    try:
        item = ctx.backend.get_item(server_id)
        found = attachment(ctx.backend.get_mime(server_id), number, item.properties)
    except ItemNotFound:
        return BAD_ATTACHMENT, None
    if found is None:
        return BAD_ATTACHMENT, None
    total = len(found.data)
    range_text = _text(options, f"{IO}Range") if options is not None else None
    bounds = _byte_range(range_text, total)
    if bounds is None:
        return BAD_RANGE, None
    start, end = bounds
    data = found.data[start:end + 1]
    properties = element("ItemOperations:Properties", None, element("AirSyncBase:ContentType", found.content_type))
    if range_text is not None:
        properties.append(element("ItemOperations:Range", f"{start}-{start + max(len(data), 1) - 1}"))
        properties.append(element("ItemOperations:Total", str(total)))
    if parts is not None:
        properties.append(element("ItemOperations:Part", str(parts.add(data))))
    else:
        properties.append(element("ItemOperations:Data", base64.b64encode(data).decode("ascii")))
    return SUCCESS, properties


def _schema_filter(properties: etree._Element, options: etree._Element | None) -> None:
    """Options/Schema names the properties wanted (MS-ASEMAIL 3.2.5.2): drop the others."""
    schema = options.find(f"{IO}Schema") if options is not None else None
    if schema is None or not len(schema):
        return
    wanted = {child.tag for child in schema}
    for child in list(properties):
        if child.tag not in wanted:
            properties.remove(child)


def _fetch_item(ctx: CommandContext, server_id: str, collection_id: str | None,
                options: etree._Element | None, parts: _Parts | None) -> tuple[int, str, etree._Element | None]:
    backend = ctx.backend
    try:
        item = backend.get_item(server_id)
        folder = backend.folder(item.folder_id)
    except (ItemNotFound, FolderNotFound):
        return NOT_FOUND, "", None
    if collection_id is not None and collection_id != item.folder_id:
        return NOT_FOUND, "", None
    klass = items.CLASS_BY_FOLDER_TYPE.get(folder.type, items.EMAIL)
    if not items.class_available(klass, ctx.version):
        return PROTOCOL_ERROR, klass, None
    try:
        item_options = parse_options([options]) if options is not None else ItemOptions()
    except OptionsError:
        return PROTOCOL_ERROR, klass, None
    data = items.application_data(klass, item, backend, item_options, ctx.version)
    properties = element("ItemOperations:Properties")
    properties.extend(list(data))
    _schema_filter(properties, options)
    body = properties.find(f"{ASB}Body")
    if parts is not None and body is not None:
        # MS-ASCMD 2.2.3.130: in a multipart answer Part replaces the body's Data.
        body_data = body.find(f"{ASB}Data")
        if body_data is not None:
            index = parts.add((body_data.text or "").encode("utf-8"))
            body.replace(body_data, element("ItemOperations:Part", str(index)))
    return SUCCESS, klass, properties


def _fetch(ctx: CommandContext, fetch: etree._Element, parts: _Parts | None) -> etree._Element:
    store = _text(fetch, f"{IO}Store")
    options = fetch.find(f"{IO}Options")
    reference = _text(fetch, f"{ASB}FileReference")
    long_id = _text(fetch, f"{SE}LongId")
    server_id = _text(fetch, f"{AS}ServerId")
    collection_id = _text(fetch, f"{AS}CollectionId")
    out = element("ItemOperations:Fetch")
    status = element("ItemOperations:Status", str(SUCCESS))
    out.append(status)
    if store is None or store.casefold() != "mailbox":
        status.text = str(UNKNOWN_STORE if store else PROTOCOL_ERROR)
        return out
    if reference is not None:
        code, properties = _fetch_attachment(ctx, reference, options, parts)
        status.text = str(code)
        out.append(element("AirSyncBase:FileReference", reference))
        if properties is not None:
            out.append(properties)
        return out
    if long_id:
        code, klass, properties = _fetch_item(ctx, long_id, None, options, parts)
        out.append(element("Search:LongId", long_id))
    elif server_id and collection_id:
        code, klass, properties = _fetch_item(ctx, server_id, collection_id, options, parts)
        out.append(element("AirSync:CollectionId", collection_id))
        out.append(element("AirSync:ServerId", server_id))
    else:
        status.text = str(PROTOCOL_ERROR)
        return out
    status.text = str(code)
    if properties is not None:
        out.append(element("AirSync:Class", klass))
        out.append(properties)
    return out


# -- EmptyFolderContents and Move ----------------------------------------------------


def _empty_folder(ctx: CommandContext, request: etree._Element) -> etree._Element:
    """Items of Deleted Items are removed; elsewhere they go to Deleted Items, as a delete in Outlook."""
    collection_id = _text(request, f"{AS}CollectionId") or ""
    delete_subfolders = request.find(f"{IO}Options/{IO}DeleteSubFolders") is not None
    backend = ctx.backend
    code = SUCCESS
    try:
        folder = backend.folder(collection_id)
        hard = folder.type == 4  # Deleted Items
        for server_id in backend.list_item_ids(collection_id):
            backend.delete_item(server_id, to_deleted_items=not hard)
        if delete_subfolders:
            for child in [f for f in backend.folders() if f.parent_id == collection_id]:
                backend.delete_folder(child.server_id)
    except FolderNotFound:
        code = NOT_FOUND
    except BackendError:  # an item vanished meanwhile, or the store refused
        code = SERVER_ERROR
    return element("ItemOperations:EmptyFolderContents", None, element("ItemOperations:Status", str(code)),
                   element("AirSync:CollectionId", collection_id))


def _move_conversation(ctx: CommandContext, request: etree._Element) -> etree._Element:
    """Every mail item of the conversation, wherever it is (but Deleted Items), to DstFldId (MS-ASCON 3.2.5.1)."""
    conversation_el = request.find(f"{IO}ConversationId")
    conversation = opaque_bytes(conversation_el) if conversation_el is not None else None
    if conversation is None and conversation_el is not None:
        conversation = (conversation_el.text or "").encode("utf-8")
    out = element("ItemOperations:Move")
    out.append(element("ItemOperations:ConversationId", conversation or b""))
    code = _move_conversation_status(ctx, conversation, _text(request, f"{IO}DstFldId") or "")
    out.append(element("ItemOperations:Status", str(code)))
    return out


def _move_conversation_status(ctx: CommandContext, conversation: bytes | None, destination_id: str) -> int:
    backend = ctx.backend
    if not conversation or not destination_id:
        return PROTOCOL_ERROR
    try:
        destination = backend.folder(destination_id)
    except FolderNotFound:
        return NOT_FOUND
    if destination.type == RECIPIENT_INFO_CACHE_TYPE:
        return RECIPIENT_CACHE
    if items.CLASS_BY_FOLDER_TYPE.get(destination.type) != items.EMAIL:
        return NOT_MAIL_FOLDER
    moved = 0
    try:
        for folder in backend.folders():
            if folder.server_id == destination_id or folder.type == 4 \
                    or items.CLASS_BY_FOLDER_TYPE.get(folder.type) != items.EMAIL:
                continue
            for server_id in backend.list_item_ids(folder.server_id):
                if conversation_id(backend.get_item(server_id).subject) == conversation:
                    backend.move_item(server_id, destination_id)
                    moved += 1
    except BackendError:
        return SERVER_ERROR
    return SUCCESS if moved else NOT_FOUND


# -- the command ----------------------------------------------------------------------


def _multipart(root: etree._Element, parts: _Parts) -> Response:
    """MS-ASCMD 2.2.1.10.1.1 MultiPartResponse: PartCount, (Offset, Length) per part, the parts."""
    blobs = [encode(root), *parts.data]
    offset = 4 + 8 * len(blobs)
    meta = bytearray(struct.pack("<i", len(blobs)))
    for blob in blobs:
        meta += struct.pack("<ii", offset, len(blob))
        offset += len(blob)
    response = Response(status=200, body=bytes(meta) + b"".join(blobs))
    response.headers["Content-Type"] = MULTIPART_TYPE
    return response


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element | Response:
    if ctx.version < V12_0:
        raise not_in_version(ctx.version, NAME)
    operations = list(request) if request is not None else []
    if not operations:
        ctx.usage.status = PROTOCOL_ERROR
        return element(ROOT, None, element("ItemOperations:Status", str(PROTOCOL_ERROR)))
    parts = _Parts() if ctx.query.accept_multipart else None
    response = element("ItemOperations:Response")
    for operation in operations:
        kind = etree.QName(operation).localname
        if kind == "Fetch":
            response.append(_fetch(ctx, operation, parts))
        elif kind == "EmptyFolderContents":
            response.append(_empty_folder(ctx, operation))
        elif kind == "Move" and ctx.version >= V14_0:
            response.append(_move_conversation(ctx, operation))
        else:
            ctx.usage.status = PROTOCOL_ERROR
            return element(ROOT, None, element("ItemOperations:Status", str(PROTOCOL_ERROR)))
    root = element(ROOT, None, element("ItemOperations:Status", str(SUCCESS)), response)
    ctx.usage.status = SUCCESS
    if parts is not None:
        return _multipart(root, parts)
    return root
