"""Direct push in the Exchange 2003 persona: Ping waits on WebDAV SUBSCRIBE, UDP NOTIFY and POLL over the hop.

The device's Ping is held by MASSYNC; MASSYNC subscribes to the watched
folders on the mailbox server (/Exchange) with a ``Call-Back``, and the
store's NOTIFY datagram wakes it when a commit touches one; a POLL then
confirms. Nothing is held on the mailbox server meanwhile. A message
delivered by SMTP must wake the Ping within about a second, and nothing
(subscription, connection, thread) may stay behind when the Ping ends.
"""
from __future__ import annotations

import smtplib
import threading
import time
from email.message import EmailMessage

import pytest

from host.regfile import RegType
from plugins.activesync.exchangehop import listener as hop_listener
from plugins.activesync.plugin import MASSYNC_PARAMETERS
from plugins.owa import davex

from .conftest import free_port, w3c_rows

pytestmark = pytest.mark.realserver
DWORD, MULTI = RegType.REG_DWORD, RegType.REG_MULTI_SZ
PERSONA = "Exchange 2003 SP2"


def _ready(lab, device_id: str):
    device = lab.client(version="2.5", device_id=device_id)
    folders = device.folder_sync()
    inbox = device.folder_id(folders, 2)
    key = device.sync(inbox, "0", klass="Email").text("as:Collections/as:Collection/as:SyncKey")
    device.sync(inbox, key, klass="Email")
    return device, inbox


def _held(lab) -> int:
    return len(hop_listener._listeners.get(lab.service, ()))


def _send_by_smtp(port: int, subject: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@contoso.com", "alice@contoso.com", subject
    msg.set_content("Delivered by the lab's SMTP virtual server.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


def test_ping_through_the_hop_wakes_within_a_second_of_an_smtp_delivery(real_eas):
    smtp_port = free_port()
    lab = real_eas(PERSONA, ("/LM/SMTPSVC/1", "ServerBindings", MULTI, [f"127.0.0.1:{smtp_port}:"]))
    device, inbox = _ready(lab, "PUSH1")
    result: dict = {}

    def hold():
        result["answer"] = device.ping(120, [(inbox, "Email")])
        result["at"] = time.monotonic()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        deadline = time.monotonic() + 10
        while not any(r["cs-method"] == "SUBSCRIBE" for r in w3c_rows(lab.service)) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert "answer" not in result and _held(lab) == 1  # held, waiting for a NOTIFY
        call_backs = [s.call_back for box in davex._SUBSCRIPTIONS[lab.service]._mailboxes.values()
                      for s in box.subscriptions.values()]
        assert len(call_backs) == 2 and all(c is not None and c.address[0] == "127.0.0.1" for c in call_backs)
        assert not any(r["cs-method"] == "POLL" for r in w3c_rows(lab.service))  # no POLL before a NOTIFY
        sent = time.monotonic()
        _send_by_smtp(smtp_port, "Pushed over the hop")
    finally:
        holder.join(15)
    assert not holder.is_alive()
    assert result["answer"].text("ping:Status") == "2"
    assert [f.text for f in result["answer"].findall("ping:Folders/ping:Folder")] == [inbox]
    assert result["at"] - sent < 1.0, f"the Ping answered {result['at'] - sent:.3f} s after the delivery"
    assert _held(lab) == 0

    rows = w3c_rows(lab.service)
    subscribed = {r["cs-uri-stem"] for r in rows if r["cs-method"] == "SUBSCRIBE"}
    assert subscribed == {"/Exchange/alice/", f"/Exchange/alice/-FlatUrlSpace-/{inbox}/"}
    polls = [r for r in rows if r["cs-method"] == "POLL" and r["sc-status"] != "401"]  # not NTLM's first leg
    assert len(polls) == 2 and all(r["cs-username"] == "CONTOSO\\alice" and r["sc-status"] == "207" for r in polls)
    assert {r["cs-uri-stem"] for r in rows if r["cs-method"] == "UNSUBSCRIBE"} == subscribed


def test_a_ping_over_the_hop_expires_with_status_1_and_leaves_nothing_held(real_eas):
    lab = real_eas(PERSONA, (MASSYNC_PARAMETERS, "MinHeartbeatInterval", DWORD, 1))
    device, inbox = _ready(lab, "PUSH2")
    assert device.ping(1, [(inbox, "Email")]).text("ping:Status") == "1"  # opens the host's one NOTIFY port
    threads_before = threading.active_count()
    began = time.monotonic()
    answer = device.ping(2, [(inbox, "Email")])
    assert answer.text("ping:Status") == "1" and 1.9 < time.monotonic() - began < 10
    assert _held(lab) == 0
    assert threading.active_count() <= threads_before  # no thread of MASSYNC's own per held Ping
    assert not any(box.subscriptions for box in davex._SUBSCRIPTIONS[lab.service]._mailboxes.values())


def test_changes_in_the_watched_folder_between_two_waits_are_not_lost(real_eas):
    lab = real_eas(PERSONA)
    device, inbox = _ready(lab, "PUSH3")
    # a change before the Ping: the Ping sees it at once (status 2) without waiting
    lab.deliver("Before the Ping")
    began = time.monotonic()
    assert device.ping(120, [(inbox, "Email")]).text("ping:Status") == "2"
    assert time.monotonic() - began < 5


def test_stopping_the_host_ends_a_ping_held_on_the_hop(real_eas):
    lab = real_eas(PERSONA)
    device, inbox = _ready(lab, "PUSH4")
    result: dict = {}

    def hold():
        try:
            result["status"] = device.ping(600, [(inbox, "Email")]).text("ping:Status")
        except OSError as exc:  # the listener closed the device's connection first (see the report)
            result["dropped"] = exc
        result["at"] = time.monotonic()

    holder = threading.Thread(target=hold)
    holder.start()
    deadline = time.monotonic() + 10
    while _held(lab) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    began = time.monotonic()
    lab.service.stop()
    holder.join(20)
    assert not holder.is_alive() and result["at"] - began < 2.0  # woken by host_stopping, not the heartbeat
    assert result.get("status", "1") == "1"
    assert _held(lab) == 0
