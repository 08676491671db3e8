"""Sync (MS-ASCMD 2.2.1.21): items of Email, Calendar, Contacts, Tasks and Notes collections.

Per collection: SyncKey 0 starts a relationship (the answer carries only a
key); a known key applies the device's Add/Change/Delete/Fetch, then sends
up to WindowSize server changes (MoreAvailable if more wait); the previous
key repeats the previous answer; any other key is status 3. Collection
statuses: 1, 3 invalid key, 4 protocol error; item statuses: 6 invalid item,
7 conflict (server wins unless Conflict is 0), 8 not found; Sync statuses:
4, 9 mailbox full (before 14.0; 113 after), 12 hierarchy changed, 13 empty
request without a cached one, 14 Wait/HeartbeatInterval out of range (with
Limit). From 12.1 an empty or Partial request reuses the cached last one,
Wait/HeartbeatInterval hold the request until a change (like Ping), and an
answer with nothing in it is an empty 200 (MS-ASCMD 2.2.1.21, 3.2.5.1.1).

FilterType (MS-ASCMD 2.2.3.68.2; 2.2.3.67 in older editions) is a window the
server keeps the device's items in: when the device widens it, the items now
inside come as Adds; when it narrows it, or an item the device holds ages
out of it, that item goes with SoftDelete (2.2.3.172; 2.2.3.162 in older
editions) and stays in the mailbox. A request without Options keeps the
FilterType it was synced with ("sticky options", 2.2.3.125.6). Mail is dated
by DateReceived, Calendar items by when they are over, a recurring series by
the end of its recurrence (``backend.window_date``).
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from lxml import etree

from plugins.activesync import items, syncstate
from plugins.activesync.backend import FolderNotFound, ItemNotFound, MailboxFull, MailboxItem, window_date
from plugins.activesync.context import CommandContext
from plugins.activesync.items import drafts
from plugins.activesync.items.options import ItemOptions, OptionsError, parse_options
from plugins.activesync.personas import V12_0, V12_1, V14_0
from plugins.activesync.syncstate import Batch, CollectionState
from plugins.activesync.wbxml import element

NAME = "Sync"
ROOT = "AirSync:Sync"
AS = "{AirSync}"
CACHE = "SyncRequest"
DEFAULT_WINDOW = 100
MAX_WINDOW = 512
WAIT_MINUTES = (1, 59)  # MS-ASCMD 2.2.3.195 Wait
HEARTBEAT_SECONDS = (60, 3540)  # MS-ASCMD 2.2.3.86.2 HeartbeatInterval
INCOMPLETE_TASKS = 8  # MS-ASCMD 2.2.3.68.2: the Tasks filter besides 0
# Remembered Options are the server's own serialization; parsed without entities or network all the same.
_OPTIONS_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def now() -> datetime:
    """The clock the FilterType window moves with (tests move it to age items out)."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class _Window:
    """Which items a FilterType lets onto the device (MS-ASCMD 2.2.3.68.2)."""

    filter_type: int
    cutoff: datetime | None  # dated before it (backend.window_date): outside
    incomplete_tasks: bool  # Tasks with FilterType 8: completed tasks are outside
    by_end: bool = False  # Calendar: items are dated by when they are over, not by DateReceived

    @property
    def everything(self) -> bool:
        return self.cutoff is None and not self.incomplete_tasks

    def admits(self, item: MailboxItem) -> bool:
        if self.cutoff is not None and window_date(item, self.by_end) < self.cutoff:
            return False
        return not (self.incomplete_tasks and item.properties.get("complete"))


def _attachments(saved: drafts.Saved) -> dict:
    """The response fields that name each attachment a draft's Add or Change added (MS-ASAIRS 2.2.2.7)."""
    return {"attachments": [list(pair) for pair in saved.attachments]} if saved.attachments else {}


def _status(status: int, *extra: etree._Element) -> etree._Element:
    return element(ROOT, None, element("AirSync:Status", str(status)), *extra)


def busy() -> etree._Element:
    """Another Sync of this device still works on its state: MS-ASCMD status 16, retry."""
    return _status(16)


