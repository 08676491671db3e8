"""Find (MS-ASCMD 2.2.1.2, protocol 16.1): the mailbox or the GAL, with short results.

``ExecuteSearch`` holds one ``MailBoxSearchCriterion`` (Query of
airsync:Class, airsync:CollectionId, FreeText; Options Range and
DeepTraversal) or one GAL criterion (Query a string; the codec spells its
tag ``GalSearchCriterion`` as MS-ASWBXML does). Mail results carry the list
view only: Subject, DateReceived, DisplayTo, DisplayCc, DisplayBcc,
Importance, Read, IsDraft, Preview, HasAttachments, From; GAL results the
Gal page as Search does.

Statuses (2.2.3.177.2): Find 1, 2 invalid request, 3 FolderSync required
(an unknown CollectionId); Response 1, 2, 4 a Range not starting at 0.
"""
from __future__ import annotations

from email.utils import getaddresses

from lxml import etree

from plugins.activesync import gal, items
from plugins.activesync.backend import ItemNotFound
from plugins.activesync.commands.search import (
    FOLDER_SYNC_REQUIRED,
    MailboxQuery,
    SearchRefused,
    find_items,
    parse_range,
)
from plugins.activesync.context import CommandContext
from plugins.activesync.errors import not_in_version
from plugins.activesync.items.body import parse_message, xml_text
from plugins.activesync.items.values import eas_datetime
from plugins.activesync.personas import ProtocolVersion
from plugins.activesync.wbxml import element

NAME = "Find"
ROOT = "Find:Find"
FI, AS = "{Find}", "{AirSync}"
V16_1 = ProtocolVersion(16, 1)
SUCCESS, INVALID, FOLDER_SYNC, RANGE_NOT_FROM_ZERO = 1, 2, 3, 4
PREVIEW_CHARS = 255


def _names(header: str) -> str:
    return "; ".join(name or address for name, address in getaddresses([header]) if name or address)


def _mail_properties(ctx: CommandContext, server_id: str) -> etree._Element | None:
    try:
        item = ctx.backend.get_item(server_id)
    except ItemNotFound:
        return None
    parsed = parse_message(ctx.backend.get_mime(server_id))
    out = element("Find:Properties", None, element("Email:Subject", xml_text(item.subject)),
                  element("Email:DateReceived", eas_datetime(item.date_received)),
                  element("Email:DisplayTo", xml_text(_names(item.to))))
    if item.cc:
        out.append(element("Find:DisplayCc", xml_text(_names(item.cc))))
    out.extend([element("Email:Importance", str(item.importance)),
                element("Email:Read", "1" if item.read else "0"),
                element("Email2:IsDraft", "1" if parsed.unsent else "0"),  # as Sync shows it (items/drafts.py)
                element("Find:Preview", xml_text(" ".join(parsed.as_text().split()))[:PREVIEW_CHARS]),
                element("Find:HasAttachments", "1" if parsed.attachments else "0"),
                element("Email:From", xml_text(item.sender))])
    return out


def _response(store: str, status: int, results: list[etree._Element] = (), first: int = 0,
              total: int = 0) -> etree._Element:
    out = element("Find:Response", None, element("ItemOperations:Store", store),
                  element("Find:Status", str(status)))
    if status == SUCCESS:
        out.extend(results)
        if results:
            out.append(element("Find:Range", f"{first}-{first + len(results) - 1}"))
        out.append(element("Find:Total", str(total)))
    return out


def _range(options: etree._Element | None) -> tuple[int, int] | int:
    text = options.findtext(f"{FI}Range") if options is not None else None
    try:
        first, last = parse_range(text)
    except SearchRefused:  # malformed, or past the 100 results there are
        return INVALID
    return RANGE_NOT_FROM_ZERO if first != 0 else (first, last)


def _mailbox(ctx: CommandContext, criterion: etree._Element) -> etree._Element:
    query_el = criterion.find(f"{FI}Query")
    options = criterion.find(f"{FI}Options")
    bounds = _range(options)
    if isinstance(bounds, int):
        return _response("Mailbox", bounds)
    if query_el is None:
        return _response("Mailbox", INVALID)
    query = MailboxQuery(
        classes=[(c.text or "").strip() for c in query_el.findall(f"{AS}Class")],
        collection_ids=[(c.text or "").strip() for c in query_el.findall(f"{AS}CollectionId")],
        free_text=(query_el.findtext(f"{FI}FreeText") or "").strip())
    deep = options is not None and options.find(f"{FI}DeepTraversal") is not None
    found = find_items(ctx, query, deep)  # SearchRefused(11) for an unknown folder: Find Status 3
    folder_types = {f.server_id: f.type for f in ctx.backend.folders()}
    first, last = bounds
    results = []
    for server_id in found[first:last + 1]:
        folder_id = server_id.partition(":")[0]
        folder_type = folder_types.get(folder_id, 1)
        properties = _mail_properties(ctx, server_id)
        if properties is None:
            continue
        klass = items.CLASS_BY_FOLDER_TYPE.get(folder_type, items.EMAIL)
        results.append(element("Find:Result", None, element("AirSync:Class", klass),
                               element("AirSync:ServerId", server_id), element("AirSync:CollectionId", folder_id),
                               properties))
    return _response("Mailbox", SUCCESS, results, first, len(found))


def _gal(ctx: CommandContext, criterion: etree._Element) -> etree._Element:
    query = (criterion.findtext(f"{FI}Query") or "").strip()
    options = criterion.find(f"{FI}Options")
    bounds = _range(options)
    if isinstance(bounds, int):
        return _response("GAL", bounds)
    if not query:
        return _response("GAL", INVALID)
    wants_picture = options is not None and options.find(f"{FI}Picture") is not None
    matches = gal.search(ctx, query)
    first, last = bounds
    results = []
    for entry in matches[first:last + 1]:
        properties = element("Find:Properties", None, *gal.properties(entry))
        if wants_picture:
            properties.append(gal.no_picture())
        results.append(element("Find:Result", None, properties))
    return _response("GAL", SUCCESS, results, first, len(matches))


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    if ctx.version < V16_1:
        raise not_in_version(ctx.version, NAME)
    execute = request.find(f"{FI}ExecuteSearch") if request is not None else None
    criteria = list(execute) if execute is not None else []
    if request is None or not (request.findtext(f"{FI}SearchId") or "").strip() or len(criteria) != 1:
        ctx.usage.status = INVALID
        return element(ROOT, None, element("Find:Status", str(INVALID)))
    criterion = criteria[0]
    kind = etree.QName(criterion).localname
    try:
        if kind == "MailBoxSearchCriterion":
            response = _mailbox(ctx, criterion)
        elif kind in ("GalSearchCriterion", "GALSearchCriterion"):
            response = _gal(ctx, criterion)
        else:
            raise SearchRefused(INVALID)
    except SearchRefused as refusal:
        status = FOLDER_SYNC if refusal.status == FOLDER_SYNC_REQUIRED else INVALID
        ctx.usage.status = status
        return element(ROOT, None, element("Find:Status", str(status)))
    ctx.usage.status = int(response.findtext(f"{FI}Status") or 1)
    return element(ROOT, None, element("Find:Status", str(SUCCESS)), response)
