"""Ping (direct push): statuses, heartbeat bounds from MasSync\\Parameters, events 3016 and 3033."""
from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack

import pytest

from host.regfile import RegType
from plugins.activesync import partnership
from plugins.activesync.admission import SLOTS
from plugins.activesync.context import device_lock
from plugins.activesync.plugin import MASSYNC_PARAMETERS, push_hub
from tests.realhost import wait_until

DWORD = RegType.REG_DWORD


def _param(name, value):
    return (MASSYNC_PARAMETERS, name, DWORD, value)


def _ready(lab, version="12.1"):
    device = lab.client(version=version)
    folders = device.folder_sync()
    inbox = device.folder_id(folders, 2)
    return device, inbox


def test_heartbeat_bounds_come_from_the_registry(eas_lab):
    lab = eas_lab("Exchange 2007 SP1", _param("MinHeartbeatInterval", 120), _param("MaxHeartbeatInterval", 600))
    device, inbox = _ready(lab)
    low = device.ping(60, [(inbox, "Email")])
    assert low.text("ping:Status") == "5" and low.text("ping:HeartbeatInterval") == "120"
    high = device.ping(900, [(inbox, "Email")])
    assert high.text("ping:Status") == "5" and high.text("ping:HeartbeatInterval") == "600"


def test_min_above_max_logs_3016_and_uses_the_defaults(eas_lab):
    lab = eas_lab("Exchange 2007 SP1", _param("MinHeartbeatInterval", 900), _param("MaxHeartbeatInterval", 600))
    device, inbox = _ready(lab)
    assert device.ping(30, [(inbox, "Email")]).text("ping:HeartbeatInterval") == "60"
    assert lab.service.eventlog.query(source="Server ActiveSync", event_id=3016)