def _window(text: str | None) -> int:
    # MS-ASCMD 2.2.3.199: no WindowSize means 100; 0 or over 512 means 512.
    if text is None or not text.strip().isdigit():
        return DEFAULT_WINDOW
    value = int(text)
    return MAX_WINDOW if value == 0 or value > MAX_WINDOW else value


@dataclass
class _Collection:
    """One collection of one request, from parsing to its response element."""

    ctx: CommandContext
    collection_id: str
    key: str
    request: etree._Element
    klass: str = items.EMAIL
    folder_type: int = 0  # MS-ASCMD 2.2.3.186.3: where devices may write drafts (16.x)
    options: ItemOptions = field(default_factory=ItemOptions)
    window: int = DEFAULT_WINDOW
    get_changes: bool = True
    deletes_as_moves: bool = True
    status: int = 1
    state: CollectionState | None = None
    dirty: bool = False
    batch: Batch = field(default_factory=Batch)
    commands: list[etree._Element] = field(default_factory=list)
    responses: list[etree._Element] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    key_due: bool = False  # the device must learn the new key even without items to send
    options_given: bool = False  # else the FilterType synced with applies (sticky, 2.2.3.125.6)

    @property
    def reportable(self) -> bool:
        return (self.status != 1 or bool(self.commands) or not self.batch.empty or self.key == "0"
                or self.key_due)

    # -- the steps ---------------------------------------------------------------

    def prepare(self, folder_type: int) -> None:
        self.folder_type = folder_type
        self.klass = items.CLASS_BY_FOLDER_TYPE.get(folder_type, items.EMAIL)
        self.window = _window(self.request.findtext(f"{AS}WindowSize"))
        get_changes = self.request.find(f"{AS}GetChanges")
        self.get_changes = get_changes is None or (get_changes.text or "1").strip() != "0"
        deletes = self.request.find(f"{AS}DeletesAsMoves")
        self.deletes_as_moves = deletes is None or (deletes.text or "1").strip() != "0"
        if not items.class_available(self.klass, self.ctx.version):
            self.status = 4
            return
        raw = self.ctx.get_state(syncstate.state_name(self.collection_id))
        self.state = CollectionState.from_json(raw) if raw else None
        given = self.request.findall(f"{AS}Options")
        self.options_given = bool(given)
        try:
            self.options = parse_options(given or _remembered_options(self.state))
        except OptionsError:
            self.status = 4

    def run(self, budget: int) -> None:
        """Apply the device's commands and collect server changes, at most ``budget`` of them."""
        if self.status != 1:
            return
        if self.key == "0":
            self.state, self.dirty = CollectionState.fresh(), True
            self._remember_options()
            return
        state = self.state
        if state is not None and self.key == state.previous_key:
            self.batch = state.previous_batch()  # a retry: the same answer again
            self.key_due = True  # the device lost the answer, so the key it carried too
            self._render(self.batch)
            return
        if state is None or self.key != state.key:
            self.status = 3
            return
        self._remember_options()
        responses: list[list] = []
        if state.primed:
            self._merge()  # first, so a device's Change can meet a server change (Conflict)
        commands = self.request.find(f"{AS}Commands")
        if commands is not None and len(commands):
            # Applied device changes move the collection to a new SyncKey, which the
            # answer carries even when every change succeeded silently (MS-ASCMD
            # 2.2.3.181.4, example 4.23.4); only a request without changes may get
            # the empty answer (MS-ASCMD 4.5.10).
            self.key_due = True
            for command in commands:
                responses.append(self._client_command(command))
            if state.primed:
                self._merge()  # the device's own changes pass by as "touched", not as news
        batch = Batch(responses=[r for r in responses if r])
        if self.get_changes:
            if not state.primed:
                self._prime()
            self._take(batch, min(self.window, budget))
        self.batch = batch
        if not batch.empty or self.key_due:
            state.advance(batch)
            self.dirty = True
        self._render(batch)

    def poll_again(self, budget: int) -> None:
        """After a wake-up: fold in new server changes and take a batch if any."""
        if self.status != 1 or self.state is None or not self.state.primed or not self.get_changes:
            return
        self._merge()
        if self.state.has_pending:
            batch = Batch()
            self._take(batch, min(self.window, budget))
            if not batch.empty:
                self.batch = batch
                self.state.advance(batch)
                self.dirty = True
                self._render(batch)

    def estimate(self) -> int:
        """The server changes the next Sync would send (GetItemEstimate), counted, none taken.

        The Sync's own steps on a state that is never saved: new mail, a
        FilterType change and items that aged out of the window (SoftDelete)
        count as the next Sync will send them (MS-ASCMD 2.2.3.65: "the estimated
        number of items ... that have to be synchronized").
        """
        if self.state.primed:
            self._merge()
        else:
            self._prime()
        batch = Batch()
        self._take(batch, sys.maxsize)
        return batch.count

    def _remember_options(self) -> None:
        """Keep the Options given for the Syncs that leave them out (MS-ASCMD 2.2.3.125.6: "If the
        Options block is not included in a request, the previous Options block is used")."""
        given = [etree.tostring(o, encoding="unicode") for o in self.request.findall(f"{AS}Options")]
        if given and given != self.state.options:
            self.state.options = given
            self.dirty = True

    def save(self) -> None:
        if self.dirty and self.state is not None:
            self.ctx.put_state(syncstate.state_name(self.collection_id), self.state.to_json())
            self.dirty = False

    # -- server changes ------------------------------------------------------------

    def _merge(self) -> None:
        delta = self.ctx.backend.item_changes(self.collection_id, self.state.mark)
        if self.state.merge(delta.added, delta.changed, delta.deleted, delta.mark, self.touched):
            self.dirty = True

    def _prime(self) -> None:
        """The first GetChanges: every item in the FilterType window, newest first."""
        self.state.mark = self.ctx.backend.item_changes(self.collection_id, 0).mark  # before the listing
        self._rewindow(self._window())
        self.state.primed = True
        self.dirty = True

    def _take(self, batch: Batch, budget: int) -> None:
        """Move up to ``budget`` server changes into ``batch``, the FilterType window brought up to date first."""
        state = self.state
        window = self._window()
        if self._window_moved(window):
            self._rewindow(window)
            self.dirty = True
        budget = self._drain(state.pending_delete, budget, lambda i: self._remove(batch.delete, i))
        budget = self._drain(state.pending_soft_delete, budget, lambda i: self._remove(batch.soft_delete, i))
        reads = not window.everything  # each candidate's date is read: in one go where that is cheaper
        budget = self._drain(state.pending_change, budget, lambda i: self._change(batch, window, i), reads)
        self._drain(state.pending_add, budget, lambda i: self._add(batch, window, i), reads)
        batch.more = state.has_pending

    def _drain(self, queue: list[str], budget: int, place: Callable[[str], bool], reads: bool = False) -> int:
        """Offer ids from the front of ``queue`` to ``place`` (True: it took a slot) until ``budget`` is spent."""
        if reads:
            self.ctx.backend.prefetch(queue[:budget])
        offered = 0
        for server_id in queue:
            if budget <= 0:
                break
            offered += 1
            if place(server_id):
                budget -= 1
        if offered:
            del queue[:offered]
            self.dirty = True
        return budget

    def _remove(self, commands: list[str], server_id: str) -> bool:
        """A Delete or SoftDelete, for an item the device has: it never heard of the others."""
        if server_id not in self.state.held:
            return False
        self.state.held.discard(server_id)
        commands.append(server_id)
        return True

    def _change(self, batch: Batch, window: _Window, server_id: str) -> bool:
        """A server change; it can move the item across the window (a task completed under FilterType 8)."""
        inside, item = self._weigh(server_id, window)
        if server_id in self.state.held:
            if inside:
                batch.change.append(server_id)
                return True
            return self._remove(batch.soft_delete, server_id)
        return inside and self._send(batch, window, server_id, item)

    def _add(self, batch: Batch, window: _Window, server_id: str) -> bool:
        inside, item = self._weigh(server_id, window)
        return inside and self._send(batch, window, server_id, item)

    def _send(self, batch: Batch, window: _Window, server_id: str, item: MailboxItem | None) -> bool:
        """An Add: the device holds the item from now on (``item``, if it was read, dates it)."""
        batch.add.append(server_id)
        self.state.hold(server_id, window_date(item, window.by_end) if item is not None else None)
        return True

    # -- the FilterType window -----------------------------------------------------

    def _window(self) -> _Window:
        """This request's window; without Options, the FilterType synced with (MS-ASCMD 2.2.3.125.6)."""
        filter_type = self.options.filter_type
        if not self.options_given and self.state.filter_type is not None:
            filter_type = self.state.filter_type
        cutoff = replace(self.options, filter_type=filter_type).cutoff(now())
        return _Window(filter_type, cutoff, self.klass == items.TASKS and filter_type == INCOMPLETE_TASKS,
                       by_end=self.klass == items.CALENDAR)

    def _window_moved(self, window: _Window) -> bool:
        """A new FilterType, or the oldest item the device holds fell out of the window; asks no mailbox."""
        state = self.state
        if state.filter_type != window.filter_type:
            return True
        return window.cutoff is not None and state.oldest is not None and state.oldest < window.cutoff.timestamp()

    def _rewindow(self, window: _Window) -> None:
        """Make the device's items the window's: SoftDelete what left it, Add what entered it.

        MS-ASCMD 2.2.3.68.2: "the server manages objects on the client to
        maintain the time window" and sends SoftDelete "for objects on the
        client when they become older than the window"; 2.2.3.172: SoftDelete
        takes from the device what is outside the FilterType, the mailbox keeps
        it. One listing of the window, and one item read for the oldest item
        the device keeps (a read per task under FilterType 8).
        """
        state = self.state
        listed = self._window_ids(window)
        inside = set(listed)
        if state.primed and state.filter_type is None:
            # A state from before the window was tracked: the device has what the window sent it.
            waiting = set(state.pending_add)
            state.held.update(i for i in inside.union(state.pending_delete) if i not in waiting)
        queued = set(state.pending_add)
        state.pending_add = [i for i in state.pending_add if i in inside] + [
            i for i in listed if i not in queued and i not in state.held]
        deleting = set(state.pending_delete)
        state.pending_soft_delete = sorted(i for i in state.held if i not in inside and i not in deleting)
        leaving = set(state.pending_soft_delete)
        state.pending_change = [i for i in state.pending_change if i not in leaving]
        state.filter_type = window.filter_type
        state.oldest = self._oldest_held(listed, window)

    def _window_ids(self, window: _Window) -> list[str]:
        """The window's items, newest first (Calendar: the latest to end first)."""
        listed = self.ctx.backend.list_item_ids(self.collection_id, window.cutoff, by_end=window.by_end)
        if not window.incomplete_tasks:
            return listed
        self.ctx.backend.prefetch(listed)
        return [i for i in listed if self._weigh(i, window)[0]]

    def _oldest_held(self, listed: list[str], window: _Window) -> float | None:
        """The date (``window_date``) of the oldest item the device keeps: when the window can next leave
        one behind. The listing is ordered by that date, so its last held item is the oldest."""
        if window.cutoff is None:
            return None
        for server_id in reversed(listed):
            if server_id in self.state.held:
                try:
                    return window_date(self.ctx.backend.get_item(server_id), window.by_end).timestamp()
                except ItemNotFound:
                    continue
        return None

    def _weigh(self, server_id: str, window: _Window) -> tuple[bool, MailboxItem | None]:
        """Whether the window admits the item (a gone item: no), and the item when that took a read."""
        if window.everything:
            return True, None
        try:
            item = self.ctx.backend.get_item(server_id)
        except ItemNotFound:
            return False, None
        return window.admits(item), item

    # -- the device's commands -----------------------------------------------------

    def _client_command(self, command: etree._Element) -> list:
        kind = etree.QName(command).localname
        backend = self.ctx.backend
        server_id = (command.findtext(f"{AS}ServerId") or "").strip()
        if kind == "Add":
            client_id = (command.findtext(f"{AS}ClientId") or "").strip()
            try:
                added = items.add_item(self.klass, backend, self.collection_id, self.folder_type, command,
                                       self.ctx.version)
            except (ValueError, TypeError, KeyError):
                return ["Add", {"client_id": client_id, "status": 6}]
            response = {"client_id": client_id, "status": 1, **_attachments(added)}
            if added.server_id is None:  # a draft sent at once (email2:Send): nothing stays to hold
                return ["Add", response]
            self.touched.add(added.server_id)
            # Stored just now, so received about now; a Calendar item is dated by when it is over.
            self.state.hold(added.server_id,
                            window_date(replace(added.item, date_received=now()), self._window().by_end))
            return ["Add", {**response, "server_id": added.server_id}]
        if kind == "Fetch":
            return ["Fetch", {"server_id": server_id, "status": 1 if self._exists(server_id) else 8}]
        if not self._exists(server_id):
            return [kind, {"server_id": server_id, "status": 8}]
        self.touched.add(server_id)
        if kind == "Change":
            if server_id in self.state.pending_change:
                if self.options.conflict == 1:  # server wins: its version is on the way
                    return ["Change", {"server_id": server_id, "status": 7}]
                self.state.pending_change.remove(server_id)
            try:
                changed = items.apply_change(self.klass, backend, server_id, command, self.folder_type,
                                             self.ctx.version)
            except (ValueError, TypeError, KeyError):
                return ["Change", {"server_id": server_id, "status": 6}]
            if changed.server_id is None:  # a draft sent (email2:Send): the device hears of its Delete
                self.touched.discard(server_id)
            if changed.attachments:  # MS-ASCMD 2.2.3.24: "successful changes that include an attachment being added"
                return ["Change", {"server_id": server_id, "status": 1, **_attachments(changed)}]
            return []
        if kind == "Delete":
            for pending in (self.state.pending_change, self.state.pending_add, self.state.pending_soft_delete):
                if server_id in pending:
                    pending.remove(server_id)
            self.state.held.discard(server_id)
            backend.delete_item(server_id, to_deleted_items=self.deletes_as_moves)
            return []
        return [kind, {"server_id": server_id, "status": 4}]

    def _exists(self, server_id: str) -> bool:
        try:
            return self.ctx.backend.get_item(server_id).folder_id == self.collection_id
        except ItemNotFound:
            return False

    # -- the answer ----------------------------------------------------------------

    def _render(self, batch: Batch) -> None:
        """The batch as Commands and Responses; a SoftDelete takes an item off the device only (2.2.3.172)."""
        self.ctx.backend.prefetch([*batch.change, *batch.add])
        out = []
        for kind, ids in (("Delete", batch.delete), ("SoftDelete", batch.soft_delete)):
            out += [element(f"AirSync:{kind}", None, element("AirSync:ServerId", i)) for i in ids]
        for server_id in batch.change:
            data = self._data(server_id, change=True)
            if data is not None:
                out.append(element("AirSync:Change", None, element("AirSync:ServerId", server_id), data))
        for server_id in batch.add:
            data = self._data(server_id)
            if data is not None:
                out.append(element("AirSync:Add", None, element("AirSync:ServerId", server_id), data))
        self.commands = out
        self.responses = []
        for kind, values in batch.responses:
            entry = element(f"AirSync:{kind}")
            if kind == "Add":
                entry.append(element("AirSync:ClientId", values["client_id"]))
                if "server_id" in values:
                    entry.append(element("AirSync:ServerId", values["server_id"]))
            else:
                entry.append(element("AirSync:ServerId", values["server_id"]))
            entry.append(element("AirSync:Status", str(values["status"])))
            if values.get("attachments"):
                entry.append(drafts.added_attachments(values["attachments"]))
            if kind == "Fetch" and values["status"] == 1:
                data = self._data(values["server_id"])
                if data is not None:
                    entry.append(data)
            self.responses.append(entry)

    def _data(self, server_id: str, change: bool = False) -> etree._Element | None:
        try:
            item = self.ctx.backend.get_item(server_id)
        except ItemNotFound:
            return None
        if change and self.klass == items.EMAIL and not drafts.editable(self.folder_type, self.ctx.version):
            # A mail item changes only in its flags: send those (MS-ASEMAIL 3.2.5.2). A 16.x draft is
            # edited whole, so in Drafts the Change carries the whole item.
            data = element("AirSync:ApplicationData", None, element("Email:Read", "1" if item.read else "0"))
            if self.ctx.version >= V12_0:
                flag = element("Email:Flag")
                if item.flag_status:
                    flag.append(element("Email:Status", str(item.flag_status)))
                    flag.append(element("Email:FlagType", "Follow up"))
                data.append(flag)
            return data
        return items.application_data(self.klass, item, self.ctx.backend, self.options, self.ctx.version)

    def response(self) -> etree._Element:
        """Collection children in MS-ASCMD 2.2.3.29.2 order; Class first before 14.0."""
        out = element("AirSync:Collection")
        if self.ctx.version < V14_0:
            out.append(element("AirSync:Class", self.klass))
        key = self.state.key if self.state is not None and self.status == 1 else self.key
        out.append(element("AirSync:SyncKey", key))
        out.append(element("AirSync:CollectionId", self.collection_id))
        out.append(element("AirSync:Status", str(self.status)))
        if self.status == 1 and self.batch.more:
            out.append(element("AirSync:MoreAvailable"))
        if self.commands:
            out.append(element("AirSync:Commands", None, *self.commands))
        if self.responses:
            out.append(element("AirSync:Responses", None, *self.responses))
        return out


