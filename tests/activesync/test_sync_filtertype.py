"""A device that changes its FilterType, or keeps it while mail ages: what arrives, what leaves, what stays.

MS-ASCMD 2.2.3.68.2 (FilterType): the server keeps the device's items inside
the window, adding what comes into it and sending SoftDelete (2.2.3.172) for
what falls out; a SoftDelete takes the item off the device, never out of the
mailbox. Calendar items are in the window until they end; a recurring series
until its recurrence does, and always when it has no end. The Exchange 2016
persona reaches the store directly, the Exchange 2003 persona through the
WebDAV hop (list = SEARCH on datereceived, or on the appointment's clip end;
dates = PROPFIND).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from plugins.activesync.commands import sync
from plugins.activesync.partnership import device_folder
from plugins.activesync.syncstate import ItemSet
from plugins.owa.mailbox import FolderType, NewItem

from .conftest import message
from .easclient import el

VERSIONS = {"Exchange 2016": "16.1", "Exchange 2003 SP2": "2.5"}
BOTH = pytest.mark.parametrize("persona", list(VERSIONS))
# MS-ASCMD 2.2.3.68.2 values
NO_FILTER, ONE_DAY, THREE_DAYS, ONE_WEEK, TWO_WEEKS, ONE_MONTH, INCOMPLETE_TASKS = "0", "1", "2", "3", "4", "5", "8"


@dataclass
class Seen:
    """One Sync answer as the device's user notices it: subjects that arrived or vanished."""

    added: list[str] = field(default_factory=list)
    soft_deleted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    more: bool = False


class Phone:
    """A device syncing one folder, remembering what it shows (ServerId -> subject)."""

    def __init__(self, lab, persona: str, folder_id: int, klass: str = "Email") -> None:
        self.klass = klass
        self.device = lab.client(version=VERSIONS[persona])
        if persona == "Exchange 2016":
            self.device.provision()
        assert self.device.folder_sync().status == 200
        self.folder = str(folder_id)
        answer = self.device.sync(self.folder, "0", klass=klass)
        self.key = answer.text("as:Collections/as:Collection/as:SyncKey")
        self.shows: dict[str, str] = {}

    def sync(self, filter_type: str | None = None, window: int | None = None) -> Seen:
        """A Sync with this FilterType (None: no Options at all, as after the first Sync)."""
        options = [el("AirSync:FilterType", filter_type)] if filter_type is not None else None
        answer = self.device.sync(self.folder, self.key, klass=self.klass, options=options, window=window)
        assert answer.status == 200
        seen = Seen()
        if answer.root is None:  # 12.1 and later: nothing to say is an empty 200
            return seen
        assert answer.text("as:Collections/as:Collection/as:Status") == "1"
        self.key = answer.text("as:Collections/as:Collection/as:SyncKey")
        seen.more = answer.find(".//as:MoreAvailable") is not None
        subject = f"{{{self.klass}}}Subject"
        for command in answer.findall(".//as:Commands/*"):
            kind, server_id = command.tag.split("}")[1], command.findtext("{AirSync}ServerId")
            if kind == "Add":
                self.shows[server_id] = command.findtext(f".//{subject}")
                seen.added.append(self.shows[server_id])
            elif kind == "SoftDelete":
                seen.soft_deleted.append(self.shows.pop(server_id))
            elif kind == "Delete":
                seen.deleted.append(self.shows.pop(server_id))
        return seen

    def sync_all(self, filter_type: str | None = None, window: int | None = None) -> Seen:
        """Sync until nothing more is available; everything that happened on the way."""
        total = Seen()
        for _ in range(20):
            seen = self.sync(filter_type, window)
            total.added += seen.added
            total.soft_deleted += seen.soft_deleted
            total.deleted += seen.deleted
            if not seen.more:
                return total
        raise AssertionError("MoreAvailable never ended")


def _folder(lab) -> int:
    """A mail folder of its own: the 2003 persona's Inbox holds sample mail."""
    return lab.store.create_folder(lab.mailbox, None, "Filtered").id


