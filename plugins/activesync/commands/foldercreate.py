"""FolderCreate (MS-ASCMD 2.2.1.3).

Statuses (2.2.3.177.3): 1 success, 2 a folder of that name exists, 3 the
parent is a special folder... (here: a type a user cannot create), 5 parent
not found, 6 server error, 9 sync key mismatch, 10 malformed request.
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync import hierarchy
from plugins.activesync.backend import BackendError, FolderNameTaken, FolderNotFound, MailboxFull
from plugins.activesync.context import CommandContext
from plugins.activesync.wbxml import element

NAME = "FolderCreate"
ROOT = "FolderHierarchy:FolderCreate"
FH = "{FolderHierarchy}"
USER_TYPES = {1, 12, 13, 14, 15, 16, 17}


def _status(status: int) -> etree._Element:
    return hierarchy.status_answer(ROOT, status)


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    if request is None:
        return _status(10)
    key, parent, name, folder_type = (request.findtext(f"{FH}{t}") for t in ("SyncKey", "ParentId",
                                                                                "DisplayName", "Type"))
    if None in (key, parent, name, folder_type) or not (folder_type or "").strip().isdigit() or not name.strip():
        return _status(10)
    state = hierarchy.load(ctx)
    if not state.generation or key.strip() != state.key:
        return _status(9)
    if int(folder_type) not in USER_TYPES:
        return _status(3)
    try:
        info = ctx.backend.create_folder(parent.strip(), name, int(folder_type))
    except FolderNameTaken:
        return _status(2)
    except FolderNotFound:
        return _status(5)
    except MailboxFull:
        raise
    except BackendError:
        return _status(6)
    state.remember(info)
    state.advance([])
    hierarchy.save(ctx, state)
    return element(ROOT, None, element("FolderHierarchy:Status", "1"),
                   element("FolderHierarchy:SyncKey", state.key),
                   element("FolderHierarchy:ServerId", info.server_id))