# -- the request -----------------------------------------------------------------


def _cacheable(request: etree._Element) -> bytes:
    """The request without keys and commands: what an empty or Partial Sync repeats."""
    copy = etree.fromstring(etree.tostring(request))
    for col in copy.iter(f"{AS}Collection"):
        for child in list(col):
            if child.tag in (f"{AS}SyncKey", f"{AS}Commands"):
                col.remove(child)
    for partial in copy.findall(f"{AS}Partial"):
        copy.remove(partial)
    return etree.tostring(copy)


def _with_cache(ctx: CommandContext, request: etree._Element | None) -> etree._Element | None:
    """MS-ASCMD 3.2.5.1.1: an empty body or Partial uses the cached request's collections."""
    if request is not None and request.find(f"{AS}Partial") is None:
        return request
    cached = ctx.get_state(CACHE)
    if cached is None:
        return None
    merged = etree.fromstring(cached)
    if request is not None:
        mine = {c.findtext(f"{AS}CollectionId"): c for c in request.iter(f"{AS}Collection")}
        collections = merged.find(f"{AS}Collections")
        for col in list(collections if collections is not None else []):
            new = mine.pop(col.findtext(f"{AS}CollectionId"), None)
            if new is not None:
                collections.replace(col, new)
        for new in mine.values():
            collections.append(new)
        for name in ("Wait", "HeartbeatInterval", "WindowSize"):
            value = request.find(f"{AS}{name}")
            old = merged.find(f"{AS}{name}")
            if value is not None and old is not None:
                merged.replace(old, value)
            elif value is not None:
                merged.append(value)
    return merged


