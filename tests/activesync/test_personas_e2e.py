"""One device conversation per persona, over a real HTTP listener: what a phone does on day one."""
from __future__ import annotations

import threading
import time

import pytest

from plugins.owa.mailbox import FolderType

from .conftest import PERSONA_VERSIONS
from .easclient import el

pytestmark = pytest.mark.realserver

SERVER_BUILDS = {"Exchange 2003 SP2": "6.5.7638.1", "Exchange 2007 SP1": "8.1.240.6",
                 "Exchange 2010 SP1": "14.1.218.15", "Exchange 2016": "15.1.225.42"}


def _collection(answer):
    return answer.find("as:Collections/as:Collection")


def _sync_all(client, folder_id, key, window):
    """Sync until MoreAvailable goes away; returns (key, server ids, pages)."""
    ids, pages = [], 0
    for _ in range(20):
        answer = client.sync(folder_id, key, window=window, klass="Email")
        assert answer.status == 200 and answer.text("as:Collections/as:Collection/as:Status") == "1"
        pages += 1
        key = answer.text("as:Collections/as:Collection/as:SyncKey")
        ids += [a.findtext("{AirSync}ServerId") for a in answer.findall(".//as:Commands/as:Add")]
        if answer.find(".//as:MoreAvailable") is None:
            return key, ids, pages
    raise AssertionError("MoreAvailable never ended")


def add_contact(device, lab, contacts):
    """A device's Add in its Contacts folder reaches the store as a contact."""
    ckey = device.sync(contacts, "0", klass="Contacts").text("as:Collections/as:Collection/as:SyncKey")
    answer = device.sync(contacts, ckey, klass="Contacts", commands=[el("AirSync:Add", None,
        el("AirSync:ClientId", "c1"), el("AirSync:ApplicationData", None, el("Contacts:FirstName", "Carol"),
                                         el("Contacts:LastName", "Diaz"),
                                         el("Contacts:Email1Address", "carol@example.com")))])
    response = answer.find(".//as:Responses/as:Add")
    assert response.findtext("{AirSync}Status") == "1" and response.findtext("{AirSync}ClientId") == "c1"
    contact = lab.store.get_item(lab.mailbox, int(response.findtext("{AirSync}ServerId").split(":")[1]))
    assert contact.properties["first_name"] == "Carol" and contact.subject == "Carol Diaz"


@pytest.mark.parametrize("persona", list(PERSONA_VERSIONS))
def test_a_device_provisions_syncs_and_is_pushed_new_mail(real_eas, persona):
    lab = real_eas(persona)
    lab.seed(7)
    version = PERSONA_VERSIONS[persona]
    device = lab.client(version=version, device_id=f"E2E{version.replace('.', '')}")

    options = device.options()
    assert options.status == 200
    assert options.headers["ms-server-activesync"] == SERVER_BUILDS[persona]
    assert options.headers["ms-asprotocolversions"].split(",")[-1] == version
    assert {"Sync", "FolderSync", "Provision", "Ping"} <= set(options.headers["ms-asprotocolcommands"].split(","))

    provisioned = device.provision()
    assert provisioned.text("p:Status") == "1" and device.policy_key
    policy_data = provisioned.first.find("p:Policies/p:Policy/p:Data")
    if version == "2.5":
        assert "wap-provisioningdoc" in policy_data.text
    else:
        assert policy_data.find("{Provision}EASProvisionDoc") is not None

    folders = device.folder_sync()
    assert folders.text("fh:Status") == "1"
    inbox = device.folder_id(folders, 2)
    contacts = device.folder_id(folders, 9)

    first = device.sync(inbox, "0", klass="Email")
    key, ids, pages = _sync_all(device, inbox, first.text("as:Collections/as:Collection/as:SyncKey"), 5)
    in_inbox = lab.store.count_items(lab.mailbox, lab.folder(FolderType.INBOX).id)  # demo mail included
    assert len(ids) == in_inbox >= 7 and len(set(ids)) == in_inbox and pages == -(-in_inbox // 5)

    lab.deliver("Pushed while syncing")
    answer = device.sync(inbox, key, klass="Email")
    added = answer.findall(".//as:Commands/as:Add")
    assert [a.findtext(".//{Email}Subject") for a in added] == ["Pushed while syncing"]
    key = answer.text("as:Collections/as:Collection/as:SyncKey")

    # client changes: mark one read, delete another, add a contact
    read_id, deleted_id = ids[0], ids[1]
    deleted_subject_before = lab.store.get_item(lab.mailbox, int(deleted_id.split(":")[1])).subject
    answer = device.sync(inbox, key, klass="Email", commands=[
        el("AirSync:Change", None, el("AirSync:ServerId", read_id),
           el("AirSync:ApplicationData", None, el("Email:Read", "1"))),
        el("AirSync:Delete", None, el("AirSync:ServerId", deleted_id))])
    assert answer.status == 200
    key = answer.text("as:Collections/as:Collection/as:SyncKey") or key
    store_item = lab.store.get_item(lab.mailbox, int(read_id.split(":")[1]))
    assert store_item.read
    inbox_ids = {i.id for i in lab.store.list_items(lab.mailbox, lab.folder(FolderType.INBOX).id, limit=100)}
    assert int(deleted_id.split(":")[1]) not in inbox_ids
    assert any(i.subject == deleted_subject_before for i in lab.store.list_items(
        lab.mailbox, lab.folder(FolderType.DELETED_ITEMS).id))

    add_contact(device, lab, contacts)  # Exchange 2003: a PROPPATCH that creates it, over the /Exchange hop

    # direct push: a held Ping answers within a second of a delivery
    assert device.ping(30, [(inbox, "Email")]).text("ping:Status") == "5"
    assert device.ping(30, [(inbox, "Email")]).text("ping:HeartbeatInterval") == "60"
    result = {}

    def hold():
        result["answer"] = device.ping(120, [(inbox, "Email")])
        result["at"] = time.monotonic()

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.5)
    assert "answer" not in result  # held, not answered
    delivered = time.monotonic()
    lab.deliver("Pushed to the Ping")
    holder.join(10)
    assert not holder.is_alive()
    assert result["answer"].text("ping:Status") == "2"
    assert [f.text for f in result["answer"].findall("ping:Folders/ping:Folder")] == [inbox]
    assert result["at"] - delivered < 1.0
