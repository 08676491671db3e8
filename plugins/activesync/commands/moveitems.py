"""MoveItems (MS-ASCMD 2.2.1.12): move items between folders; each move gets the item's new ServerId.

One Response per Move, children in order SrcMsgId, Status, DstMsgId
(2.2.3.153.5). Statuses (2.2.3.177.10): 1 the source folder or item is
unknown (or the item is not in that folder), 2 the destination folder is
unknown, 3 success (DstMsgId follows), 4 source and destination are the same
folder, 5 the move failed (here: a folder of another class, e.g. mail into
Contacts, or the store refused), 7 the item is locked (not produced by this
store). Moves are allowed over quota, as in Exchange. The next Sync of the
two folders shows the move as a Delete and an Add.
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync import items
from plugins.activesync.backend import BackendError, FolderNotFound, ItemNotFound
from plugins.activesync.context import CommandContext
from plugins.activesync.errors import CommonStatus
from plugins.activesync.wbxml import element

NAME = "MoveItems"
ROOT = "Move:MoveItems"
MV = "{Move}"
INVALID_SOURCE, INVALID_DESTINATION, SUCCESS, SAME_FOLDER, FAILED = 1, 2, 3, 4, 5


def _class_of(folder_type: int) -> str:
    return items.CLASS_BY_FOLDER_TYPE.get(folder_type, items.EMAIL)


def _move(ctx: CommandContext, src_msg: str, src_folder: str, dst_folder: str) -> tuple[int, str]:
    backend = ctx.backend
    try:
        source = backend.folder(src_folder)
        item = backend.get_item(src_msg)
    except (FolderNotFound, ItemNotFound):
        return INVALID_SOURCE, ""
    if item.folder_id != source.server_id:
        return INVALID_SOURCE, ""
    try:
        destination = backend.folder(dst_folder)
    except FolderNotFound:
        return INVALID_DESTINATION, ""
    if destination.server_id == source.server_id:
        return SAME_FOLDER, ""
    if _class_of(destination.type) != _class_of(source.type):
        return FAILED, ""
    try:
        return SUCCESS, backend.move_item(src_msg, destination.server_id)
    except ItemNotFound:
        return INVALID_SOURCE, ""
    except BackendError:
        return FAILED, ""


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    moves = request.findall(f"{MV}Move") if request is not None else []
    if not moves:
        raise CommonStatus(103, "MoveItems without a Move element")
    out = element(ROOT)
    worst = SUCCESS
    for move in moves:
        src_msg, src_folder, dst_folder = ((move.findtext(f"{MV}{name}") or "").strip()
                                           for name in ("SrcMsgId", "SrcFldId", "DstFldId"))
        status, new_id = _move(ctx, src_msg, src_folder, dst_folder)
        response = element("Move:Response", None, element("Move:SrcMsgId", src_msg),
                           element("Move:Status", str(status)))
        if status == SUCCESS:
            response.append(element("Move:DstMsgId", new_id))
        else:
            worst = status
        out.append(response)
    ctx.usage.folders = len(moves)
    ctx.usage.status = worst
    return out