def _hold_seconds(ctx: CommandContext, request: etree._Element) -> tuple[int, etree._Element | None]:
    """Seconds to hold the request, or the status-14 answer when the value is out of range."""
    wait, heartbeat = request.findtext(f"{AS}Wait"), request.findtext(f"{AS}HeartbeatInterval")
    if wait is not None and ctx.version >= V12_1:
        minutes = int(wait) if wait.strip().isdigit() else -1
        low, high = WAIT_MINUTES
        if not low <= minutes <= high:
            return 0, _status(14, element("AirSync:Limit", str(low if minutes < low else high)))
        return minutes * 60, None
    if heartbeat is not None and ctx.version >= V14_0:
        seconds = int(heartbeat) if heartbeat.strip().isdigit() else -1
        low, high = HEARTBEAT_SECONDS
        if not low <= seconds <= high:
            return 0, _status(14, element("AirSync:Limit", str(low if seconds < low else high)))
        return seconds, None
    return 0, None


def _remembered_options(state: CollectionState | None) -> list[etree._Element]:
    """The Options elements of the last Sync that gave any (sticky options), as the device sent them."""
    return [etree.fromstring(text, _OPTIONS_PARSER) for text in state.options] if state is not None else []


def estimate(ctx: CommandContext, collection_id: str, folder_type: int, state: CollectionState,
             options: ItemOptions, options_given: bool) -> int:
    """GetItemEstimate's count for one collection, by the rules of Sync (see ``_Collection.estimate``)."""
    collection = _Collection(ctx, collection_id, state.key, etree.Element(f"{AS}Collection"), state=state,
                             klass=items.CLASS_BY_FOLDER_TYPE.get(folder_type, items.EMAIL), options=options,
                             options_given=options_given)
    return collection.estimate()


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element | None:
    if request is None and ctx.version < V12_1:
        return _status(4)
    original = request
    request = _with_cache(ctx, request)
    if request is None:
        return _status(13)
    hold, refusal = _hold_seconds(ctx, request)
    if refusal is not None:
        return refusal
    entries = request.findall(f"{AS}Collections/{AS}Collection")
    if not entries:
        return _status(4)
    try:
        return _sync(ctx, request, original, entries, hold)
    except MailboxFull:
        if ctx.version >= V14_0:
            raise  # common status 113
        return _status(9)


