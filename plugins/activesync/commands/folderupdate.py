"""FolderUpdate (MS-ASCMD 2.2.1.6): rename and/or move a user folder.

Statuses (2.2.3.177.6): 1 success, 2 name exists, 3 special folder, 4 folder
does not exist, 5 parent not found, 6 server error, 9 sync key, 10 malformed.
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync import hierarchy
from plugins.activesync.backend import BackendError, FolderNameTaken, FolderNotFound, MailboxFull, SpecialFolder
from plugins.activesync.context import CommandContext
from plugins.activesync.wbxml import element

NAME = "FolderUpdate"
ROOT = "FolderHierarchy:FolderUpdate"
FH = "{FolderHierarchy}"


def _status(status: int) -> etree._Element:
    return hierarchy.status_answer(ROOT, status)


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    if request is None:
        return _status(10)
    key, server_id, parent, name = (request.findtext(f"{FH}{t}") for t in ("SyncKey", "ServerId", "ParentId",
                                                                              "DisplayName"))
    if None in (key, server_id, parent, name) or not name.strip():
        return _status(10)
    state = hierarchy.load(ctx)
    if not state.generation or key.strip() != state.key:
        return _status(9)
    try:
        ctx.backend.folder(server_id.strip())
    except FolderNotFound:
        return _status(4)
    if parent.strip() != "0":
        try:
            ctx.backend.folder(parent.strip())
        except FolderNotFound:
            return _status(5)
    try:
        info = ctx.backend.update_folder(server_id.strip(), parent.strip(), name)
    except FolderNameTaken:
        return _status(2)
    except SpecialFolder:
        return _status(3)
    except FolderNotFound:
        return _status(5)
    except MailboxFull:
        raise
    except BackendError:
        return _status(6)
    state.remember(info)
    state.advance([])
    hierarchy.save(ctx, state)
    return element(ROOT, None, element("FolderHierarchy:Status", "1"), element("FolderHierarchy:SyncKey", state.key))