def test_ping_statuses_3_4_6_7(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device, inbox = _ready(lab)
    assert device.ping(None, None).text("ping:Status") == "3"  # nothing given, nothing cached
    bad = device.post("Ping", raw=b"\x03\x01j\x00\x00\x0dE\x48\x03abc\x00\x01\x01")  # HeartbeatInterval "abc"
    assert bad.text("ping:Status") == "4"
    many = device.ping(60, [(str(n), "Email") for n in range(301)])
    assert many.text("ping:Status") == "6" and many.text("ping:MaxFolders") == "300"
    assert device.ping(60, [("424242", "Email")]).text("ping:Status") == "7"


def test_ping_before_any_folder_sync_is_7(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device = lab.client(version="12.1")
    inbox = str(lab.folder(2).id)
    assert device.ping(60, [(inbox, "Email")]).text("ping:Status") == "7"


def test_unsynced_changes_answer_at_once(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device, inbox = _ready(lab)
    key = device.sync(inbox, "0", klass="Email").text("as:Collections/as:Collection/as:SyncKey")
    device.sync(inbox, key, klass="Email")
    lab.deliver("waiting for you")
    began = time.monotonic()
    answer = device.ping(600, [(inbox, "Email")])
    assert answer.text("ping:Status") == "2" and time.monotonic() - began < 2


@pytest.mark.realserver
def test_a_held_ping_expires_with_status_1_and_an_empty_ping_repeats_it(real_eas):
    lab = real_eas("Exchange 2007 SP1", _param("MinHeartbeatInterval", 1))
    device, inbox = _ready(lab)
    began = time.monotonic()
    assert device.ping(1, [(inbox, "Email")]).text("ping:Status") == "1"
    assert 0.9 <= time.monotonic() - began < 5
    began = time.monotonic()
    assert device.post("Ping").text("ping:Status") == "1"  # cached heartbeat and folders
    assert 0.9 <= time.monotonic() - began < 5


@pytest.mark.realserver
def test_held_pings_do_not_block_other_requests_and_end_on_shutdown(real_eas):
    lab = real_eas("Exchange 2007 SP1")
    device, inbox = _ready(lab)
    other = lab.client(version="12.1", device_id="OTHER1")
    results = []
    holders = [threading.Thread(target=lambda: results.append(device.ping(600, [(inbox, "Email")])))
               for _ in range(3)]
    for holder in holders:
        holder.start()
    time.sleep(0.5)
    began = time.monotonic()
    assert other.folder_sync().text("fh:Status") == "1"
    assert time.monotonic() - began < 2
    assert push_hub(lab.service).held == 3
    push_hub(lab.service).shutdown()
    for holder in holders:
        holder.join(10)
    assert [r.text("ping:Status") for r in results] == ["1", "1", "1"]


def test_low_average_heartbeat_raises_3033(eas_lab):
    lab = eas_lab("Exchange 2007 SP1", _param("HbiSampleSize", 3), _param("HbiAlertThreshold", 540),
                  _param("MinHeartbeatInterval", 1))
    device, inbox = _ready(lab)
    for _ in range(3):
        assert device.ping(1, [(inbox, "Email")]).text("ping:Status") == "1"
    [event] = lab.service.eventlog.query(source="Server ActiveSync", event_id=3033)
    assert event.level.value == "Warning" and "[540]" in event.text


def test_another_devices_sync_state_wakes_no_held_ping_but_new_mail_does(eas_lab):
    """Sync state lives in hidden folders: a thousand devices saving theirs must not wake each other's Pings."""
    lab = eas_lab("Exchange 2016")
    listener = push_hub(lab.service).listen(lab.mailbox)
    try:
        lab.store.put_state(lab.mailbox, "Microsoft-Server-ActiveSync/PocketPC/OTHER", "Ping", b"{}")
        assert not listener.wait(0.3)
        lab.deliver("Wake up")
        assert listener.wait(5)
    finally:
        listener.close()


def test_pings_take_turns_while_other_requests_go_straight_in(eas_lab):
    """A burst of Pings queues for a turn (plugins/activesync/admission.py); a FolderSync does not."""
    lab = eas_lab("Exchange 2007 SP1")
    device, inbox = _ready(lab)
    key = device.sync(inbox, "0", klass="Email").text("as:Collections/as:Collection/as:SyncKey")
    device.sync(inbox, key, klass="Email")
    lab.deliver("waiting for you")  # the Ping below has something to say as soon as it is let in
    other = lab.client(version="12.1", device_id="OTHER1")
    admission = push_hub(lab.service).admission
    with ExitStack() as turns:
        for _ in range(SLOTS):  # every turn taken, as by Pings being set up
            turns.enter_context(admission.turn())
        answers = []
        waiting = threading.Thread(target=lambda: answers.append(device.ping(600, [(inbox, "Email")])))
        waiting.start()
        assert other.folder_sync().text("fh:Status") == "1"
        waiting.join(0.5)
        assert not answers  # still waiting for its turn
    waiting.join(10)
    assert [a.text("ping:Status") for a in answers] == ["2"]


@pytest.mark.realserver
def test_held_pings_give_their_turns_back(real_eas):
    """More Pings than turns can be held at once, and all of them answer when the mail arrives."""
    lab = real_eas("Exchange 2007 SP1")
    _, inbox = _ready(lab)
    holders = [lab.client(version="12.1", device_id=f"HOLD{n}") for n in range(SLOTS + 2)]
    for holder in holders:
        holder.folder_sync()
    results = []
    threads = [threading.Thread(target=lambda h=h: results.append(h.ping(600, [(inbox, "Email")])))
               for h in holders]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: push_hub(lab.service).held == len(holders))
    lab.deliver("for everyone")
    for thread in threads:
        thread.join(10)
    assert [r.text("ping:Status") for r in results] == ["2"] * len(holders)


def test_a_held_ping_has_saved_its_partnership_already(eas_lab, monkeypatch):
    """Last sync is written when the Ping starts, so a thousand answers to one delivery write nothing."""
    monkeypatch.setattr(partnership, "LAST_SYNC_RESOLUTION_S", 0)
    lab = eas_lab("Exchange 2007 SP1")
    device, inbox = _ready(lab)
    held = threading.Thread(target=lambda: device.ping(600, [(inbox, "Email")]))
    held.start()
    try:
        assert wait_until(lambda: push_hub(lab.service).held == 1)
        raw = lab.store.get_state(lab.mailbox, partnership.device_folder("PocketPC", device.device_id),
                                  partnership.RECORD)
        assert json.loads(raw)["last_command"] == "Ping"
    finally:
        lab.deliver("wake up")
        held.join(10)


def test_pings_waiting_for_their_devices_lock_leave_the_turns_to_others(eas_lab):
    """A Ping of a device whose Sync is still running waits for it without holding up other devices' Pings."""
    lab = eas_lab("Exchange 2007 SP1")
    busy, inbox = _ready(lab)
    other = lab.client(version="12.1", device_id="OTHER1")
    other.folder_sync()
    key = other.sync(inbox, "0", klass="Email").text("as:Collections/as:Collection/as:SyncKey")
    other.sync(inbox, key, klass="Email")
    lab.deliver("for the other device")
    lock = device_lock(lab.mailbox, busy.device_id)
    lock.acquire()  # as a long Sync of that device would
    try:
        waiting = [threading.Thread(target=busy.ping, args=(600, [(inbox, "Email")]), daemon=True)
                   for _ in range(SLOTS)]
        for thread in waiting:
            thread.start()
        time.sleep(0.5)  # every one of them is in, waiting for the device
        began = time.monotonic()
        assert other.ping(600, [(inbox, "Email")]).text("ping:Status") == "2"
        assert time.monotonic() - began < 5
    finally:
        lock.release()
        wait_until(lambda: push_hub(lab.service).held == SLOTS)  # then new mail is news to them
        lab.deliver("wake the waiting ones")
        for thread in waiting:
            thread.join(10)