def _sync(ctx: CommandContext, request, original, entries, hold: int) -> etree._Element | None:
    collections: list[_Collection] = []
    for entry in entries:
        collection_id = (entry.findtext(f"{AS}CollectionId") or "").strip()
        key = entry.findtext(f"{AS}SyncKey")
        if not collection_id:
            return _status(4)
        try:
            folder = ctx.backend.folder(collection_id)
        except FolderNotFound:
            return _status(12)
        col = _Collection(ctx, collection_id, "", entry)
        col.prepare(folder.type)
        if key is None:  # replayed from the cache: the collection's current key
            key = col.state.key if col.state is not None else "0"
        col.key = key.strip()
        collections.append(col)
    listener = ctx.backend.listen() if hold else None
    try:
        budget = _window(request.findtext(f"{AS}WindowSize")) if request.find(f"{AS}WindowSize") is not None \
            and ctx.version >= V14_0 else MAX_WINDOW * len(collections)
        for col in collections:
            col.run(budget)
            budget -= col.batch.count
        if listener is not None and not any(c.reportable for c in collections):
            ctx.usage.heartbeat = hold
            _wait(ctx, listener, collections, hold)
    finally:
        if listener is not None:
            listener.close()
    for col in collections:
        col.save()
    if original is not None and ctx.version >= V12_1:
        snapshot = _cacheable(request)
        if ctx.get_state(CACHE) != snapshot:
            ctx.put_state(CACHE, snapshot)
    ctx.usage.folders = len(collections)
    ctx.usage.status = max(c.status for c in collections)
    if ctx.version >= V12_1 and not any(c.reportable for c in collections):
        return None  # nothing to say: an empty 200 (MS-ASCMD 2.2.1.21)
    return element(ROOT, None, element("AirSync:Collections", None, *(c.response() for c in collections)))


def _wait(ctx: CommandContext, listener, collections: list[_Collection], hold: int) -> None:
    """Hold until a collection has something to send or the interval ends; never poll."""
    deadline = time.monotonic() + hold
    for col in collections:
        col.save()  # what the device caused so far must not wait with it
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        with ctx.unlocked():
            woken = listener.wait(remaining)
        if not woken or ctx.service_stopping():
            return
        for col in collections:
            col.poll_again(MAX_WINDOW)
        if any(c.reportable for c in collections):
            return
