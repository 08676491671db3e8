"""FolderDelete (MS-ASCMD 2.2.1.4).

Exchange moves a deleted folder into Deleted Items, as OWA does; the device
just sees it gone from its place (and, on its next FolderSync, reappear
under Deleted Items). Statuses (2.2.3.177.4): 1 success, 3 special folder,
4 folder does not exist, 6 server error, 9 sync key, 10 malformed.
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync import hierarchy
from plugins.activesync.backend import BackendError, FolderNotFound, MailboxFull, SpecialFolder
from plugins.activesync.context import CommandContext
from plugins.activesync.wbxml import element

NAME = "FolderDelete"
ROOT = "FolderHierarchy:FolderDelete"
FH = "{FolderHierarchy}"


def _status(status: int) -> etree._Element:
    return hierarchy.status_answer(ROOT, status)


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    if request is None:
        return _status(10)
    key, server_id = request.findtext(f"{FH}SyncKey"), request.findtext(f"{FH}ServerId")
    if key is None or server_id is None:
        return _status(10)
    state = hierarchy.load(ctx)
    if not state.generation or key.strip() != state.key:
        return _status(9)
    try:
        ctx.backend.delete_folder(server_id.strip())
    except FolderNotFound:
        return _status(4)
    except SpecialFolder:
        return _status(3)
    except MailboxFull:
        raise
    except BackendError:
        return _status(6)
    state.forget(server_id.strip())
    state.advance([])
    hierarchy.save(ctx, state)
    return element(ROOT, None, element("FolderHierarchy:Status", "1"), element("FolderHierarchy:SyncKey", state.key))
