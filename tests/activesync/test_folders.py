"""FolderSync and FolderCreate/Update/Delete as a device meets them."""
from __future__ import annotations

from plugins.owa.mailbox import FolderType

from .easclient import el


def _device(lab, version="12.1"):
    device = lab.client(version=version)
    folders = device.folder_sync()
    return device, folders, folders.text("fh:SyncKey")


def test_initial_folder_sync_lists_the_default_folders_with_eas_types(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    _, folders, key = _device(lab)
    types = {a.findtext("{FolderHierarchy}DisplayName"): a.findtext("{FolderHierarchy}Type")
             for a in folders.findall("fh:Changes/fh:Add")}
    assert types["Inbox"] == "2" and types["Calendar"] == "8" and types["Contacts"] == "9"
    assert "Microsoft-Server-ActiveSync" not in types  # hidden state folders stay hidden
    assert folders.text("fh:Changes/fh:Count") == str(len(types)) and key


def test_incremental_folder_sync_sends_add_update_delete(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device, _, key = _device(lab)
    created = lab.store.create_folder(lab.mailbox, None, "Projects")
    answer = device.folder_sync(key)
    [add] = answer.findall("fh:Changes/fh:Add")
    assert add.findtext("{FolderHierarchy}DisplayName") == "Projects" and add.findtext("{FolderHierarchy}ParentId") == "0"
    key = answer.text("fh:SyncKey")
    lab.store.rename_folder(lab.mailbox, created.id, "Projects 2027")
    answer = device.folder_sync(key)
    assert answer.text("fh:Changes/fh:Update/fh:DisplayName") == "Projects 2027"
    key = answer.text("fh:SyncKey")
    lab.store.delete_folder(lab.mailbox, created.id, hard=True)
    answer = device.folder_sync(key)
    assert answer.text("fh:Changes/fh:Delete/fh:ServerId") == str(created.id)
    assert device.folder_sync(answer.text("fh:SyncKey")).text("fh:Changes/fh:Count") == "0"


def test_folder_sync_retry_and_unknown_key(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device, _, key = _device(lab)
    lab.store.create_folder(lab.mailbox, None, "Once")
    first = device.folder_sync(key)
    again = device.folder_sync(key)
    assert first.body == again.body and first.text("fh:Changes/fh:Count") == "1"
    assert device.folder_sync("{nope}3").text("fh:Status") == "9"


def test_folder_create_update_delete_and_their_statuses(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device, folders, key = _device(lab)
    inbox = device.folder_id(folders, 2)

    def create(name, parent="0", folder_type="12", sync_key=None):
        return device.post("FolderCreate", el("FolderHierarchy:FolderCreate", None,
                                              el("FolderHierarchy:SyncKey", sync_key or key),
                                              el("FolderHierarchy:ParentId", parent),
                                              el("FolderHierarchy:DisplayName", name),
                                              el("FolderHierarchy:Type", folder_type)))

    made = create("Receipts", inbox)
    assert made.text("fh:Status") == "1"
    key, server_id = made.text("fh:SyncKey"), made.text("fh:ServerId")
    assert lab.store.get_folder(lab.mailbox, int(server_id)).display_name == "Receipts"
    assert create("Receipts", inbox).text("fh:Status") == "2"
    assert create("Again", "99999").text("fh:Status") == "5"
    assert create("Wrong", sync_key="{old}1").text("fh:Status") == "9"
    assert create("Inbox2", folder_type="2").text("fh:Status") == "3"

    renamed = device.post("FolderUpdate", el("FolderHierarchy:FolderUpdate", None,
                                             el("FolderHierarchy:SyncKey", key),
                                             el("FolderHierarchy:ServerId", server_id),
                                             el("FolderHierarchy:ParentId", "0"),
                                             el("FolderHierarchy:DisplayName", "Receipts 2026")))
    assert renamed.text("fh:Status") == "1"
    key = renamed.text("fh:SyncKey")
    moved = lab.store.get_folder(lab.mailbox, int(server_id))
    assert moved.display_name == "Receipts 2026" and moved.parent_id is None
    special = device.post("FolderUpdate", el("FolderHierarchy:FolderUpdate", None,
                                             el("FolderHierarchy:SyncKey", key),
                                             el("FolderHierarchy:ServerId", inbox),
                                             el("FolderHierarchy:ParentId", "0"),
                                             el("FolderHierarchy:DisplayName", "Not the Inbox")))
    assert special.text("fh:Status") == "3"

    def delete(target):
        return device.post("FolderDelete", el("FolderHierarchy:FolderDelete", None,
                                              el("FolderHierarchy:SyncKey", key),
                                              el("FolderHierarchy:ServerId", target)))

    assert delete(inbox).text("fh:Status") == "3"
    assert delete("424242").text("fh:Status") == "4"
    gone = delete(server_id)
    assert gone.text("fh:Status") == "1"
    deleted_items = lab.folder(FolderType.DELETED_ITEMS).id
    assert lab.store.get_folder(lab.mailbox, int(server_id)).parent_id == deleted_items
    # the device's own changes do not come back to it, but the move into Deleted Items does
    answer = device.folder_sync(gone.text("fh:SyncKey"))
    assert [a.findtext("{FolderHierarchy}ParentId") for a in answer.findall("fh:Changes/fh:Add")] == [str(deleted_items)]
