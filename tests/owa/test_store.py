"""The mailbox store as its users see it: OWA/WebDAV, SMTP delivery and MASSYNC."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from plugins.owa.mailbox import (
    ACTIVESYNC_FOLDER,
    FlagStatus,
    FolderExists,
    FolderType,
    Importance,
    InvalidFolderMove,
    MailboxExists,
    NewItem,
    NoSuchFolder,
    NoSuchItem,
    NoSuchMailbox,
    QuotaExceededError,
    Quotas,
    QuotaState,
    SpecialFolderError,
    StoreError,
)
from plugins.owa.sqlitestore import SQLiteMailboxStore

ALICE = "CONTOSO\\alice"
STATE_PATH = f"{ACTIVESYNC_FOLDER}/PocketPC/DEVICE1"


def mail(subject: str = "Hello", body: str = "Hi Alice.", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Bob Jones <bob@contoso.com>"
    msg["To"] = "Alice Smith <alice@contoso.com>"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Jan 2006 09:30:00 +0100"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return bytes(msg)


@pytest.fixture
def store(tmp_path):
    s = SQLiteMailboxStore(tmp_path / "mailstore.db")
    yield s
    s.close()


@pytest.fixture
def alice(store):
    return store.create_mailbox(ALICE, "Alice Smith", "alice@contoso.com").id


def inbox(store, mailbox_id):
    return store.default_folder(mailbox_id, FolderType.INBOX).id


def deleted_items(store, mailbox_id):
    return store.default_folder(mailbox_id, FolderType.DELETED_ITEMS).id


# -- mailboxes and folders ---------------------------------------------------


def test_new_mailbox_has_exchange_2003_default_folders_with_eas_types(store, alice):
    visible = {f.display_name: f.folder_type for f in store.folders(alice)}
    assert visible == {
        "Calendar": FolderType.CALENDAR,
        "Contacts": FolderType.CONTACTS,
        "Deleted Items": FolderType.DELETED_ITEMS,
        "Drafts": FolderType.DRAFTS,
        "Inbox": FolderType.INBOX,
        "Journal": FolderType.JOURNAL,
        "Junk E-mail": FolderType.USER_MAIL,
        "Notes": FolderType.NOTES,
        "Outbox": FolderType.OUTBOX,
        "Sent Items": FolderType.SENT_ITEMS,
        "Tasks": FolderType.TASKS,
    }
    assert all(f.parent_id is None for f in store.folders(alice))
    assert store.default_folder(alice, FolderType.CALENDAR).container_class == "IPF.Appointment"


def test_hidden_sync_folder_exists_but_never_shows_in_the_visible_hierarchy(store, alice):
    assert ACTIVESYNC_FOLDER not in {f.display_name for f in store.folders(alice)}
    hidden = [f for f in store.folders(alice, include_hidden=True) if f.hidden]
    assert [f.display_name for f in hidden] == [ACTIVESYNC_FOLDER]
    with pytest.raises(NoSuchFolder):
        store.folder_by_path(alice, ACTIVESYNC_FOLDER)


def test_mailbox_ids_and_smtp_addresses_are_unique(store, alice):
    with pytest.raises(MailboxExists):
        store.create_mailbox(ALICE, "Alice again", "alice2@contoso.com")
    with pytest.raises(MailboxExists, match="ALICE@contoso.com"):
        store.create_mailbox("CONTOSO\\alice2", "Alice 2", "ALICE@contoso.com")
    assert store.find_mailbox("Alice@Contoso.com").id == ALICE
    assert [m.id for m in store.list_mailboxes()] == [ALICE]


def test_unknown_mailbox_folder_and_item_raise_specific_errors(store, alice):
    with pytest.raises(NoSuchMailbox, match="bob"):
        store.folders("CONTOSO\\bob")
    with pytest.raises(NoSuchFolder):
        store.list_items(alice, 999_999)
    with pytest.raises(NoSuchItem):
        store.get_mime(alice, 999_999)


def test_one_mailbox_cannot_reach_another_mailboxs_folder_or_item(store, alice):
    store.create_mailbox("CONTOSO\\bob", "Bob Jones", "bob@contoso.com")
    item = store.deliver(alice, mail())
    with pytest.raises(NoSuchFolder):
        store.list_items("CONTOSO\\bob", item.folder_id)
    with pytest.raises(NoSuchItem):
        store.get_mime("CONTOSO\\bob", item.id)


def test_user_folders_can_be_created_found_by_path_renamed_and_moved(store, alice):
    projects = store.create_folder(alice, inbox(store, alice), "Projects")
    assert store.folder_by_path(alice, "inbox/PROJECTS").id == projects.id
    renamed = store.rename_folder(alice, projects.id, "Archive")
    assert store.folder_by_path(alice, "Inbox/Archive").id == projects.id
    moved = store.move_folder(alice, projects.id, None)
    assert moved.parent_id is None and moved.display_name == renamed.display_name
    assert store.folder_by_path(alice, "Archive").id == projects.id


def test_sibling_folder_names_collide_case_insensitively(store, alice):
    store.create_folder(alice, None, "Projects")
    with pytest.raises(FolderExists):
        store.create_folder(alice, None, "PROJECTS")
    with pytest.raises(FolderExists):
        store.create_folder(alice, None, "inbox")


def test_folder_cannot_move_into_its_own_subfolder(store, alice):
    parent = store.create_folder(alice, None, "Parent")
    child = store.create_folder(alice, parent.id, "Child")
    with pytest.raises(InvalidFolderMove):
        store.move_folder(alice, parent.id, child.id)


def test_clients_create_user_folder_types_not_second_default_folders(store, alice):
    calendar = store.create_folder(alice, None, "Team Calendar", FolderType.USER_CALENDAR)
    assert calendar.container_class == "IPF.Appointment"
    with pytest.raises(ValueError, match="INBOX"):
        store.create_folder(alice, None, "Another Inbox", FolderType.INBOX)


@pytest.mark.parametrize("action", ["rename", "move", "delete"])
def test_default_folders_are_special(store, alice, action):
    folder = inbox(store, alice)
    with pytest.raises(SpecialFolderError, match="Inbox"):
        if action == "rename":
            store.rename_folder(alice, folder, "Post")
        elif action == "move":
            store.move_folder(alice, folder, deleted_items(store, alice))
        else:
            store.delete_folder(alice, folder, hard=True)


def test_deleting_a_folder_moves_it_to_deleted_items_with_its_items(store, alice):
    folder = store.create_folder(alice, None, "Old")
    item = store.add_item(alice, folder.id, NewItem(subject="kept"))
    store.delete_folder(alice, folder.id)
    assert store.folder_by_path(alice, "Deleted Items/Old").id == folder.id
    assert store.get_item(alice, item.id).subject == "kept"


def test_deleting_a_folder_inside_deleted_items_removes_it_and_its_items(store, alice):
    folder = store.create_folder(alice, None, "Old")
    item = store.add_item(alice, folder.id, NewItem(subject="gone", mime=b"x" * 500))
    size_before = store.mailbox_size(alice)
    store.delete_folder(alice, folder.id)
    store.delete_folder(alice, folder.id)
    with pytest.raises(NoSuchFolder):
        store.get_folder(alice, folder.id)
    with pytest.raises(NoSuchItem):
        store.get_item(alice, item.id)
    assert store.mailbox_size(alice) == size_before - item.size


def test_soft_deleted_folder_gets_a_free_name_in_deleted_items(store, alice):
    first = store.create_folder(alice, None, "Old")
    store.delete_folder(alice, first.id)
    second = store.create_folder(alice, None, "Old")
    store.delete_folder(alice, second.id)
    assert store.get_folder(alice, second.id).display_name == "Old (2)"


# -- items -------------------------------------------------------------------


def test_delivery_keeps_the_exact_mime_and_indexes_its_headers(store, alice):
    msg = EmailMessage()
    msg["From"] = "Bob Jones <bob@contoso.com>"
    msg["To"] = "Alice Smith <alice@contoso.com>"
    msg["Cc"] = "carol@contoso.com"
    msg["Subject"] = "Grüße"
    msg["Date"] = "Mon, 02 Jan 2006 09:30:00 +0100"
    msg["Importance"] = "High"
    msg.set_content("See attached.")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="q1.pdf")
    raw = bytes(msg)
    received = datetime(2006, 1, 2, 8, 31, tzinfo=timezone.utc)

    item = store.deliver(alice, raw, date_received=received)

    assert store.get_mime(alice, item.id) == raw
    assert item.folder_id == inbox(store, alice)
    assert item.message_class == "IPM.Note"
    assert item.subject == "Grüße"
    assert item.sender == "Bob Jones <bob@contoso.com>"
    assert item.to == "Alice Smith <alice@contoso.com>"
    assert item.cc == "carol@contoso.com"
    assert item.date_sent == datetime(2006, 1, 2, 8, 30, tzinfo=timezone.utc)
    assert item.date_received == received
    assert item.importance is Importance.HIGH
    assert item.has_attachments and not item.read
    assert item.size >= len(raw)


CALENDAR = "BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\nATTENDEE;PARTSTAT={partstat}:mailto:alice@contoso.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


@pytest.mark.parametrize(
    ("method", "partstat", "message_class"),
    [
        ("REQUEST", "NEEDS-ACTION", "IPM.Schedule.Meeting.Request"),
        ("CANCEL", "NEEDS-ACTION", "IPM.Schedule.Meeting.Canceled"),
        ("REPLY", "ACCEPTED", "IPM.Schedule.Meeting.Resp.Pos"),
        ("REPLY", "DECLINED", "IPM.Schedule.Meeting.Resp.Neg"),
        ("REPLY", "TENTATIVE", "IPM.Schedule.Meeting.Resp.Tent"),
    ],
)
def test_meeting_mail_gets_its_schedule_message_class(store, alice, method, partstat, message_class):
    msg = EmailMessage()
    msg["Subject"] = "Review"
    msg.set_content("Join us.")
    msg.add_alternative(
        CALENDAR.format(method=method, partstat=partstat), subtype="calendar", params={"method": method}
    )
    assert store.deliver(alice, bytes(msg)).message_class == message_class


def test_signed_mail_is_smime_multipart_signed(store, alice):
    raw = (
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=b\r\n'
        b"Subject: signed\r\n\r\n--b\r\n\r\ntext\r\n--b--\r\n"
    )
    assert store.deliver(alice, raw).message_class == "IPM.Note.SMIME.MultipartSigned"


def test_garbled_headers_do_not_stop_delivery(store, alice):
    raw = b"From: \r\nDate: not a date\r\nSubject: still delivered\r\n\r\nbody"
    item = store.deliver(alice, raw)
    assert item.subject == "still delivered"
    assert item.date_sent is None
    assert store.get_mime(alice, item.id) == raw


def test_calendar_items_keep_their_structured_properties(store, alice):
    calendar = store.default_folder(alice, FolderType.CALENDAR).id
    properties = {
        "start": "2006-01-10T09:00:00+00:00",
        "end": "2006-01-10T10:00:00+00:00",
        "all_day": False,
        "location": "Room 1",
        "organizer": "bob@contoso.com",
        "attendees": [{"email": "alice@contoso.com", "type": "required"}],
        "recurrence": {"type": "weekly", "interval": 1, "day_of_week": 2},
        "exceptions": [{"start": "2006-01-17T09:00:00+00:00", "deleted": True}],
        "time_zone": "W. Europe Standard Time",
    }
    item = store.add_item(
        alice, calendar, NewItem(message_class="IPM.Appointment", subject="Weekly", properties=properties)
    )
    assert store.get_item(alice, item.id).properties == properties
    bigger = store.update_item(alice, item.id, properties={**properties, "location": "Room 101 (big)"})
    assert bigger.properties["location"] == "Room 101 (big)"
    assert bigger.size == item.size + len("Room 101 (big)") - len("Room 1")


def test_replacing_an_item_keeps_its_id_folder_and_flags_and_counts_toward_quota(store, alice):
    drafts = store.default_folder(alice, FolderType.DRAFTS).id
    item = store.add_item(alice, drafts, NewItem.from_mime(mail("First try")))
    store.update_item(alice, item.id, read=True, flag_status=FlagStatus.FLAGGED)
    size = store.mailbox_size(alice)
    edited = mail("Second try", body="Longer now. " * 20, Importance="high")
    replaced = store.replace_item(alice, item.id, NewItem.from_mime(edited, date_received=datetime.now(timezone.utc)))
    assert (replaced.id, replaced.folder_id, replaced.date_received) == (item.id, drafts, item.date_received)
    assert replaced.read and replaced.flag_status is FlagStatus.FLAGGED
    assert replaced.subject == "Second try" and replaced.importance is Importance.HIGH
    assert store.get_mime(alice, item.id) == edited
    assert store.mailbox_size(alice) == size - item.size + replaced.size
    assert store.changes_since(alice, drafts, item.change_number).changed == (item.id,)
    store.set_mailbox_quotas(alice, Quotas(prohibit_send_receive_kb=1))
    with pytest.raises(QuotaExceededError):
        store.replace_item(alice, item.id, NewItem.from_mime(mail("Too big", body="x" * 2048)))
    assert store.replace_item(alice, item.id, NewItem.from_mime(mail("Short"))).subject == "Short"  # shrinking


def test_read_flag_and_follow_up_flag_are_stored(store, alice):
    item = store.deliver(alice, mail())
    updated = store.update_item(alice, item.id, read=True, flag_status=FlagStatus.FLAGGED)
    assert updated.read and updated.flag_status is FlagStatus.FLAGGED
    assert store.get_item(alice, item.id).read


def test_listing_pages_newest_first_and_counts(store, alice):
    start = datetime(2006, 1, 1, tzinfo=timezone.utc)
    for n in range(7):
        store.deliver(alice, mail(f"m{n}"), date_received=start + timedelta(hours=n))
    first = store.list_items(alice, inbox(store, alice), limit=3)
    second = store.list_items(alice, inbox(store, alice), offset=3, limit=3)
    assert [i.subject for i in first] == ["m6", "m5", "m4"]
    assert [i.subject for i in second] == ["m3", "m2", "m1"]
    assert store.count_items(alice, inbox(store, alice)) == 7


def test_soft_delete_moves_to_deleted_items_and_deleting_there_is_permanent(store, alice):
    item = store.deliver(alice, mail())
    store.delete_items(alice, [item.id])
    [in_trash] = store.list_items(alice, deleted_items(store, alice))
    assert in_trash.subject == item.subject
    assert store.get_mime(alice, in_trash.id) == mail()
    store.delete_items(alice, [in_trash.id])
    assert store.count_items(alice, deleted_items(store, alice)) == 0


def test_delete_of_several_items_is_all_or_nothing(store, alice):
    item = store.deliver(alice, mail())
    with pytest.raises(NoSuchItem):
        store.delete_items(alice, [item.id, 999_999], hard=True)
    assert store.get_item(alice, item.id).subject == "Hello"


def test_move_gives_a_new_id_and_copy_an_independent_item(store, alice):
    drafts = store.default_folder(alice, FolderType.DRAFTS).id
    item = store.deliver(alice, mail())
    moved = store.move_item(alice, item.id, drafts)
    assert moved.id != item.id and moved.folder_id == drafts
    with pytest.raises(NoSuchItem):
        store.get_item(alice, item.id)
    copy = store.copy_item(alice, moved.id, inbox(store, alice))
    store.delete_items(alice, [moved.id], hard=True)
    assert store.get_mime(alice, copy.id) == mail()


# -- change tracking ----------------------------------------------------------


def test_every_change_gets_a_higher_change_number(store, alice):
    seen = [store.get_mailbox(alice).change_number]
    item = store.deliver(alice, mail())
    seen.append(item.change_number)
    seen.append(store.update_item(alice, item.id, read=True).change_number)
    moved = store.move_item(alice, item.id, deleted_items(store, alice))
    seen.append(moved.change_number)
    seen.append(store.create_folder(alice, None, "X").change_number)
    store.put_state(alice, STATE_PATH, "SyncKey", b"1")
    seen.append(store.get_mailbox(alice).change_number)
    assert seen == sorted(set(seen))


def test_changes_since_returns_exactly_what_happened_after_the_mark(store, alice):
    box = inbox(store, alice)
    other = store.create_folder(alice, None, "Other").id
    kept, read, deleted, moved = (store.deliver(alice, mail(s)) for s in ("kept", "read", "del", "mov"))
    mark = store.changes_since(alice, box, 0).change_number

    new = store.deliver(alice, mail("new"))
    store.update_item(alice, read.id, read=True)
    store.delete_items(alice, [deleted.id], hard=True)
    arrived = store.move_item(alice, moved.id, other)
    fleeting = store.deliver(alice, mail("fleeting"))
    store.delete_items(alice, [fleeting.id], hard=True)

    changes = store.changes_since(alice, box, mark)
    assert changes.added == (new.id,)
    assert changes.changed == (read.id,)
    assert set(changes.deleted) == {deleted.id, moved.id}
    assert kept.id not in changes.added + changes.changed + changes.deleted
    assert store.changes_since(alice, other, mark).added == (arrived.id,)
    assert changes.change_number == store.get_mailbox(alice).change_number
    empty = store.changes_since(alice, box, changes.change_number)
    assert empty.added == empty.changed == empty.deleted == ()


def test_soft_delete_is_a_tombstone_in_the_folder_and_an_add_in_deleted_items(store, alice):
    item = store.deliver(alice, mail())
    mark = store.get_mailbox(alice).change_number
    store.delete_items(alice, [item.id])
    assert store.changes_since(alice, inbox(store, alice), mark).deleted == (item.id,)
    [trash_id] = store.changes_since(alice, deleted_items(store, alice), mark).added
    assert store.get_item(alice, trash_id).subject == "Hello"


def test_hierarchy_changes_report_visible_folder_adds_changes_and_deletes(store, alice):
    doomed = store.create_folder(alice, None, "Doomed")
    child = store.create_folder(alice, doomed.id, "Child")
    renamed = store.create_folder(alice, None, "Before")
    trashed = store.create_folder(alice, None, "Trashed")
    mark = store.hierarchy_changes_since(alice, 0).change_number

    added = store.create_folder(alice, None, "New")
    store.rename_folder(alice, renamed.id, "After")
    store.delete_folder(alice, trashed.id)
    store.delete_folder(alice, doomed.id, hard=True)
    store.put_state(alice, STATE_PATH, "SyncKey", b"1")  # creates hidden folders

    changes = store.hierarchy_changes_since(alice, mark)
    assert changes.added == (added.id,)
    assert set(changes.changed) == {renamed.id, trashed.id}
    assert set(changes.deleted) == {doomed.id, child.id}


def test_initial_hierarchy_sync_lists_exactly_the_visible_folders(store, alice):
    changes = store.hierarchy_changes_since(alice, 0)
    assert set(changes.added) == {f.id for f in store.folders(alice)}
    assert changes.deleted == ()


# -- commit notifications -------------------------------------------------------


def test_on_commit_fires_after_the_write_is_visible_to_other_connections(store, alice, tmp_path):
    calls = []

    def listener(mailbox_id, folder_ids, change_number):
        with sqlite3.connect(tmp_path / "mailstore.db") as other:
            visible = other.execute("SELECT count(*) FROM items").fetchone()[0]
        other.close()
        calls.append((mailbox_id, folder_ids, change_number, visible))

    store.on_commit(listener)
    item = store.deliver(alice, mail())
    assert calls == [(ALICE, frozenset({inbox(store, alice)}), item.change_number, 1)]


def test_on_commit_names_both_folders_of_a_move(store, alice):
    item = store.deliver(alice, mail())
    calls = []
    store.on_commit(lambda *args: calls.append(args))
    store.move_item(alice, item.id, deleted_items(store, alice))
    [(_, folders, change_number)] = calls
    assert folders == {inbox(store, alice), deleted_items(store, alice)}
    assert change_number == store.get_mailbox(alice).change_number


def test_on_commit_does_not_fire_for_a_rolled_back_write(store, alice):
    item = store.deliver(alice, mail())
    calls = []
    store.on_commit(lambda *args: calls.append(args))
    with pytest.raises(NoSuchItem):
        store.delete_items(alice, [item.id, 999_999])
    assert calls == []
    store.set_mailbox_quotas(alice, Quotas(prohibit_send_receive_kb=1))
    with pytest.raises(QuotaExceededError):
        store.deliver(alice, mail(body="x" * 2000))
    assert calls == []


def test_a_failing_listener_does_not_fail_the_write_and_can_unregister(store, alice):
    def broken(*args):
        raise RuntimeError("listener bug")

    unregister = store.on_commit(broken)
    item = store.deliver(alice, mail())
    assert store.get_item(alice, item.id)
    unregister()
    calls = []
    store.on_commit(lambda *args: calls.append(args))
    store.deliver(alice, mail())
    assert len(calls) == 1


# -- quotas ----------------------------------------------------------------------


def test_quota_state_follows_the_three_exchange_limits(store, alice):
    store.set_store_quotas(Quotas(issue_warning_kb=2, prohibit_send_kb=4, prohibit_send_receive_kb=8))
    assert store.quota_state(alice) is QuotaState.OK
    states = []
    for _ in range(2):
        store.add_item(alice, inbox(store, alice), NewItem(mime=b"x" * 2048))
        states.append(store.quota_state(alice))
    assert states == [QuotaState.WARNING, QuotaState.PROHIBIT_SEND]
    store.set_store_quotas(Quotas(issue_warning_kb=2, prohibit_send_kb=4, prohibit_send_receive_kb=4))
    assert store.quota_state(alice) is QuotaState.PROHIBIT_SEND_RECEIVE


def test_mailbox_quota_overrides_store_defaults_until_cleared(store, alice):
    store.set_store_quotas(Quotas(prohibit_send_receive_kb=1000))
    store.set_mailbox_quotas(alice, Quotas(issue_warning_kb=0, prohibit_send_receive_kb=5))
    assert store.effective_quotas(alice) == Quotas(prohibit_send_receive_kb=5)
    assert store.get_mailbox(alice).quotas == Quotas(prohibit_send_receive_kb=5)
    store.set_mailbox_quotas(alice, None)
    assert store.effective_quotas(alice) == Quotas(prohibit_send_receive_kb=1000)


def test_delivery_past_prohibit_send_receive_is_refused_and_stores_nothing(store, alice):
    store.set_mailbox_quotas(alice, Quotas(prohibit_send_receive_kb=4))
    store.add_item(alice, inbox(store, alice), NewItem(mime=b"x" * 3000))
    size = store.mailbox_size(alice)
    with pytest.raises(QuotaExceededError) as refused:
        store.deliver(alice, mail(body="y" * 2000))
    assert refused.value.quota_name == "ProhibitSendReceiveQuota"
    assert refused.value.limit_kb == 4 and refused.value.size == size
    assert refused.value.attempted_size > 4 * 1024
    assert "ProhibitSendReceiveQuota" in str(refused.value)
    assert store.count_items(alice, inbox(store, alice)) == 1
    assert store.mailbox_size(alice) == size


def test_sync_state_counts_toward_quota_and_is_refused_when_full(store, alice):
    before = store.mailbox_size(alice)
    store.put_state(alice, STATE_PATH, "FolderSync", b"s" * 1000)
    assert store.mailbox_size(alice) >= before + 1000
    store.set_mailbox_quotas(alice, Quotas(prohibit_send_receive_kb=1))
    with pytest.raises(QuotaExceededError):
        store.put_state(alice, STATE_PATH, "Sync-Inbox", b"s" * 100)
    with pytest.raises(NoSuchItem):
        store.get_state(alice, STATE_PATH, "Sync-Inbox")
    assert store.get_state(alice, STATE_PATH, "FolderSync") == b"s" * 1000


def test_over_quota_mailbox_still_moves_and_deletes_and_only_hard_deletes_free_space(store, alice):
    items = [store.deliver(alice, mail(f"m{n}", body="z" * 1500)) for n in range(3)]
    store.set_mailbox_quotas(alice, Quotas(prohibit_send_receive_kb=1))
    assert store.quota_state(alice) is QuotaState.PROHIBIT_SEND_RECEIVE
    size = store.mailbox_size(alice)

    store.delete_items(alice, [items[0].id])  # to Deleted Items: Exchange still counts it
    assert store.mailbox_size(alice) == size
    moved = store.move_item(alice, items[1].id, store.default_folder(alice, FolderType.DRAFTS).id)
    with pytest.raises(QuotaExceededError):
        store.copy_item(alice, moved.id, inbox(store, alice))
    store.delete_items(alice, [moved.id, items[2].id], hard=True)
    assert store.mailbox_size(alice) == size - items[1].size - items[2].size


def test_concurrent_deliveries_cannot_race_past_the_quota(store, alice):
    store.set_mailbox_quotas(alice, Quotas(prohibit_send_receive_kb=10))
    message = mail(body="q" * 900)
    outcomes: list[str] = []

    def deliver() -> None:
        for _ in range(6):
            try:
                store.deliver(alice, message)
                outcomes.append("ok")
            except QuotaExceededError:
                outcomes.append("refused")

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert store.mailbox_size(alice) <= 10 * 1024
    assert outcomes.count("ok") == store.count_items(alice, inbox(store, alice)) > 0
    assert "refused" in outcomes


# -- sync state ------------------------------------------------------------------


def test_sync_state_round_trips_replaces_and_deletes(store, alice):
    store.put_state(alice, STATE_PATH, "SyncKey", b"one")
    store.put_state(alice, STATE_PATH, "SyncKey", b"two-two")
    assert store.get_state(alice, STATE_PATH, "SyncKey") == b"two-two"
    size = store.mailbox_size(alice)
    store.delete_state(alice, STATE_PATH, "SyncKey")
    with pytest.raises(NoSuchItem):
        store.get_state(alice, STATE_PATH, "SyncKey")
    assert store.mailbox_size(alice) < size
    store.delete_state(alice, STATE_PATH, "SyncKey")  # already gone: nothing to do


def test_sync_state_cannot_be_written_into_the_visible_hierarchy(store, alice):
    with pytest.raises(FolderExists):
        store.put_state(alice, "Top of Information Store/Inbox", "SyncKey", b"x")


# -- virus scanning ----------------------------------------------------------------


def test_items_pending_virus_scan_are_left_out_of_the_scanned_listing(store, alice):
    box = inbox(store, alice)
    old = store.deliver(alice, mail("old"))
    store.new_scan_id()  # new signatures: everything is pending again
    fresh = store.deliver(alice, mail("fresh"))  # scanned on delivery with the new id
    unscanned = store.deliver(alice, mail("unscanned"), scanned=False)

    assert [i.id for i in store.list_items(alice, box, scanned_only=True)] == [fresh.id]
    assert store.count_items(alice, box, scanned_only=True) == 1
    assert store.count_items(alice, box) == 3

    assert store.mark_scanned(alice, [old.id]) == 1
    assert {i.id for i in store.list_items(alice, box, scanned_only=True)} == {old.id, fresh.id}
    assert store.mark_scanned(alice) == 1  # background scan catches the rest
    assert store.count_items(alice, box, scanned_only=True) == 3
    assert unscanned.id in {i.id for i in store.list_items(alice, box, scanned_only=True)}


# -- concurrency and schema ----------------------------------------------------------


def test_threads_deliver_concurrently_without_losing_or_sharing_change_numbers(store, alice):
    errors = []

    def deliver(n: int) -> None:
        try:
            for k in range(10):
                store.deliver(alice, mail(f"t{n}-{k}"))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    items = store.list_items(alice, inbox(store, alice), limit=100)
    assert len(items) == 40
    assert len({i.change_number for i in items}) == 40


WRITER = """
import sys
from plugins.owa.sqlitestore import SQLiteMailboxStore
with SQLiteMailboxStore(sys.argv[1]) as store:
    for n in range(15):
        store.deliver(sys.argv[2], b"Subject: %s %d\\r\\n\\r\\nbody" % (sys.argv[3].encode(), n))
