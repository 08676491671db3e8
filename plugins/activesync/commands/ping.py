"""Ping (MS-ASCMD 2.2.1.13): direct push.

The device names folders and a heartbeat; the request is held until one of
those folders changes (status 2 with the folders) or the heartbeat ends
(status 1). The wait sleeps on the mailbox's change notification
(:meth:`MailboxAccess.listen`), re-checking the folders only when woken.
An empty Ping repeats the last one (cached in the partnership's state).

Statuses (2.2.3.177.11): 1 expired, 2 changes, 3 parameters missing and
nothing cached, 4 syntax error, 5 heartbeat out of bounds (with the bound),
6 too many folders (with MaxFolders), 7 folder hierarchy out of date, 8
server error.

Each held Ping occupies one worker thread of its listener for its whole
heartbeat; see plugins/activesync/README.md for what that means for capacity.
"""
from __future__ import annotations

import json
import time

from lxml import etree

from plugins.activesync import hierarchy, syncstate
from plugins.activesync.backend import FolderNotFound
from plugins.activesync.context import CommandContext
from plugins.activesync.heartbeat import bounds, tracker
from plugins.activesync.syncstate import CollectionState
from plugins.activesync.wbxml import element

NAME = "Ping"
ROOT = "Ping:Ping"
PI = "{Ping}"
CACHE = "Ping"
MAX_FOLDERS = 300  # Exchange 2007's default MaxPingFolders; the 2003 limit is unverified


def _status(status: int, *extra: etree._Element) -> etree._Element:
    return element(ROOT, None, element("Ping:Status", str(status)), *extra)


def _parse(request: etree._Element | None) -> tuple[int | None, list[str] | None] | None:
    """(heartbeat, folder ids) as given; None when malformed."""
    if request is None:
        return None, None
    heartbeat_text = request.findtext(f"{PI}HeartbeatInterval")
    heartbeat = None
    if heartbeat_text is not None:
        if not heartbeat_text.strip().isdigit():
            return None
        heartbeat = int(heartbeat_text)
    folders_el = request.find(f"{PI}Folders")
    folders = None
    if folders_el is not None:
        folders = [(f.findtext(f"{PI}Id") or "").strip() for f in folders_el.findall(f"{PI}Folder")]
        if not folders or not all(folders):
            return None
    return heartbeat, folders


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    parsed = _parse(request)
    if parsed is None:
        return _status(4)
    heartbeat, folders = parsed
    raw = ctx.get_state(CACHE)
    cached = json.loads(raw) if raw else {}
    heartbeat = heartbeat if heartbeat is not None else cached.get("heartbeat")
    folders = folders if folders is not None else cached.get("folders")
    if heartbeat is None or not folders:
        return _status(3)
    low, high = bounds(ctx.service, ctx.config)
    if not low <= heartbeat <= high:
        return _status(5, element("Ping:HeartbeatInterval", str(low if heartbeat < low else high)))
    if len(folders) > MAX_FOLDERS:
        return _status(6, element("Ping:MaxFolders", str(MAX_FOLDERS)))
    wanted = {"heartbeat": heartbeat, "folders": folders}
    if wanted != cached:
        ctx.put_state(CACHE, json.dumps(wanted).encode())
    ctx.usage.heartbeat, ctx.usage.folders = heartbeat, len(folders)
    tracker(ctx.service).record(ctx.service, ctx.config, heartbeat)
    known = hierarchy.load(ctx)
    for folder_id in folders:
        try:
            ctx.backend.folder(folder_id)
        except FolderNotFound:
            return _status(7)
    ctx.save_partnership()  # now, not when woken (see CommandContext.save_partnership)
    listener = ctx.backend.listen()  # before the first look: a change after it wakes us
    try:
        return _hold(ctx, listener, known, folders, heartbeat)
    finally:
        listener.close()


def _baselines(ctx: CommandContext, folders: list[str]) -> dict[str, int | None]:
    """The mark each folder was synced to; None where the device still has pending changes.

    A folder the device never synced counts from now; the mailbox is asked
    for "now" only then (over the 2003 hop that is a SEARCH and two PROPFINDs).
    """
    now_mark: int | None = None
    marks: dict[str, int | None] = {}
    for folder_id in folders:
        raw = ctx.get_state(syncstate.state_name(folder_id))
        state = CollectionState.from_json(raw) if raw else None
        if state is None or not state.primed:
            if now_mark is None:
                now_mark = ctx.backend.hierarchy_mark()
            marks[folder_id] = now_mark
        else:
            marks[folder_id] = None if state.has_pending else state.mark
    return marks


def _changed(ctx: CommandContext, marks: dict[str, int | None]) -> list[str]:
    changed = []
    for folder_id, mark in marks.items():
        if mark is None:
            changed.append(folder_id)
            continue
        delta = ctx.backend.item_changes(folder_id, mark)
        if delta.added or delta.changed or delta.deleted:
            changed.append(folder_id)
    return changed


def _hold(ctx: CommandContext, listener, known, folders: list[str], heartbeat: int) -> etree._Element:
    deadline = time.monotonic() + heartbeat
    marks = _baselines(ctx, folders)
    while True:
        if hierarchy.stale(ctx, known):
            ctx.usage.status = 7
            return _status(7)
        changed = _changed(ctx, marks)
        if changed:
            ctx.usage.status = 2
            return _status(2, element("Ping:Folders", None, *(element("Ping:Folder", f) for f in changed)))
        remaining = deadline - time.monotonic()
        if remaining <= 0 or ctx.service_stopping():
            ctx.usage.status = 1
            return _status(1)
        with ctx.unlocked():
            woken = listener.wait(remaining)
        if not woken:
            ctx.usage.status = 1
            return _status(1)
