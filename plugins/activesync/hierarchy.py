"""The device's copy of the folder hierarchy and its FolderSync key.

One state blob per partnership (``FolderSync``) holds the current key, the
mailbox mark of the last FolderSync, the folders the device knows
(ServerId -> parent, name, type), and the previous key with the changes
sent for it, so a device that lost a response and repeats the previous key
gets the same changes again (MS-ASCMD 2.2.3.182.1 note on SyncKey retries).
FolderCreate, FolderUpdate and FolderDelete advance the same key.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from lxml import etree

from plugins.activesync.backend import FolderInfo
from plugins.activesync.context import CommandContext
from plugins.activesync.wbxml import element

STATE = "FolderSync"


def status_answer(root: str, status: int) -> etree._Element:
    """The answer FolderCreate/FolderUpdate/FolderDelete give with only a Status (MS-ASCMD 2.2.3.177)."""
    return element(root, None, element("FolderHierarchy:Status", str(status)))


def new_key(generation: str, counter: int) -> str:
    return f"{{{generation}}}{counter}"


@dataclass
class HierarchyState:
    generation: str = ""
    counter: int = 0
    mark: int = 0
    folders: dict[str, list] = field(default_factory=dict)  # id -> [parent, name, type]
    previous_counter: int = -1
    previous_changes: list = field(default_factory=list)  # [["Add"|"Update", [id,parent,name,type]] | ["Delete", id]]

    @property
    def key(self) -> str:
        return new_key(self.generation, self.counter) if self.generation else "0"

    @property
    def previous_key(self) -> str | None:
        return new_key(self.generation, self.previous_counter) if self.previous_counter >= 0 else None

    def knows(self, info: FolderInfo) -> bool:
        return info.server_id in self.folders

    def remember(self, info: FolderInfo) -> None:
        self.folders[info.server_id] = [info.parent_id, info.display_name, info.type]

    def forget(self, server_id: str) -> None:
        """Drop a folder and, as the device does, everything below it."""
        doomed = {server_id}
        for _ in range(len(self.folders)):  # bounded: one pass per level at most
            below = {fid for fid, (parent, *_rest) in self.folders.items() if parent in doomed} - doomed
            if not below:
                break
            doomed |= below
        for fid in doomed:
            self.folders.pop(fid, None)

    def advance(self, changes: list) -> None:
        self.previous_counter, self.previous_changes = self.counter, changes
        self.counter += 1

    def reset(self) -> None:
        self.generation = uuid.uuid4().hex
        self.counter, self.mark, self.folders = 1, 0, {}
        self.previous_counter, self.previous_changes = -1, []


def load(ctx: CommandContext) -> HierarchyState:
    raw = ctx.get_state(STATE)
    if not raw:
        return HierarchyState()
    return HierarchyState(**json.loads(raw))


def save(ctx: CommandContext, state: HierarchyState) -> None:
    ctx.put_state(STATE, json.dumps(state.__dict__, separators=(",", ":")).encode())


def stale(ctx: CommandContext, state: HierarchyState) -> bool:
    """Has the mailbox's hierarchy changed since the device's last FolderSync?"""
    if not state.generation:
        return True
    delta = ctx.backend.hierarchy_changes(state.mark)
    return any(not state.knows(f) or state.folders[f.server_id] != [f.parent_id, f.display_name, f.type]
               for f in (*delta.added, *delta.changed)) or any(d in state.folders for d in delta.deleted)