"""


def test_two_processes_deliver_into_one_mailbox_while_this_one_reads(store, alice, tmp_path):
    db = str(tmp_path / "mailstore.db")
    repo = Path(__file__).resolve().parents[2]
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, db, alice, name], cwd=repo, stderr=subprocess.PIPE)
        for name in ("cli", "smtp")
    ]
    deadline = time.monotonic() + 60
    try:
        while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
            store.changes_since(alice, inbox(store, alice), 0)  # readers never block writers
        assert [w.wait(timeout=60) for w in writers] == [0, 0], [w.stderr.read() for w in writers]
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait(timeout=10)
            w.stderr.close()
    items = store.list_items(alice, inbox(store, alice), limit=100)
    assert len(items) == 30
    assert len({i.change_number for i in items}) == 30
    assert store.changes_since(alice, inbox(store, alice), 0).change_number == max(
        i.change_number for i in items
    )


def test_reopening_keeps_data_and_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "mailstore.db"
    with SQLiteMailboxStore(path) as first:
        first.create_mailbox(ALICE, "Alice", "alice@contoso.com")
    with SQLiteMailboxStore(path) as second:
        assert second.get_mailbox(ALICE).display_name == "Alice"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SQLiteMailboxStore(path)


def test_store_database_is_in_wal_mode_so_readers_never_block_delivery(store, alice, tmp_path):
    with sqlite3.connect(tmp_path / "mailstore.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