def _mail(lab, folder: int, **ages: float) -> dict[str, int]:
    """One message per keyword, received that many days ago; their store ids."""
    return {subject: lab.store.deliver(lab.mailbox, message(subject), folder_id=folder,
                                       date_received=datetime.now(timezone.utc) - timedelta(days=days)).id
            for subject, days in ages.items()}


def _stored(lab, folder: int) -> list[tuple[str, str]]:
    """(ServerId, subject) of every item in the folder."""
    return [(f"{folder}:{i.id}", i.subject) for i in lab.store.list_items(lab.mailbox, folder, limit=1000)]


def _subjects(lab, folder: int) -> set[str]:
    return {subject for _, subject in _stored(lab, folder)}


@BOTH
def test_widening_the_window_brings_the_older_mail_in_batches(eas_lab, persona):
    lab = eas_lab(persona)
    folder = _folder(lab)
    _mail(lab, folder, today=0.1, d5=5, d10=10, d20=20, d25=25, d60=60, d400=400)
    phone = Phone(lab, persona, folder)
    assert phone.sync(THREE_DAYS).added == ["today"]

    first = phone.sync(ONE_MONTH, window=2)
    assert first.added == ["d5", "d10"] and first.more  # newest first, WindowSize and MoreAvailable as ever
    rest = phone.sync_all(ONE_MONTH, window=2)
    assert rest.added == ["d20", "d25"] and not rest.soft_deleted

    assert phone.sync_all(NO_FILTER).added == ["d60", "d400"]  # 0: no filter, everything
    assert sorted(phone.shows.values()) == sorted(_subjects(lab, folder))
    assert not phone.sync(NO_FILTER).added  # nothing twice


@BOTH
def test_narrowing_the_window_soft_deletes_and_the_mailbox_keeps_the_mail(eas_lab, persona):
    lab = eas_lab(persona)
    folder = _folder(lab)
    _mail(lab, folder, today=0.1, d2=2, d5=5, d10=10, d20=20)
    phone = Phone(lab, persona, folder)
    assert len(phone.sync_all(ONE_MONTH).added) == 5

    first = phone.sync(ONE_DAY, window=3)  # SoftDeletes count toward WindowSize like any change
    assert len(first.soft_deleted) == 3 and first.more and not first.added and not first.deleted
    rest = phone.sync_all(ONE_DAY, window=3)
    assert sorted(first.soft_deleted + rest.soft_deleted) == ["d10", "d2", "d20", "d5"]
    assert not rest.deleted and list(phone.shows.values()) == ["today"]
    assert _subjects(lab, folder) == {"today", "d2", "d5", "d10", "d20"}  # SoftDelete is not Delete

    assert sorted(phone.sync_all(ONE_WEEK).added) == ["d2", "d5"]  # and they can come back


@BOTH
def test_mail_that_ages_out_of_an_unchanged_window_is_soft_deleted_on_the_next_sync(eas_lab, persona, monkeypatch):
    lab = eas_lab(persona)
    folder = _folder(lab)
    _mail(lab, folder, fresh=0.5, almost=3 - 1 / 24)  # 3 days less an hour
    phone = Phone(lab, persona, folder)
    assert phone.sync(THREE_DAYS).added == ["fresh", "almost"]
    assert phone.sync() == Seen()  # no Options: the same window, nothing to do

    later = sync.now() + timedelta(hours=2)
    monkeypatch.setattr(sync, "now", lambda: later)  # "almost" is now 3 days and an hour old
    key = phone.key
    assert phone.sync() == Seen(soft_deleted=["almost"])
    again = phone.device.sync(phone.folder, key, klass="Email")  # the answer got lost: the same again
    assert [(c.tag, c.findtext("{AirSync}ServerId")) for c in again.findall(".//as:Commands/*")] == [
        ("{AirSync}SoftDelete", next(i for i, s in _stored(lab, folder) if s == "almost"))]
    assert list(phone.shows.values()) == ["fresh"] and "almost" in _subjects(lab, folder)
    assert phone.sync() == Seen()


