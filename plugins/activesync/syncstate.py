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

The FilterType window (MS-ASCMD 2.2.3.68.2) needs to know what the device
holds: ``held`` is every item sent as Add (or added by the device) and not
yet deleted from it, ``filter_type`` the FilterType those items were chosen
by, and ``oldest`` a lower bound of their dates as the window sees them
(DateReceived; for a Calendar item, when it is over: ``backend.window_date``),
so a Sync sees without asking the mailbox whether anything aged out of the
window. ``held`` is packed as runs of item numbers and unpacked only when a
Sync has changes to weigh against it.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

PREFIX = "Collection-"


def state_name(collection_id: str) -> str:
    return PREFIX + collection_id


@dataclass
class Batch:
    add: list[str] = field(default_factory=list)
    change: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    soft_delete: list[str] = field(default_factory=list)
    responses: list[list] = field(default_factory=list)  # [kind, {fields}]
    more: bool = False

    @property
    def count(self) -> int:
        """Server changes in the batch: what WindowSize limits."""
        return len(self.add) + len(self.change) + len(self.delete) + len(self.soft_delete)

    @property
    def empty(self) -> bool:
        return not (self.count or self.responses)


class ItemSet:
    """ServerIds (``<folder>:<number>``, backend.py) packed as gaps and runs of numbers.

    ``"7:120+3,2"`` is items 7:120 to 7:123 and 7:125: the items of a
    10,000-item folder take a few kB of state, not 100. Unpacked on first use
    and kept as numbers, so a Sync that never asks pays nothing and one that
    does builds no strings.
    """

    def __init__(self, packed: str = "") -> None:
        self._packed: str | None = packed
        self._folders: dict[str, set[int]] = {}

    def _open(self) -> dict[str, set[int]]:
        if self._packed is not None:
            self._folders, self._packed = _unpack(self._packed), None
        return self._folders

    def __contains__(self, server_id: object) -> bool:
        folder, _, number = str(server_id).rpartition(":")
        return number.isdigit() and int(number) in self._open().get(folder, ())

    def __iter__(self) -> Iterator[str]:
        return (f"{folder}:{n}" for folder, numbers in self._open().items() for n in numbers)

    def add(self, server_id: str) -> None:
        folder, _, number = server_id.rpartition(":")
        self._open().setdefault(folder, set()).add(int(number))

    def update(self, server_ids: Iterable[str]) -> None:
        for server_id in server_ids:
            self.add(server_id)

    def discard(self, server_id: str) -> None:
        folder, _, number = server_id.rpartition(":")
        if number.isdigit():
            self._open().get(folder, set()).discard(int(number))

    def packed(self) -> str:
        return self._packed if self._packed is not None else _pack(self._folders)


def _pack(folders: dict[str, set[int]]) -> str:
    parts = []
    for folder, numbers in sorted(folders.items()):
        if not numbers:
            continue
        ordered = sorted(numbers)
        runs: list[str] = []
        previous, start = 0, ordered[0]
        for end, following in zip(ordered, ordered[1:] + [-1]):
            if following == end + 1:
                continue
            runs.append(f"{start - previous}+{end - start}" if end > start else str(start - previous))
            previous, start = end, following
        parts.append(f"{folder}:{','.join(runs)}")
    return ";".join(parts)


def _unpack(packed: str) -> dict[str, set[int]]:
    folders: dict[str, set[int]] = {}
    for part in filter(None, packed.split(";")):
        folder, _, runs = part.rpartition(":")
        numbers = folders.setdefault(folder, set())
        previous = 0
        for run in runs.split(","):
            if "+" not in run:  # one item
                previous += int(run)
                numbers.add(previous)
                continue
            gap, length = run.split("+")
            start = previous + int(gap)
            previous = start + int(length)
            numbers.update(range(start, previous + 1))
    return folders


@dataclass
class CollectionState:
    generation: str = ""
    counter: int = 0
    mark: int = 0
    primed: bool = False
    pending_add: list[str] = field(default_factory=list)
    pending_change: list[str] = field(default_factory=list)
    pending_delete: list[str] = field(default_factory=list)
    pending_soft_delete: list[str] = field(default_factory=list)
    held: ItemSet = field(default_factory=ItemSet)
    filter_type: int | None = None  # None: a state written before the window was tracked
    options: list[str] = field(default_factory=list)  # the Options last given, as XML (sticky options)
    oldest: float | None = None  # POSIX seconds
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
        return bool(self.pending_add or self.pending_change or self.pending_delete or self.pending_soft_delete)

    @classmethod
    def fresh(cls) -> CollectionState:
        return cls(generation=uuid.uuid4().hex, counter=1)

    def merge(self, added, changed, deleted, mark: int, exclude: set[str] = frozenset()) -> bool:
        """Fold store changes up to ``mark`` into the pending lists; True if anything moved.

        An item added and not yet sent stays an Add whatever happens to it; if
        it is deleted before it was sent, the device never hears of it. An
        item the device already holds is no news (a window listing can see an
        item before its mark does); a Delete replaces a pending SoftDelete.
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
            if server_id not in exclude and server_id not in adds and server_id not in self.held:
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
            if server_id in self.pending_soft_delete:
                self.pending_soft_delete.remove(server_id)
            if server_id not in deletes:
                self.pending_delete.append(server_id)
                deletes.add(server_id)
        return True

    def hold(self, server_id: str, dated: datetime | None) -> None:
        """The device has the item now; its window date, when known, keeps ``oldest`` a lower bound."""
        self.held.add(server_id)
        if dated is not None and (self.oldest is None or dated.timestamp() < self.oldest):
            self.oldest = dated.timestamp()

    def advance(self, batch: Batch) -> None:
        self.previous_counter = self.counter
        self.previous = batch.__dict__.copy()
        self.counter += 1

    def previous_batch(self) -> Batch:
        return Batch(**self.previous)

    def to_json(self) -> bytes:
        return json.dumps(dict(self.__dict__, held=self.held.packed()), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CollectionState:
        values = json.loads(data)
        values["held"] = ItemSet(values.get("held", ""))
        return cls(**values)
