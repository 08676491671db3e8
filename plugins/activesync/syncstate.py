"""One collection's sync state: its SyncKey, what is still to send, and the last answer.

A state blob per collection and device (``Collection-<id>``) in the
mailbox. The key is ``{generation}counter``: SyncKey 0 starts a new
generation, so keys of an abandoned relationship never match again.

Server changes are tracked by mark, not by listing the folder: ``mark`` is
the mailbox moment up to which changes have been merged into ``pending``
(ids to Add, Change, Delete); a Sync sends up to WindowSize of them and
keeps the rest for MoreAvailable. A no-change Sync therefore reads one
small blob and asks the store for changes after a mark, whatever the
folder's size, and writes nothing.

``previous`` keeps the batch sent for the previous key (ids and the
per-item Responses), so a device that repeats that key, because it lost
the answer, receives the same batch and the same new key again.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

PREFIX = "Collection-"


def state_name(collection_id: str) -> str:
    return PREFIX + collection_id


@dataclass
class Batch:
    add: list[str] = field(default_factory=list)
    change: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    responses: list[list] = field(default_factory=list)  # [kind, {fields}]
    more: bool = False

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.delete or self.responses)


@dataclass
class CollectionState:
    generation: str = ""
    counter: int = 0
    mark: int = 0
    primed: bool = False
    pending_add: list[str] = field(default_factory=list)
    pending_change: list[str] = field(default_factory=list)
    pending_delete: list[str] = field(default_factory=list)
    previous_counter: int = -1
    previous: dict = field(default_factory=dict)  # a Batch as dict

    @property
    def key(self) -> str:
        return f"{{{self.generation}}}{self.counter}"

    @property
    def previous_key(self) -> str | None:
        return f"{{{self.generation}}}{self.previous_counter}" if self.previous_counter >= 0 else None

    @property
    def has_pending(self) -> bool:
        return bool(self.pending_add or self.pending_change or self.pending_delete)

    @classmethod
    def fresh(cls) -> CollectionState:
        return cls(generation=uuid.uuid4().hex, counter=1)

    def merge(self, added, changed, deleted, mark: int, exclude: set[str] = frozenset()) -> bool:
        """Fold store changes up to ``mark`` into the pending lists; True if anything moved.

        An item added and not yet sent stays an Add whatever happens to it; if
        it is deleted before it was sent, the device never hears of it.
        """
        if not (added or changed or deleted):
            # A new mark alone is not worth a write: state writes move the mailbox's
            # mark themselves, and changes_since from the older mark finds nothing here.
            return False
        self.mark = mark
        adds = set(self.pending_add)
        changes = set(self.pending_change)
        deletes = set(self.pending_delete)
        for server_id in added:
            if server_id not in exclude and server_id not in adds:
                self.pending_add.append(server_id)
                adds.add(server_id)
        for server_id in changed:
            if server_id not in exclude and server_id not in adds and server_id not in changes:
                self.pending_change.append(server_id)
                changes.add(server_id)
        for server_id in deleted:
            if server_id in exclude:
                continue
            if server_id in adds:
                self.pending_add.remove(server_id)
                adds.discard(server_id)
                continue
            if server_id in changes:
                self.pending_change.remove(server_id)
                changes.discard(server_id)
            if server_id not in deletes:
                self.pending_delete.append(server_id)
                deletes.add(server_id)
        return True

    def advance(self, batch: Batch) -> None:
        self.previous_counter = self.counter
        self.previous = batch.__dict__.copy()
        self.counter += 1

    def previous_batch(self) -> Batch:
        return Batch(**self.previous)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CollectionState:
        return cls(**json.loads(data))
