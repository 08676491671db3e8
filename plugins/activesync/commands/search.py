"""Search (MS-ASCMD 2.2.1.16): the GAL (2.5 and later) and the mailbox (12.0 and later).

One Store per request. GAL: ``Query`` is a string matched by ambiguous name
resolution (:mod:`plugins.activesync.gal`); each Result carries
``Properties`` of the Gal page, and (14.1+) a requested ``Picture`` answers
Status 173, as the directory holds no photos. Mailbox: ``Query`` holds an
``And`` of ``airsync:Class``, ``airsync:CollectionId``, ``FreeText``, and
``GreaterThan``/``LessThan`` on ``email:DateReceived``; Options give Range,
DeepTraversal (the folders below CollectionId too) and the body options of
Sync. Each Result is Class, LongId (what ItemOperations, SmartReply and
MeetingResponse accept), CollectionId, Properties; newest first.

``Range`` is "m-n", zero-based and inclusive, 0-99 by default; at most 100
results exist, so a range reaching past index 99 is Store Status 12
(2.2.3.143.3). No match is Status 1 with an empty ``Result`` and Total 0.
Store statuses (2.2.3.177.13): 1, 2 invalid request, 3 server error,
5 access denied (the DocumentLibrary store is not offered), 11 a
CollectionId the server does not know (FolderSync required), 12 range.
The Search element's own Status is 1, or 3 for a server error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from plugins.activesync import gal, items
from plugins.activesync.backend import BackendError, FolderNotFound, ItemNotFound, ItemQuery
from plugins.activesync.context import CommandContext
from plugins.activesync.errors import CommonStatus
from plugins.activesync.items.conversation import conversation_id
from plugins.activesync.items.options import OptionsError, parse_options
from plugins.activesync.items.values import parse_datetime
from plugins.activesync.personas import V12_0, V14_1
from plugins.activesync.wbxml import element, opaque_bytes

NAME = "Search"
ROOT = "Search:Search"
SE, AS, EM = "{Search}", "{AirSync}", "{Email}"
MAX_RESULTS = 100
SUCCESS, INVALID, SERVER_ERROR, ACCESS_DENIED, FOLDER_SYNC_REQUIRED, BAD_RANGE = 1, 2, 3, 5, 11, 12


class SearchRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def parse_range(text: str | None, maximum: int = MAX_RESULTS) -> tuple[int, int]:
    """(first, last) of "m-n". :raises SearchRefused: 2 when malformed, 12 past the last result."""
    if text is None:
        return 0, maximum - 1
    first, sep, last = text.strip().partition("-")
    if not sep or not first.isdigit() or not last.isdigit() or int(first) > int(last):
        raise SearchRefused(INVALID)
    if int(last) >= maximum:
        raise SearchRefused(BAD_RANGE)
    return int(first), int(last)


def _store(status: int, results: list[etree._Element], first: int, total: int) -> etree._Element:
    store = element("Search:Store", None, element("Search:Status", str(status)))
    if status != SUCCESS:
        return store
    if results:
        store.extend(results)
        store.append(element("Search:Range", f"{first}-{first + len(results) - 1}"))
    else:
        store.append(element("Search:Result"))
    store.append(element("Search:Total", str(total)))
    return store


# -- GAL -------------------------------------------------------------------------------


def _gal(ctx: CommandContext, store: etree._Element) -> etree._Element:
    query = (store.findtext(f"{SE}Query") or "").strip()
    options = store.find(f"{SE}Options")
    if not query:
        return _store(INVALID, [], 0, 0)
    first, last = parse_range(options.findtext(f"{SE}Range") if options is not None else None)
    wants_picture = ctx.version >= V14_1 and options is not None and options.find(f"{SE}Picture") is not None
    matches = gal.search(ctx, query)
    results = []
    for entry in matches[first:last + 1]:
        properties = element("Search:Properties", None, *gal.properties(entry))
        if wants_picture:
            properties.append(gal.no_picture())
        results.append(element("Search:Result", None, properties))
    return _store(SUCCESS, results, first, len(matches))


# -- Mailbox ---------------------------------------------------------------------------


@dataclass
class MailboxQuery:
    classes: list[str] = field(default_factory=list)
    collection_ids: list[str] = field(default_factory=list)
    free_text: str = ""
    after: datetime | None = None
    before: datetime | None = None
    conversation: bytes | None = None


def _bound(el: etree._Element) -> datetime:
    if el.find(f"{EM}DateReceived") is None:
        raise SearchRefused(INVALID)  # GreaterThan/LessThan compare only email:DateReceived
    value = el.findtext(f"{SE}Value")
    try:
        return parse_datetime(value or "")
    except ValueError:
        raise SearchRefused(INVALID) from None


def parse_mailbox_query(query: etree._Element | None) -> MailboxQuery:
    if query is None or len(query) != 1:
        raise SearchRefused(INVALID)
    condition = query[0]
    terms = list(condition) if condition.tag == f"{SE}And" else [condition]
    parsed = MailboxQuery()
    for term in terms:
        tag = term.tag
        if tag == f"{AS}Class":
            parsed.classes.append((term.text or "").strip())
        elif tag == f"{AS}CollectionId":
            parsed.collection_ids.append((term.text or "").strip())
        elif tag == f"{SE}FreeText":
            parsed.free_text = " ".join(filter(None, (parsed.free_text, (term.text or "").strip())))
        elif tag == f"{SE}GreaterThan":
            parsed.after = _bound(term)
        elif tag == f"{SE}LessThan":
            parsed.before = _bound(term)
        elif tag == f"{SE}ConversationId":
            parsed.conversation = opaque_bytes(term) or (term.text or "").encode("utf-8")
        else:
            raise SearchRefused(INVALID)
    return parsed


def search_folders(ctx: CommandContext, collection_ids: list[str], classes: list[str],
                   deep: bool) -> list[str]:
    """The folders a mailbox query covers: the named ones (and below, with DeepTraversal), else every
    folder of the asked classes. :raises SearchRefused: 11 for a folder the device should not know."""
    folders = ctx.backend.folders()
    wanted = set(classes or [items.EMAIL])
    if not collection_ids:
        return [f.server_id for f in folders if items.CLASS_BY_FOLDER_TYPE.get(f.type) in wanted]
    known = {f.server_id for f in folders}
    chosen: list[str] = []
    for collection_id in collection_ids:
        if collection_id not in known:
            raise SearchRefused(FOLDER_SYNC_REQUIRED)
        chosen.append(collection_id)
    if deep:
        for _ in range(len(folders)):  # bounded: each round adds a level
            below = [f.server_id for f in folders if f.parent_id in chosen and f.server_id not in chosen]
            if not below:
                break
            chosen += below
    return chosen


def find_items(ctx: CommandContext, query: MailboxQuery, deep: bool) -> list[str]:
    folder_ids = search_folders(ctx, query.collection_ids, query.classes, deep)
    found = ctx.backend.search_items(ItemQuery(tuple(folder_ids), query.free_text, query.after, query.before))
    if query.conversation is not None:
        found = [i for i in found if conversation_id(ctx.backend.get_item(i).subject) == query.conversation]
    return found


def _mailbox(ctx: CommandContext, store: etree._Element) -> etree._Element:
    if ctx.version < V12_0:
        return _store(INVALID, [], 0, 0)  # 2.5 searches only the GAL
    options = store.find(f"{SE}Options")
    first, last = parse_range(options.findtext(f"{SE}Range") if options is not None else None)
    query = parse_mailbox_query(store.find(f"{SE}Query"))
    deep = options is not None and options.find(f"{SE}DeepTraversal") is not None
    try:
        item_options = parse_options([options]) if options is not None else parse_options([])
    except OptionsError:
        raise SearchRefused(INVALID) from None
    found = find_items(ctx, query, deep)
    folder_types = {f.server_id: f.type for f in ctx.backend.folders()}
    results = []
    for server_id in found[first:last + 1]:
        try:
            item = ctx.backend.get_item(server_id)
        except ItemNotFound:
            continue
        klass = items.CLASS_BY_FOLDER_TYPE.get(folder_types.get(item.folder_id, 1), items.EMAIL)
        data = items.application_data(klass, item, ctx.backend, item_options, ctx.version)
        results.append(element("Search:Result", None, element("AirSync:Class", klass),
                               element("Search:LongId", server_id), element("AirSync:CollectionId", item.folder_id),
                               element("Search:Properties", None, *list(data))))
    return _store(SUCCESS, results, first, len(found))


# -- the command -------------------------------------------------------------------------


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    stores = request.findall(f"{SE}Store") if request is not None else []
    if len(stores) != 1:
        raise CommonStatus(103, "a Search request holds exactly one Store")
    store = stores[0]
    name = (store.findtext(f"{SE}Name") or "").strip().casefold()
    try:
        if name == "gal":
            answer = _gal(ctx, store)
        elif name == "mailbox":
            answer = _mailbox(ctx, store)
        elif name == "documentlibrary":
            answer = _store(ACCESS_DENIED, [], 0, 0)
        else:
            answer = _store(INVALID, [], 0, 0)
    except SearchRefused as refusal:
        answer = _store(refusal.status, [], 0, 0)
    except (BackendError, FolderNotFound):
        ctx.usage.status = SERVER_ERROR
        return element(ROOT, None, element("Search:Status", str(SERVER_ERROR)))
    ctx.usage.status = int(answer.findtext(f"{SE}Status") or 1)
    return element(ROOT, None, element("Search:Status", str(SUCCESS)), element("Search:Response", None, answer))