@BOTH
def test_a_sync_without_options_keeps_the_filter_type_it_was_synced_with(eas_lab, persona):
    """MS-ASCMD 2.2.3.125.6: options are sticky; no Options is not "FilterType 0"."""
    lab = eas_lab(persona)
    folder = _folder(lab)
    _mail(lab, folder, recent=1, old=10)
    phone = Phone(lab, persona, folder)
    assert phone.sync(THREE_DAYS).added == ["recent"]
    _mail(lab, folder, moved_in_old=20, new=0)
    assert phone.sync().added == ["new"]
    assert phone.sync(NO_FILTER).added == ["old", "moved_in_old"]


@BOTH
def test_server_changes_to_mail_outside_the_window_never_reach_the_device(eas_lab, persona):
    lab = eas_lab(persona)
    folder = _folder(lab)
    ids = _mail(lab, folder, recent=1, old=10, soon_gone=5)
    phone = Phone(lab, persona, folder)
    assert sorted(phone.sync_all(ONE_WEEK).added) == ["recent", "soon_gone"]
    assert phone.sync(THREE_DAYS).soft_deleted == ["soon_gone"]

    lab.store.update_item(lab.mailbox, ids["old"], read=True)  # the user reads both in OWA, deletes one
    lab.store.update_item(lab.mailbox, ids["soon_gone"], read=True)
    lab.store.delete_items(lab.mailbox, [ids["soon_gone"]])
    assert phone.sync() == Seen() and list(phone.shows.values()) == ["recent"]


@BOTH
def test_an_invalid_filter_type_is_still_a_protocol_error(eas_lab, persona):
    lab = eas_lab(persona)
    phone = Phone(lab, persona, _folder(lab))
    answer = phone.device.sync(phone.folder, phone.key, klass="Email", options=[el("AirSync:FilterType", "9")])
    assert answer.text("as:Collections/as:Collection/as:Status") == "4"


def test_tasks_filter_type_8_keeps_only_incomplete_tasks_on_the_device(eas_lab):
    lab = eas_lab("Exchange 2016")
    tasks_folder = lab.folder(FolderType.TASKS).id

    def task(subject: str, complete: bool) -> int:
        return lab.store.add_item(lab.mailbox, tasks_folder, NewItem(
            message_class="IPM.Task", subject=subject, read=True,
            properties={"subject": subject, "complete": complete})).id

    task("done", True)
    open_task = task("open", False)
    phone = Phone(lab, "Exchange 2016", tasks_folder, klass="Tasks")
    assert phone.sync(INCOMPLETE_TASKS).added == ["open"]

    lab.store.update_item(lab.mailbox, open_task, properties={"subject": "open", "complete": True})
    assert phone.sync() == Seen(soft_deleted=["open"])  # completed: off the device, still a task
    assert sorted(phone.sync(NO_FILTER).added) == ["done", "open"]


def _calendar(lab) -> int:
    """A calendar folder of its own: the 2003 persona's Calendar holds sample appointments."""
    return lab.store.create_folder(lab.mailbox, None, "Team calendar", FolderType.USER_CALENDAR).id


