"""Items and folders a device changes in the Exchange 2003 persona, written through /Exchange.

Each device command becomes WebDAV on the real mailbox server: FolderCreate
is MKCOL, FolderUpdate and FolderDelete are MOVE, a Sync Change of a
contact is PROPPATCH, a Sync Add of a contact, appointment or task is a PROPPATCH
that creates the item, FilterType is a SEARCH on urn:schemas:httpmail:datereceived,
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


def test_a_contact_added_on_the_device_reaches_the_mailbox_through_the_hop(real_eas):
    lab = real_eas(PERSONA)
    device, folders = _ready(lab, "CONT2")
    add_contact(device, lab, device.folder_id(folders, 9))
    assert "PROPPATCH" in _methods(lab)  # Exchange's way: a PROPPATCH on a new URL creates the item


def _add(device, folder_id: str, klass: str, *fields) -> tuple[str, str]:
    """A device's Add in a folder it starts syncing: (next SyncKey, the new ServerId)."""
    key = device.sync(folder_id, "0", klass=klass).text("as:Collections/as:Collection/as:SyncKey")
    answer = device.sync(folder_id, key, klass=klass, commands=[el("AirSync:Add", None, el("AirSync:ClientId", "n1"),
                                                                    el("AirSync:ApplicationData", None, *fields))])
    response = answer.find(".//as:Responses/as:Add")
    assert response.findtext("{AirSync}Status") == "1"
    return answer.text("as:Collections/as:Collection/as:SyncKey"), response.findtext("{AirSync}ServerId")


def _change(device, folder_id: str, key: str, klass: str, server_id: str, *fields) -> None:
    answer = device.sync(folder_id, key, klass=klass, commands=[el("AirSync:Change", None, el(
        "AirSync:ServerId", server_id), el("AirSync:ApplicationData", None, *fields))])
    assert answer.status == 200 and answer.text("as:Collections/as:Collection/as:Status") == "1"


def _stored(lab, server_id: str):
    return lab.store.get_item(lab.mailbox, int(server_id.split(":")[1]))


def test_an_appointment_added_and_changed_on_the_device_keeps_its_typed_values(real_eas):
    lab = real_eas(PERSONA)
    device, folders = _ready(lab, "CAL1")
    calendar = device.folder_id(folders, 8)
    key, server_id = _add(device, calendar, "Calendar", el("Calendar:Subject", "Lab review"),
                          el("Calendar:StartTime", "20261201T090000Z"), el("Calendar:EndTime", "20261201T100000Z"),
                          el("Calendar:AllDayEvent", "0"), el("Calendar:Reminder", "15"),
                          el("Calendar:Attendees", None, el("Calendar:Attendee", None, el(
                              "Calendar:Email", "bob@contoso.com"), el("Calendar:Name", "Bob Kelly"))))
    appointment = _stored(lab, server_id)
    assert appointment.message_class == "IPM.Appointment" and appointment.subject == "Lab review"
    assert appointment.folder_id == lab.folder(FolderType.CALENDAR).id
    # Sent typed (b:dt="boolean", "int"), stored as the store's types, not as the text "0" and "15".
    assert appointment.properties["all_day"] is False and appointment.properties["reminder"] == 15
    assert appointment.properties["start"].startswith("2026-12-01T09:00:00")
    assert appointment.properties["attendees"] == [{"email": "bob@contoso.com", "name": "Bob Kelly"}]

    _change(device, calendar, key, "Calendar", server_id, el("Calendar:Subject", "Lab review (moved)"),
            el("Calendar:StartTime", "20261202T090000Z"), el("Calendar:EndTime", "20261202T100000Z"),
            el("Calendar:AllDayEvent", "1"))
    changed = _stored(lab, server_id).properties
    assert changed["all_day"] is True and changed["start"].startswith("2026-12-02T09:00:00")
    assert "reminder" not in changed and "attendees" not in changed  # a Change replaces them all

    other, others = _ready(lab, "CAL2")  # another device reads it back over the hop
    okey = other.sync(calendar, "0", klass="Calendar").text("as:Collections/as:Collection/as:SyncKey")
    [seen] = [a.find("{AirSync}ApplicationData") for a in other.sync(calendar, okey, klass="Calendar", window=100)
              .findall(".//as:Commands/as:Add") if a.findtext("{AirSync}ServerId") == server_id]
    assert seen.findtext("{Calendar}AllDayEvent") == "1" and seen.findtext("{Calendar}StartTime") == "20261202T090000Z"


