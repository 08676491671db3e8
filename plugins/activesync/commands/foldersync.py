"""FolderSync (MS-ASCMD 2.2.1.5): the folder hierarchy and its changes.

SyncKey 0 sends every visible folder as an Add; later keys send what
``hierarchy_changes`` reports since the last FolderSync, classified against
the folders the device knows (a changed folder it never saw is an Add, a
deleted one it never saw is nothing). Statuses (MS-ASCMD 2.2.3.177.5): 1
success, 9 unknown sync key, 10 malformed request.
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync import hierarchy
from plugins.activesync.backend import FolderInfo
from plugins.activesync.context import CommandContext
from plugins.activesync.wbxml import element

NAME = "FolderSync"
ROOT = "FolderHierarchy:FolderSync"
FH = "{FolderHierarchy}"


def status_only(status: int) -> etree._Element:
    return element(ROOT, None, element("FolderHierarchy:Status", str(status)))


def _entry(kind: str, folder: list) -> etree._Element:
    server_id, parent, name, folder_type = folder
    return element(f"FolderHierarchy:{kind}", None,
                   element("FolderHierarchy:ServerId", server_id),
                   element("FolderHierarchy:ParentId", parent),
                   element("FolderHierarchy:DisplayName", name),
                   element("FolderHierarchy:Type", str(folder_type)))


def _response(state: hierarchy.HierarchyState, changes: list) -> etree._Element:
    body = element("FolderHierarchy:Changes", None, element("FolderHierarchy:Count", str(len(changes))))
    for kind, folder in changes:
        if kind == "Delete":
            body.append(element("FolderHierarchy:Delete", None, element("FolderHierarchy:ServerId", folder)))
        else:
            body.append(_entry(kind, folder))
    return element(ROOT, None, element("FolderHierarchy:Status", "1"),
                   element("FolderHierarchy:SyncKey", state.key), body)


def _as_list(info: FolderInfo) -> list:
    return [info.server_id, info.parent_id, info.display_name, info.type]


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    key = request.findtext(f"{FH}SyncKey") if request is not None else None
    if key is None:
        return status_only(10)
    key = key.strip()
    state = hierarchy.load(ctx)
    if state.generation and key == state.previous_key:
        return _response(state, state.previous_changes)  # a retry: the same changes again
    if key == "0":
        state.reset()
        mark = ctx.backend.hierarchy_mark()
        changes = [["Add", _as_list(f)] for f in ctx.backend.folders()]
    elif state.generation and key == state.key:
        delta = ctx.backend.hierarchy_changes(state.mark)
        mark = delta.mark
        changes = []
        for info in (*delta.added, *delta.changed):
            if not state.knows(info):
                changes.append(["Add", _as_list(info)])
            elif state.folders[info.server_id] != _as_list(info)[1:]:
                changes.append(["Update", _as_list(info)])
        changes += [["Delete", gone] for gone in delta.deleted if gone in state.folders]
    else:
        ctx.usage.status = 9
        return status_only(9)
    for kind, folder in changes:
        if kind == "Delete":
            state.folders.pop(folder, None)
        else:
            state.folders[folder[0]] = folder[1:]
    state.mark = mark
    if changes or key == "0":
        state.advance(changes)
    hierarchy.save(ctx, state)
    ctx.usage.status = 1
    return _response(state, changes)
