"""Items and folders a device changes in the Exchange 2003 persona, written through /Exchange.

Each device command becomes WebDAV on the real mailbox server: FolderCreate
is MKCOL, FolderUpdate and FolderDelete are MOVE, a Sync Change of a
contact is PROPPATCH, FilterType is a SEARCH on urn:schemas:httpmail:datereceived,
GetItemEstimate reads DAV:visiblecount. The store shows the result.
"""
from __future__ import annotations

import pytest

from plugins.owa.mailbox import FolderType, NewItem

from .conftest import w3c_rows
from .easclient import el
from .test_personas_e2e import add_contact

pytestmark = pytest.mark.realserver
PERSONA = "Exchange 2003 SP2"


def _ready(lab, device_id: str):
    device = lab.client(version="2.5", device_id=device_id)
    folders = device.folder_sync()
    assert folders.status == 200
    return device, folders


def _methods(lab) -> set[str]:
    return {r["cs-method"] for r in w3c_rows(lab.service) if r["cs-uri-stem"].startswith("/Exchange/alice/")
            and r["sc-status"] in ("200", "201", "204", "207")}


def test_folder_create_update_delete_go_through_mkcol_and_move(real_eas):
    lab = real_eas(PERSONA)
    device, folders = _ready(lab, "FOLD1")
    key, inbox = folders.text("fh:SyncKey"), device.folder_id(folders, 2)

    def post(command, *children):
        return device.post(command, el(f"FolderHierarchy:{command}", None, el("FolderHierarchy:SyncKey", key),
                                       *children))

    made = post("FolderCreate", el("FolderHierarchy:ParentId", inbox), el("FolderHierarchy:DisplayName", "Receipts"),
                el("FolderHierarchy:Type", "12"))
    assert made.text("fh:Status") == "1"
    key, server_id = made.text("fh:SyncKey"), made.text("fh:ServerId")
    assert lab.store.get_folder(lab.mailbox, int(server_id)).parent_id == int(inbox)
    assert post("FolderCreate", el("FolderHierarchy:ParentId", inbox), el("FolderHierarchy:DisplayName", "receipts"),
                el("FolderHierarchy:Type", "12")).text("fh:Status") == "2"

    renamed = post("FolderUpdate", el("FolderHierarchy:ServerId", server_id), el("FolderHierarchy:ParentId", "0"),
                   el("FolderHierarchy:DisplayName", "Receipts 2026"))
    assert renamed.text("fh:Status") == "1"
    key = renamed.text("fh:SyncKey")
    moved = lab.store.get_folder(lab.mailbox, int(server_id))
    assert moved.display_name == "Receipts 2026" and moved.parent_id is None
    assert post("FolderUpdate", el("FolderHierarchy:ServerId", inbox), el("FolderHierarchy:ParentId", "0"),
                el("FolderHierarchy:DisplayName", "Not the Inbox")).text("fh:Status") == "3"

    assert post("FolderDelete", el("FolderHierarchy:ServerId", inbox)).text("fh:Status") == "3"
    assert post("FolderDelete", el("FolderHierarchy:ServerId", "424242")).text("fh:Status") == "4"
    gone = post("FolderDelete", el("FolderHierarchy:ServerId", server_id))
    assert gone.text("fh:Status") == "1"
    assert lab.store.get_folder(lab.mailbox, int(server_id)).parent_id == lab.folder(FolderType.DELETED_ITEMS).id
    assert {"MKCOL", "MOVE"} <= _methods(lab)


def test_filter_type_and_item_estimate_are_searches_on_the_mailbox_server(real_eas):
    from datetime import datetime, timedelta, timezone

    from .conftest import message

    lab = real_eas(PERSONA)
    archive = lab.store.create_folder(lab.mailbox, None, "Archive")
    for subject, days in (("old", 10), ("recent", 1)):
        lab.store.deliver(lab.mailbox, message(subject), folder_id=archive.id,
                          date_received=datetime.now(timezone.utc) - timedelta(days=days))
    device, _ = _ready(lab, "FILT1")
    folder = str(archive.id)
    key = device.sync(folder, "0", klass="Email").text("as:Collections/as:Collection/as:SyncKey")

    def estimate(*filter_type):
        answer = device.post("GetItemEstimate", el("GetItemEstimate:GetItemEstimate", None, el(
            "GetItemEstimate:Collections", None, el("GetItemEstimate:Collection", None,
                                                   el("GetItemEstimate:Class", "Email"),
                                                   el("GetItemEstimate:CollectionId", folder),
                                                   *(el("AirSync:FilterType", f) for f in filter_type),
                                                   el("AirSync:SyncKey", key)))))
        return answer.text("gie:Response/gie:Collection/gie:Estimate")

    assert estimate() == "2" and estimate("3") == "1"  # DAV:visiblecount, then a SEARCH with Range: rows=0-0
    answer = device.sync(folder, key, klass="Email", options=[el("AirSync:FilterType", "3")])
    assert [a.findtext(".//{Email}Subject") for a in answer.findall(".//as:Commands/as:Add")] == ["recent"]


def test_a_contact_changed_on_the_device_is_a_proppatch_of_its_properties(real_eas):
    lab = real_eas(PERSONA)
    contacts_folder = lab.folder(FolderType.CONTACTS).id
    stored = lab.store.add_item(lab.mailbox, contacts_folder, NewItem(
        message_class="IPM.Contact", subject="Carol Diaz", read=True,
        properties={"first_name": "Carol", "last_name": "Diaz", "job_title": "Buyer"}))
    device, folders = _ready(lab, "CONT1")
    contacts = device.folder_id(folders, 9)
    key = device.sync(contacts, "0", klass="Contacts").text("as:Collections/as:Collection/as:SyncKey")
    answer = device.sync(contacts, key, klass="Contacts", window=100)
    [add] = [a for a in answer.findall(".//as:Commands/as:Add")
             if a.findtext("{AirSync}ServerId") == f"{contacts}:{stored.id}"]
    assert add.findtext(".//{Contacts}FirstName") == "Carol" and add.findtext(".//{Contacts}JobTitle") == "Buyer"
    key = answer.text("as:Collections/as:Collection/as:SyncKey")
    answer = device.sync(contacts, key, klass="Contacts", commands=[el("AirSync:Change", None,
        el("AirSync:ServerId", f"{contacts}:{stored.id}"), el("AirSync:ApplicationData", None,
                                                              el("Contacts:FirstName", "Caroline"),
                                                              el("Contacts:LastName", "Diaz")))])
    assert answer.status == 200
    changed = lab.store.get_item(lab.mailbox, stored.id).properties
    assert changed["first_name"] == "Caroline" and "job_title" not in changed  # a Change replaces them all
    assert "PROPPATCH" in _methods(lab)


@pytest.mark.xfail(strict=True, reason="davex.dll creates no contact, appointment or task: a PROPPATCH to a new "
                                       "URL (Exchange's way) is 404, and PUT makes every item IPM.Note")
def test_a_contact_added_on_the_device_reaches_the_mailbox_through_the_hop(real_eas):
    lab = real_eas(PERSONA)
    device, folders = _ready(lab, "CONT2")
    add_contact(device, lab, device.folder_id(folders, 9))
