"""Sync and GetItemEstimate as a device meets them: keys, windows, bodies, item statuses, quota."""
from __future__ import annotations

import threading
import time

from plugins.owa.mailbox import FolderType, Quotas

from .easclient import el


def _ready(lab, version="14.1", **kwargs):
    device = lab.client(version=version, **kwargs)
    if lab.service.config.registry_value(
            r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Exchange\Setup", "EmulatedVersion") in (
            "Exchange 2010 SP1", "Exchange 2016"):
        device.provision()
    folders = device.folder_sync()
    return device, folders


def _start(device, folder_id, klass="Email"):
    return device.sync(folder_id, "0", klass=klass).text("as:Collections/as:Collection/as:SyncKey")


def _col(answer, name):
    return answer.text(f"as:Collections/as:Collection/as:{name}")


def test_an_unknown_sync_key_is_status_3(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    device, folders = _ready(lab)
    inbox = device.folder_id(folders, 2)
    _start(device, inbox)
    assert _col(device.sync(inbox, "{0000}7"), "Status") == "3"


def test_repeating_the_previous_key_answers_the_same_again(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    lab.seed(3)
    device, folders = _ready(lab)
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    first = device.sync(inbox, key)
    again = device.sync(inbox, key)
    ids = lambda a: [x.findtext("{AirSync}ServerId") for x in a.findall(".//as:Commands/as:Add")]  # noqa: E731
    assert len(ids(first)) == 3 and ids(first) == ids(again)
    assert _col(first, "SyncKey") == _col(again, "SyncKey")
    assert device.sync(inbox, _col(first, "SyncKey")).body == b""  # nothing new: an empty 200


def test_window_size_and_more_available(eas_lab):
    lab = eas_lab("Exchange 2016")
    lab.seed(12)
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    answer = device.sync(inbox, key, window=5)
    assert len(answer.findall(".//as:Commands/as:Add")) == 5 and answer.find(".//as:MoreAvailable") is not None
    subjects = [a.findtext(".//{Email}Subject") for a in answer.findall(".//as:Commands/as:Add")]
    assert subjects[0] == "Seeded 11"  # newest first


def test_filter_type_leaves_older_mail_out(eas_lab):
    lab = eas_lab("Exchange 2016")
    lab.deliver("old", days_ago=10)
    lab.deliver("recent", days_ago=1)
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    answer = device.sync(inbox, key, options=[el("AirSync:FilterType", "3")])
    assert [a.findtext(".//{Email}Subject") for a in answer.findall(".//as:Commands/as:Add")] == ["recent"]


def test_body_preference_truncates_and_says_so(eas_lab):
    lab = eas_lab("Exchange 2016")
    lab.deliver("long", body="x" * 5000, html="<p>" + "y" * 5000 + "</p>")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    answer = device.sync(inbox, key, options=[el("AirSyncBase:BodyPreference", None, el("AirSyncBase:Type", "2"),
                                                 el("AirSyncBase:TruncationSize", "100"),
                                                 el("AirSyncBase:Preview", "20"))])
    body = answer.find(".//asb:Body")
    assert body.findtext("{AirSyncBase}Type") == "2" and body.findtext("{AirSyncBase}Truncated") == "1"
    assert len(body.findtext("{AirSyncBase}Data")) == 100 and int(body.findtext("{AirSyncBase}EstimatedDataSize")) > 5000
    assert body.findtext("{AirSyncBase}Preview") == "x" * 20


def test_options_are_sticky_until_the_device_sends_new_ones(eas_lab):
    """MS-ASCMD 2.2.3.125.6: a Sync without Options uses the previous Options block, all of it."""
    lab = eas_lab("Exchange 2016")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    html_100 = [el("AirSyncBase:BodyPreference", None, el("AirSyncBase:Type", "2"),
                   el("AirSyncBase:TruncationSize", "100"))]
    assert device.sync(inbox, key, options=html_100).root is None  # nothing yet: the empty answer, same key

    lab.deliver("later", body="x" * 5000, html="<p>" + "y" * 5000 + "</p>")
    answer = device.sync(inbox, key)  # no Options: HTML cut at 100 characters, as asked before
    body = answer.find(".//asb:Body")
    assert body.findtext("{AirSyncBase}Type") == "2" and len(body.findtext("{AirSyncBase}Data")) == 100
    key = answer.text("as:Collections/as:Collection/as:SyncKey")

    lab.deliver("plain now", body="z" * 50)
    answer = device.sync(inbox, key, options=[el("AirSyncBase:BodyPreference", None, el("AirSyncBase:Type", "1"))])
    assert answer.find(".//asb:Body").findtext("{AirSyncBase}Type") == "1"  # new Options replace the old


def test_mime_body_when_mime_support_is_2(eas_lab):
    lab = eas_lab("Exchange 2016")
    lab.deliver("mime please")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    answer = device.sync(inbox, key, options=[el("AirSync:MIMESupport", "2"), el(
        "AirSyncBase:BodyPreference", None, el("AirSyncBase:Type", "4"))])
    body = answer.find(".//asb:Body")
    assert body.findtext("{AirSyncBase}Type") == "4" and "Subject: mime please" in body.findtext("{AirSyncBase}Data")


def test_protocol_2_5_gets_email_body_and_truncation(eas_lab):
    lab = eas_lab("Exchange 2003 SP2")
    lab.deliver("old style", body="z" * 6000)
    device, folders = _ready(lab, "2.5")
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    answer = device.sync(inbox, key, klass="Email", options=[el("AirSync:Truncation", "1")])
    data = answer.find(".//as:Commands/as:Add/as:ApplicationData")
    assert data.findtext("{Email}BodyTruncated") == "1" and len(data.findtext("{Email}Body")) == 4096
    assert data.find("{AirSyncBase}Body") is None
    assert answer.text("as:Collections/as:Collection/as:Class") == "Email"


def test_client_change_conflicting_with_a_server_change_loses_by_default(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    item = lab.deliver("contested")
    device, folders = _ready(lab)
    inbox = device.folder_id(folders, 2)
    key = _col(device.sync(inbox, _start(device, inbox)), "SyncKey")
    lab.store.update_item(lab.mailbox, item, read=True)  # OWA reads it meanwhile
    server_id = f"{inbox}:{item}"
    answer = device.sync(inbox, key, commands=[el("AirSync:Change", None, el("AirSync:ServerId", server_id),
                                                  el("AirSync:ApplicationData", None, el("Email:Read", "0")))])
    assert answer.find(".//as:Responses/as:Change").findtext("{AirSync}Status") == "7"
    change = answer.find(".//as:Commands/as:Change")
    assert change.findtext(".//{Email}Read") == "1"


def test_item_statuses_6_and_8(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    device, folders = _ready(lab)
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    answer = device.sync(inbox, key, commands=[
        el("AirSync:Add", None, el("AirSync:ClientId", "m1"), el("AirSync:ApplicationData", None,
                                                                 el("Email:Subject", "no"))),
        el("AirSync:Delete", None, el("AirSync:ServerId", f"{inbox}:99999")),
        el("AirSync:Fetch", None, el("AirSync:ServerId", f"{inbox}:99998"))])
    responses = {r.tag.split("}")[1]: r.findtext("{AirSync}Status") for r in answer.findall(".//as:Responses/*")}
    assert responses == {"Add": "6", "Delete": "8", "Fetch": "8"}


def test_fetch_returns_the_item(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    item = lab.deliver("fetch me")
    device, folders = _ready(lab)
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    answer = device.sync(inbox, key, get_changes=False, commands=[
        el("AirSync:Fetch", None, el("AirSync:ServerId", f"{inbox}:{item}"))])
    fetched = answer.find(".//as:Responses/as:Fetch")
    assert fetched.findtext("{AirSync}Status") == "1" and fetched.findtext(".//{Email}Subject") == "fetch me"
    assert answer.find(".//as:Commands") is None


def test_a_calendar_item_added_by_one_device_reaches_another(eas_lab):
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab, "16.1", device_id="PHONE1")
    tablet, _ = _ready(lab, "14.1", device_id="TABLET1")
    calendar = phone.folder_id(folders, 8)
    key = _start(phone, calendar, "Calendar")
    appointment = el("AirSync:ApplicationData", None,
                     el("Calendar:Subject", "Lab review"),
                     el("Calendar:StartTime", "20261201T090000Z"), el("Calendar:EndTime", "20261201T100000Z"),
                     el("Calendar:Attendees", None, el("Calendar:Attendee", None,
                                                       el("Calendar:Email", "bob@contoso.com"),
                                                       el("Calendar:Name", "Bob Kelly"))),
                     el("AirSyncBase:Body", None, el("AirSyncBase:Type", "1"), el("AirSyncBase:Data", "Agenda")))
    answer = phone.sync(calendar, key, commands=[el("AirSync:Add", None, el("AirSync:ClientId", "a1"), appointment)])
    assert answer.find(".//as:Responses/as:Add").findtext("{AirSync}Status") == "1"
    tkey = _start(tablet, calendar, "Calendar")
    seen = tablet.sync(calendar, tkey).find(".//as:Commands/as:Add/as:ApplicationData")
    assert seen.findtext("{Calendar}Subject") == "Lab review"
    assert seen.findtext("{Calendar}StartTime") == "20261201T090000Z"
    assert seen.findtext("{Calendar}Location") is None
    assert seen.findtext(".//{Calendar}Attendee/{Calendar}Email") == "bob@contoso.com"
    assert seen.findtext(".//{AirSyncBase}Data") == "Agenda"
    [stored] = lab.store.list_items(lab.mailbox, lab.folder(FolderType.CALENDAR).id)
    assert stored.properties["start"].startswith("2026-12-01T09:00:00")


def test_empty_sync_without_a_cached_request_is_13_and_with_one_repeats_it(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device, folders = _ready(lab, "12.1")
    assert device.post("Sync").root.findtext("{AirSync}Status") == "13"
    inbox = device.folder_id(folders, 2)
    key = _col(device.sync(inbox, _start(device, inbox, "Email"), klass="Email"), "SyncKey")
    lab.deliver("arrives later")
    answer = device.post("Sync")
    assert answer.status == 200 and answer.find(".//as:Commands/as:Add") is not None
    assert _col(answer, "SyncKey") != key


def test_wait_out_of_range_is_14_with_the_limit(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    device, folders = _ready(lab)
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    answer = device.sync(inbox, key, extra=[el("AirSync:Wait", "90")])
    assert answer.root.findtext("{AirSync}Status") == "14" and answer.root.findtext("{AirSync}Limit") == "59"


def test_a_waiting_sync_answers_when_mail_arrives(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    device, folders = _ready(lab)
    inbox = device.folder_id(folders, 2)
    key = _col(device.sync(inbox, _start(device, inbox)), "SyncKey") or _start(device, inbox)
    result = {}
    holder = threading.Thread(target=lambda: result.setdefault("a", device.sync(
        inbox, key, extra=[el("AirSync:HeartbeatInterval", "60")])))
    began = time.monotonic()
    holder.start()
    time.sleep(0.3)
    lab.deliver("wake the sync")
    holder.join(10)
    assert time.monotonic() - began < 5
    assert [a.findtext(".//{Email}Subject") for a in result["a"].findall(".//as:Commands/as:Add")] == ["wake the sync"]


def test_a_full_mailbox_fails_sync_with_9_before_14_and_113_after(eas_lab):
    for persona, version, expected in (("Exchange 2007 SP1", "12.1", "9"), ("Exchange 2010 SP1", "14.1", "113")):
        lab = eas_lab(persona)
        lab.seed(2)
        device, folders = _ready(lab, version)
        inbox = device.folder_id(folders, 2)
        size_kb = lab.store.mailbox_size(lab.mailbox) // 1024 + 1
        lab.store.set_mailbox_quotas(lab.mailbox, Quotas(prohibit_send_receive_kb=size_kb))
        answer = device.sync(inbox, "0", klass="Email")
        assert answer.root.findtext("{AirSync}Status") == expected, persona
        lab.store.set_mailbox_quotas(lab.mailbox, None)
        assert _col(device.sync(inbox, "0", klass="Email"), "Status") == "1"


def test_get_item_estimate(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    lab.seed(4)
    device, folders = _ready(lab)
    inbox = device.folder_id(folders, 2)

    def estimate(key):
        answer = device.post("GetItemEstimate", el("GetItemEstimate:GetItemEstimate", None, el(
            "GetItemEstimate:Collections", None, el("GetItemEstimate:Collection", None,
                                                   el("AirSync:SyncKey", key),
                                                   el("GetItemEstimate:CollectionId", inbox)))))
        return answer.text("gie:Response/gie:Status"), answer.text("gie:Response/gie:Collection/gie:Estimate")

    assert estimate("0") == ("3", None)
    key = _start(device, inbox)
    assert estimate(key) == ("1", "4")
    assert estimate("{bogus}1") == ("4", None)
    key = _col(device.sync(inbox, key, window=3), "SyncKey")
    lab.deliver("one more")
    assert estimate(key) == ("1", "2")


def test_a_full_mailbox_fails_folder_sync_with_507_before_14(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    lab.seed(2)
    lab.store.set_mailbox_quotas(lab.mailbox, Quotas(prohibit_send_receive_kb=lab.store.mailbox_size(lab.mailbox) // 1024 + 1))
    assert lab.client(version="12.1").folder_sync().status == 507


def test_a_sync_while_another_request_holds_the_device_state_is_16(eas_lab, monkeypatch):
    from plugins.activesync import transport
    from plugins.activesync.context import device_lock

    lab = eas_lab("Exchange 2010 SP1")
    device, folders = _ready(lab)
    inbox = device.folder_id(folders, 2)
    key = _start(device, inbox)
    monkeypatch.setattr(transport, "LOCK_TIMEOUT_S", 0.2)
    held, release = threading.Event(), threading.Event()

    def hold():
        with device_lock(lab.mailbox, device.device_id):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        assert device.sync(inbox, key).root.findtext("{AirSync}Status") == "16"
        assert device.folder_sync().text("fh:Status") == "111"
    finally:
        release.set()
        holder.join(5)


def test_a_sync_carrying_only_device_changes_answers_with_a_new_key(eas_lab):
    """Applied device changes move the collection to a new SyncKey (MS-ASCMD 2.2.3.181.4, example
    4.23.4), even when each succeeded silently (2.2.3.24); only a Sync without changes may get the
    empty 200 (4.5.10). Found with pyactivesync, whose read/flag/delete calls broke on the empty body."""
    lab = eas_lab("Exchange 2016")
    read, doomed = lab.deliver("read me"), lab.deliver("delete me")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    key = _col(device.sync(inbox, _start(device, inbox)), "SyncKey")
    commands = [el("AirSync:Change", None, el("AirSync:ServerId", f"{inbox}:{read}"),
                   el("AirSync:ApplicationData", None, el("Email:Read", "1"))),
                el("AirSync:Delete", None, el("AirSync:ServerId", f"{inbox}:{doomed}"))]
    answer = device.sync(inbox, key, commands=commands, get_changes=False)
    new_key = _col(answer, "SyncKey")
    assert answer.body != b"" and _col(answer, "Status") == "1" and new_key not in (None, key)
    assert answer.find(".//as:Responses") is None  # success is silent
    assert lab.store.get_item(lab.mailbox, read).read
    inbox_now = lab.store.list_items(lab.mailbox, lab.folder(FolderType.INBOX).id)
    assert [i.subject for i in inbox_now] == ["read me"]

    again = device.sync(inbox, key, commands=commands, get_changes=False)  # the answer was lost on the way
    assert _col(again, "SyncKey") == new_key and again.find(".//as:Responses") is None  # not applied twice
    assert device.sync(inbox, new_key).body == b""  # the new key works; nothing else happened