def _appointment(lab, folder: int, subject: str, *, made: float, ends: float, until: float | None = None,
                 recurring: bool = False) -> int:
    """An hour-long appointment entered ``made`` days ago that ends in ``ends`` days (negative: ended).

    ``recurring``: a weekly series whose first occurrence is that one, until ``until`` days from now
    (None: without end).
    """
    now = datetime.now(timezone.utc)
    end = now + timedelta(days=ends)
    properties = {"subject": subject, "start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat()}
    if recurring:
        properties["recurrence"] = {"type": 1, "interval": 1, "day_of_week": 2,
                                    "until": None if until is None else (now + timedelta(days=until)).isoformat()}
    return lab.store.add_item(lab.mailbox, folder, NewItem(
        message_class="IPM.Appointment", subject=subject, read=True, date_received=now - timedelta(days=made),
        properties=properties)).id


@BOTH
def test_calendar_items_are_in_the_window_until_they_end(eas_lab, persona):
    """MS-ASCMD 2.2.3.68.2: an appointment is dated by its end, a series by the end of its recurrence."""
    lab = eas_lab(persona)
    folder = _calendar(lab)
    _appointment(lab, folder, "next_week", made=60, ends=7)  # booked two months ago: inside
    _appointment(lab, folder, "yesterday", made=3, ends=-1)
    _appointment(lab, folder, "last_month", made=40, ends=-30)
    _appointment(lab, folder, "entered_late", made=0, ends=-20)  # typed in today, over for three weeks
    _appointment(lab, folder, "weekly", made=200, ends=-200, recurring=True)  # no end: always inside
    _appointment(lab, folder, "until_next_month", made=200, ends=-200, recurring=True, until=30)
    _appointment(lab, folder, "series_over", made=200, ends=-200, recurring=True, until=-30)
    phone = Phone(lab, persona, folder, klass="Calendar")

    assert sorted(phone.sync_all(TWO_WEEKS).added) == ["next_week", "until_next_month", "weekly", "yesterday"]
    assert sorted(phone.sync_all(NO_FILTER).added) == ["entered_late", "last_month", "series_over"]
    narrowed = phone.sync_all(TWO_WEEKS)
    assert sorted(narrowed.soft_deleted) == ["entered_late", "last_month", "series_over"] and not narrowed.added


@BOTH
def test_an_appointment_leaves_the_device_two_weeks_after_it_ended(eas_lab, persona, monkeypatch):
    lab = eas_lab(persona)
    folder = _calendar(lab)
    _appointment(lab, folder, "tomorrow", made=30, ends=1)
    _appointment(lab, folder, "weekly", made=30, ends=-30, recurring=True)
    phone = Phone(lab, persona, folder, klass="Calendar")
    assert sorted(phone.sync(TWO_WEEKS).added) == ["tomorrow", "weekly"]

    _appointment(lab, folder, "entered_late", made=0, ends=-20)  # new in the mailbox, but long over
    _appointment(lab, folder, "planned", made=0, ends=3)
    assert phone.sync() == Seen(added=["planned"])

    later = sync.now() + timedelta(days=16)
    monkeypatch.setattr(sync, "now", lambda: later)  # "tomorrow" ended 15 days ago, "planned" 13
    assert phone.sync() == Seen(soft_deleted=["tomorrow"])
    assert sorted(phone.shows.values()) == ["planned", "weekly"]  # a series without end never ages out
    assert phone.sync() == Seen()


def test_a_sync_state_from_before_the_window_was_tracked_carries_on(eas_lab):
    """A relationship saved by the previous version (no held items, no FilterType) is not resent."""
    lab = eas_lab("Exchange 2016")
    folder = _folder(lab)
    _mail(lab, folder, today=0.1, d5=5, d20=20)
    phone = Phone(lab, "Exchange 2016", folder)
    assert len(phone.sync_all(ONE_MONTH).added) == 3
    path, name = device_folder(phone.device.device_type, phone.device.device_id), f"Collection-{folder}"
    state = json.loads(lab.store.get_state(lab.mailbox, path, name))
    for new in ("held", "filter_type", "oldest", "pending_soft_delete"):
        del state[new]
    state["previous"].pop("soft_delete")
    lab.store.put_state(lab.mailbox, path, name, json.dumps(state).encode())

    assert phone.sync(ONE_MONTH) == Seen()
    assert sorted(phone.sync(ONE_DAY).soft_deleted) == ["d20", "d5"]


def test_held_items_pack_into_a_few_characters_per_run():
    consecutive = [f"7:{n}" for n in range(100_000, 110_000)]
    scattered = [f"7:{n * 13}" for n in range(10_000)] + ["12:5", "12:6"]
    sizes = []
    for ids in (consecutive, scattered):
        held = ItemSet()
        held.update(ids)
        again = ItemSet(held.packed())
        assert set(again) == set(ids) and all(i in again for i in ids[::97])
        assert "7:3" not in again and "8:100000" not in again and "7:x" not in again
        sizes.append(len(held.packed()))
    assert sizes[0] < 20 and sizes[1] < len(json.dumps(scattered)) / 3  # a run is one token, a gap of 13 "13,"