def test_a_task_added_on_the_device_is_created_in_tasks(real_eas):
    lab = real_eas(PERSONA)
    device, folders = _ready(lab, "TASK1")
    _, server_id = _add(device, device.folder_id(folders, 7), "Tasks", el("Tasks:Subject", "File the report"),
                        el("Tasks:Importance", "2"), el("Tasks:Complete", "0"))
    task = _stored(lab, server_id)
    assert task.message_class == "IPM.Task" and task.subject == "File the report"
    assert task.folder_id == lab.folder(FolderType.TASKS).id


def test_a_tasks_fields_reach_the_mailbox_and_a_change_of_them_too(real_eas):
    lab = real_eas(PERSONA)
    device, folders = _ready(lab, "TASK2")
    tasks = device.folder_id(folders, 7)
    key, server_id = _add(device, tasks, "Tasks", el("Tasks:Subject", "File the report"),
                          el("Tasks:Importance", "2"), el("Tasks:Complete", "0"))
    assert _stored(lab, server_id).properties["importance"] == 2
    _change(device, tasks, key, "Tasks", server_id, el("Tasks:Subject", "File the report"),
            el("Tasks:Complete", "1"))
    assert _stored(lab, server_id).properties["complete"] is True


def test_folder_create_makes_a_folder_of_the_class_its_type_names(real_eas):
    lab = real_eas(PERSONA)
    device, folders = _ready(lab, "FOLD2")
    key, inbox = folders.text("fh:SyncKey"), device.folder_id(folders, 2)
    for name, eas_type, folder_type in (("People", "14", FolderType.USER_CONTACTS),
                                        ("Dates", "13", FolderType.USER_CALENDAR),
                                        ("Todo", "15", FolderType.USER_TASKS),
                                        ("Stickies", "17", FolderType.USER_NOTES)):
        made = device.post("FolderCreate", el("FolderHierarchy:FolderCreate", None, el("FolderHierarchy:SyncKey", key),
                                              el("FolderHierarchy:ParentId", inbox),
                                              el("FolderHierarchy:DisplayName", name),
                                              el("FolderHierarchy:Type", eas_type)))
        assert made.text("fh:Status") == "1"
        key = made.text("fh:SyncKey")
        assert lab.store.get_folder(lab.mailbox, int(made.text("fh:ServerId"))).folder_type == folder_type
    listed = {a.findtext("{FolderHierarchy}DisplayName"): a.findtext("{FolderHierarchy}Type")
              for a in _ready(lab, "FOLD3")[1].findall("fh:Changes/fh:Add")}  # another device, over the hop
    assert (listed["People"], listed["Dates"], listed["Todo"]) == ("14", "13", "15")


def test_moveitems_moves_into_the_folder_named_by_its_permanent_url(real_eas):
    from .conftest import message

    lab = real_eas(PERSONA)
    projects = lab.store.create_folder(lab.mailbox, None, "Projects")
    item = lab.store.deliver(lab.mailbox, message("Move me"))
    device, folders = _ready(lab, "MOVE1")
    inbox = device.folder_id(folders, 2)

    def move(destination):
        return device.post("MoveItems", el("Move:MoveItems", None, el(
            "Move:Move", None, el("Move:SrcMsgId", f"{inbox}:{item.id}"), el("Move:SrcFldId", inbox),
            el("Move:DstFldId", destination)))).find("{Move}Response")

    assert move("424242").findtext("{Move}Status") == "2"
    moved = move(str(projects.id))
    assert moved.findtext("{Move}Status") == "3"
    [there] = lab.store.list_items(lab.mailbox, projects.id)
    assert moved.findtext("{Move}DstMsgId") == f"{projects.id}:{there.id}" and there.subject == "Move me"
