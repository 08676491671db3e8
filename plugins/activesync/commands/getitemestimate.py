"""GetItemEstimate (MS-ASCMD 2.2.1.9): how many changes a Sync would bring.

Statuses (2.2.3.177.7): 1 success, 2 unknown collection, 3 sync state not
primed (no Sync with key 0 yet, or key 0 given), 4 invalid sync key. Before
14.0 the FilterType sits in the Collection, from 14.0 in Options; without
either, the FilterType the collection was synced with applies, as in Sync.
The count is the Sync's own (:func:`plugins.activesync.commands.sync.estimate`):
new mail, changes, deletions, and the Adds and SoftDeletes a changed or
moving FilterType window brings.
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync import syncstate
from plugins.activesync.backend import FolderNotFound
from plugins.activesync.context import CommandContext
from plugins.activesync.commands import sync
from plugins.activesync.items.options import OptionsError, parse_options
from plugins.activesync.personas import V14_0
from plugins.activesync.syncstate import CollectionState
from plugins.activesync.wbxml import element

NAME = "GetItemEstimate"
ROOT = "GetItemEstimate:GetItemEstimate"
GIE, AS = "{GetItemEstimate}", "{AirSync}"


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    entries = request.findall(f"{GIE}Collections/{GIE}Collection") if request is not None else []
    if not entries:
        return element(ROOT, None, element("GetItemEstimate:Status", "2"))
    root = element(ROOT)
    for entry in entries:
        collection_id = (entry.findtext(f"{GIE}CollectionId") or "").strip()
        status, estimate = _estimate(ctx, entry, collection_id)
        collection = element("GetItemEstimate:Collection")
        if ctx.version < V14_0:
            collection.append(element("GetItemEstimate:Class", entry.findtext(f"{GIE}Class") or "Email"))
        collection.append(element("GetItemEstimate:CollectionId", collection_id))
        if status == 1:
            collection.append(element("GetItemEstimate:Estimate", str(estimate)))
        root.append(element("GetItemEstimate:Response", None, element("GetItemEstimate:Status", str(status)),
                            collection))
    return root


def _estimate(ctx: CommandContext, entry: etree._Element, collection_id: str) -> tuple[int, int]:
    try:
        folder = ctx.backend.folder(collection_id)
    except FolderNotFound:
        return 2, 0
    key = (entry.findtext(f"{AS}SyncKey") or "").strip()
    raw = ctx.get_state(syncstate.state_name(collection_id))
    if key == "0" or raw is None:
        return 3, 0
    state = CollectionState.from_json(raw)
    if key != state.key:
        return 4, 0
    given = entry.findall(f"{AS}Options") or ([entry] if entry.find(f"{AS}FilterType") is not None else [])
    try:
        options = parse_options(given)
    except OptionsError:
        return 4, 0
    return 1, sync.estimate(ctx, collection_id, folder.type, state, options, options_given=bool(given))
