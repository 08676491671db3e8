"""16.0/16.1 drafts through Sync: Add, Change and Send in the Drafts folder (plugins/activesync/items/drafts.py)."""
from __future__ import annotations

import base64
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from plugins.owa.mailbox import FolderType
from plugins.owa.mailboxes import ensure_mailbox

from .easclient import el

DRAFTS, INBOX = 3, 2
HTML = "<html><body><p>The numbers are <b>attached</b>.</p></body></html>"
CSV = b"quarter,amount\r\nQ1,1200\r\nQ2,1350\r\n"


def _ready(lab, version: str = "16.1", device_id: str = "PHONE1"):
    device = lab.client(version=version, device_id=device_id)
    device.provision()
    folders = device.folder_sync()
    return device, folders


def _key(answer) -> str:
    return answer.text("as:Collections/as:Collection/as:SyncKey")


def _start(device, folder_id: str) -> str:
    return _key(device.sync(folder_id, "0"))


def _html_first():
    return [el("AirSync:FilterType", "0"),
            el("AirSyncBase:BodyPreference", None, el("AirSyncBase:Type", "2"))]


def _attach(client_id: str, name: str, content: bytes, content_type: str = "text/csv", method: str = "1"):
    return el("AirSyncBase:Add", None, el("AirSyncBase:ClientId", client_id),
              el("AirSyncBase:DisplayName", name), el("AirSyncBase:Method", method),
              el("AirSyncBase:ContentType", content_type), el("AirSyncBase:Content", content))


def _draft(subject: str = "Budget draft", *extra, to: str = "bob@contoso.com"):
    return el("AirSync:ApplicationData", None, el("Email:To", to), el("Email:Subject", subject), *extra)


def _add(client_id: str, data, *after):
    return el("AirSync:Add", None, el("AirSync:ClientId", client_id), data, *after)


def _change(server_id: str, data, *after):
    return el("AirSync:Change", None, el("AirSync:ServerId", server_id), data, *after)


def _bob(lab) -> str:
    return ensure_mailbox(lab.service, lab.service.directory.find("bob"))


def _items(lab, mailbox: str, folder_type: FolderType):
    folder = lab.store.default_folder(mailbox, folder_type).id
    return lab.store.list_items(mailbox, folder, limit=200)


def _fetch(device, reference: str) -> bytes | None:
    fetch = el("ItemOperations:Fetch", None, el("ItemOperations:Store", "Mailbox"),
               el("AirSyncBase:FileReference", reference))
    answer = device.post("ItemOperations", el("ItemOperations:ItemOperations", None, fetch))
    found = answer.find("{ItemOperations}Response/{ItemOperations}Fetch")
    if found.findtext("{ItemOperations}Status") != "1":
        return None
    return base64.b64decode(found.findtext("{ItemOperations}Properties/{ItemOperations}Data"))


def _save_budget_draft(lab, phone, drafts: str, key: str):
    """The phone's Add of an HTML draft with a CSV attachment; returns (answer, ServerId)."""
    data = _draft("Budget draft", el("Email:Cc", "carol@fabrikam.com"), el("Email2:Bcc", "dave@fabrikam.com"),
                  el("Email:Importance", "2"),
                  el("AirSyncBase:Body", None, el("AirSyncBase:Type", "2"), el("AirSyncBase:Data", HTML)),
                  el("AirSyncBase:Attachments", None, _attach("att1", "budget.csv", CSV)))
    answer = phone.sync(drafts, key, commands=[_add("d1", data)])
    added = answer.find(".//as:Responses/as:Add")
    return answer, added.findtext("{AirSync}ServerId")


def test_a_draft_with_html_and_an_attachment_reaches_another_device(eas_lab):
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    tablet, _ = _ready(lab, device_id="TABLET1")
    drafts = phone.folder_id(folders, DRAFTS)
    answer, server_id = _save_budget_draft(lab, phone, drafts, _start(phone, drafts))

    added = answer.find(".//as:Responses/as:Add")
    assert added.findtext("{AirSync}ClientId") == "d1" and added.findtext("{AirSync}Status") == "1"
    assert server_id.startswith(f"{drafts}:")
    # MS-ASAIRS 2.2.2.7: in Responses, an Attachment is its ClientId and its new FileReference.
    [attachment] = added.findall("{AirSync}ApplicationData/{AirSyncBase}Attachments/{AirSyncBase}Attachment")
    assert attachment.findtext("{AirSyncBase}ClientId") == "att1"
    reference = attachment.findtext("{AirSyncBase}FileReference")
    assert reference == f"{server_id}:0"
    assert answer.find(".//as:Commands") is None  # the phone's own draft does not come back to it

    key = _start(tablet, drafts)
    seen = tablet.sync(drafts, key, options=_html_first()).find(".//as:Commands/as:Add")
    assert seen.findtext("{AirSync}ServerId") == server_id
    data = seen.find("{AirSync}ApplicationData")
    assert data.findtext("{Email}Subject") == "Budget draft"
    assert data.findtext("{Email}To") == "bob@contoso.com" and data.findtext("{Email}Cc") == "carol@fabrikam.com"
    assert data.findtext("{Email2}Bcc") == "dave@fabrikam.com"
    assert data.findtext("{Email}Importance") == "2"
    assert data.findtext("{Email2}IsDraft") == "1"
    assert "<b>attached</b>" in data.findtext("{AirSyncBase}Body/{AirSyncBase}Data")
    [listed] = data.findall("{AirSyncBase}Attachments/{AirSyncBase}Attachment")
    assert listed.findtext("{AirSyncBase}DisplayName") == "budget.csv"
    assert listed.findtext("{AirSyncBase}FileReference") == reference
    assert _fetch(tablet, reference) == CSV

    [stored] = _items(lab, lab.mailbox, FolderType.DRAFTS)
    assert stored.subject == "Budget draft" and stored.has_attachments and stored.read
    mime = BytesParser(policy=policy.default).parsebytes(lab.store.get_mime(lab.mailbox, stored.id))
    assert mime["X-Unsent"] == "1" and mime["Importance"] == "high"


def test_a_draft_changed_by_one_device_changes_whole_on_the_other(eas_lab):
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    tablet, _ = _ready(lab, device_id="TABLET1")
    drafts = phone.folder_id(folders, DRAFTS)
    answer, server_id = _save_budget_draft(lab, phone, drafts, _start(phone, drafts))
    tablet_key = _key(tablet.sync(drafts, _start(tablet, drafts), options=_html_first()))

    change = _change(server_id, el("AirSync:ApplicationData", None, el("Email:Subject", "Budget, final"),
                                   el("AirSyncBase:Attachments", None, el("AirSyncBase:Delete", None,
                                      el("AirSyncBase:FileReference", f"{server_id}:0")))))
    changed = phone.sync(drafts, _key(answer), commands=[change])
    assert changed.find(".//as:Responses") is None  # a change that added no attachment: no response
    assert _key(changed) != _key(answer)

    [stored] = _items(lab, lab.mailbox, FolderType.DRAFTS)
    assert stored.subject == "Budget, final" and not stored.has_attachments
    assert f"{stored.folder_id}:{stored.id}" == server_id  # a draft keeps its ServerId when edited

    seen = tablet.sync(drafts, tablet_key).find(".//as:Commands/as:Change")
    data = seen.find("{AirSync}ApplicationData")
    assert data.findtext("{Email}Subject") == "Budget, final"
    assert data.find("{AirSyncBase}Attachments") is None
    assert "<b>attached</b>" in data.findtext("{AirSyncBase}Body/{AirSyncBase}Data")  # the body was left alone
    assert data.findtext("{Email}To") == "bob@contoso.com" and data.findtext("{Email2}IsDraft") == "1"


def test_attachments_keep_their_file_reference_while_the_draft_is_edited(eas_lab):
    """MS-ASAIRS 2.2.2.24.1: the device records each FileReference to delete that attachment later."""
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    drafts = phone.folder_id(folders, DRAFTS)
    data = _draft("Two files", el("AirSyncBase:Attachments", None, _attach("a", "first.txt", b"first", "text/plain"),
                                  _attach("b", "second.txt", b"second", "text/plain")))
    answer = phone.sync(drafts, _start(phone, drafts), commands=[_add("d1", data)])
    added = answer.find(".//as:Responses/as:Add")
    server_id = added.findtext("{AirSync}ServerId")
    references = {a.findtext("{AirSyncBase}ClientId"): a.findtext("{AirSyncBase}FileReference")
                  for a in added.iter("{AirSyncBase}Attachment")}
    assert references == {"a": f"{server_id}:0", "b": f"{server_id}:1"}

    delete_first = el("AirSyncBase:Attachments", None, el("AirSyncBase:Delete", None,
                                                          el("AirSyncBase:FileReference", references["a"])),
                      _attach("c", "third.txt", b"third", "text/plain"))
    changed = phone.sync(drafts, _key(answer), commands=[_change(server_id, el("AirSync:ApplicationData", None,
                                                                                delete_first))])
    response = changed.find(".//as:Responses/as:Change")
    assert response.findtext("{AirSync}ServerId") == server_id and response.findtext("{AirSync}Status") == "1"
    [third] = response.iter("{AirSyncBase}Attachment")
    assert third.findtext("{AirSyncBase}ClientId") == "c"
    assert third.findtext("{AirSyncBase}FileReference") == f"{server_id}:2"

    assert _fetch(phone, references["b"]) == b"second"  # still the second file, though now the first part
    assert _fetch(phone, f"{server_id}:2") == b"third"
    assert _fetch(phone, references["a"]) is None
    gone = el("AirSyncBase:Attachments", None, el("AirSyncBase:Delete", None,
                                                  el("AirSyncBase:FileReference", references["a"])))
    deleted_again = phone.sync(drafts, _key(changed),
                               commands=[_change(server_id, el("AirSync:ApplicationData", None, gone))])
    assert deleted_again.find(".//as:Responses/as:Change").findtext("{AirSync}Status") == "6"


def test_send_in_a_change_delivers_the_draft_and_takes_it_out_of_drafts(eas_lab):
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    drafts = phone.folder_id(folders, DRAFTS)
    answer, server_id = _save_budget_draft(lab, phone, drafts, _start(phone, drafts))

    send = _change(server_id, el("AirSync:ApplicationData", None, el("Email:Subject", "Budget, sent")),
                   el("Email2:Send"))
    sent = phone.sync(drafts, _key(answer), commands=[send])
    assert sent.find(".//as:Responses") is None
    # The draft left Drafts: the phone is told, as of any item gone from the folder.
    assert [d.findtext("{AirSync}ServerId") for d in sent.findall(".//as:Commands/as:Delete")] == [server_id]
    assert _items(lab, lab.mailbox, FolderType.DRAFTS) == []

    [delivered] = [i for i in _items(lab, _bob(lab), FolderType.INBOX) if i.subject == "Budget, sent"]
    received = BytesParser(policy=policy.default).parsebytes(lab.store.get_mime(_bob(lab), delivered.id))
    assert "alice@contoso.com" in received["From"]  # stamped by the submission
    assert received["X-Unsent"] is None and received["Bcc"] is None
    assert [a.get_filename() for a in received.iter_attachments()] == ["budget.csv"]
    [copy] = [i for i in _items(lab, lab.mailbox, FolderType.SENT_ITEMS) if i.subject == "Budget, sent"]
    assert b"X-Unsent" not in lab.store.get_mime(lab.mailbox, copy.id)


def test_send_in_an_add_sends_at_once_and_keeps_no_draft(eas_lab):
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    drafts = phone.folder_id(folders, DRAFTS)
    data = _draft("Sent straight away", el("AirSyncBase:Body", None, el("AirSyncBase:Type", "1"),
                                           el("AirSyncBase:Data", "See you at ten.")))
    answer = phone.sync(drafts, _start(phone, drafts), commands=[_add("d1", data, el("Email2:Send"))])
    added = answer.find(".//as:Responses/as:Add")
    assert added.findtext("{AirSync}Status") == "1" and added.find("{AirSync}ServerId") is None
    assert _items(lab, lab.mailbox, FolderType.DRAFTS) == []
    assert "Sent straight away" in [i.subject for i in _items(lab, _bob(lab), FolderType.INBOX)]
    assert "Sent straight away" in [i.subject for i in _items(lab, lab.mailbox, FolderType.SENT_ITEMS)]


def test_a_refused_send_changes_nothing_and_is_status_6(eas_lab):
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    drafts = phone.folder_id(folders, DRAFTS)
    answer, server_id = _save_budget_draft(lab, phone, drafts, _start(phone, drafts))
    nobody = _change(server_id, el("AirSync:ApplicationData", None, el("Email:To"), el("Email:Cc"), el("Email2:Bcc"),
                                   el("Email:Subject", "To nobody")), el("Email2:Send"))
    refused = phone.sync(drafts, _key(answer), commands=[nobody])
    assert refused.find(".//as:Responses/as:Change").findtext("{AirSync}Status") == "6"
    [kept] = _items(lab, lab.mailbox, FolderType.DRAFTS)
    assert kept.subject == "Budget draft" and kept.to == "bob@contoso.com"


def test_an_attachment_the_server_cannot_take_refuses_the_add(eas_lab):
    """Method 6 (OLE) has no faithful MIME form here: status 6, never a draft without it."""
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    drafts = phone.folder_id(folders, DRAFTS)
    data = _draft("With an OLE object", el("AirSyncBase:Attachments", None,
                                            _attach("o1", "chart.ole", b"\x01\x02", "application/octet-stream", "6")))
    answer = phone.sync(drafts, _start(phone, drafts), commands=[_add("d1", data)])
    assert answer.find(".//as:Responses/as:Add").findtext("{AirSync}Status") == "6"
    assert _items(lab, lab.mailbox, FolderType.DRAFTS) == []


def test_a_mime_body_is_taken_as_the_whole_draft(eas_lab):
    """What pyactivesync's create_email_draft sends: Body Type 4 holding the message, and Read."""
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    drafts = phone.folder_id(folders, DRAFTS)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "alice@contoso.com", "bob@contoso.com", "Written as MIME"
    message.set_content("Not yet.")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="plan.pdf")
    data = el("AirSync:ApplicationData", None,
              el("AirSyncBase:Body", None, el("AirSyncBase:Type", "4"),
                 el("AirSyncBase:Data", message.as_bytes(policy=policy.SMTP).decode("ascii"))),
              el("Email:Read", "0"))
    answer = phone.sync(drafts, _start(phone, drafts), commands=[_add("d1", data)])
    added = answer.find(".//as:Responses/as:Add")
    assert added.findtext("{AirSync}Status") == "1"
    [stored] = _items(lab, lab.mailbox, FolderType.DRAFTS)
    assert stored.subject == "Written as MIME" and not stored.read and stored.has_attachments
    assert _fetch(phone, f"{added.findtext('{AirSync}ServerId')}:0") == b"%PDF-1.4"


def test_an_edit_that_would_drop_body_parts_is_refused_and_the_draft_stays(eas_lab):
    """A MIME draft with two text parts cannot be rebuilt from Sync's elements: status 6, nothing lost."""
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    drafts = phone.folder_id(folders, DRAFTS)
    message = EmailMessage()
    message["To"], message["Subject"] = "bob@contoso.com", "Two notes"
    message.set_content("First note.")
    message.make_mixed()
    second = EmailMessage()
    second.set_content("Second note.")
    message.attach(second)
    data = el("AirSync:ApplicationData", None, el("AirSyncBase:Body", None, el("AirSyncBase:Type", "4"),
              el("AirSyncBase:Data", message.as_bytes(policy=policy.SMTP).decode("ascii"))))
    answer = phone.sync(drafts, _start(phone, drafts), commands=[_add("d1", data)])
    server_id = answer.find(".//as:Responses/as:Add").findtext("{AirSync}ServerId")
    [stored] = _items(lab, lab.mailbox, FolderType.DRAFTS)
    before = lab.store.get_mime(lab.mailbox, stored.id)

    edit = phone.sync(drafts, _key(answer), commands=[_change(server_id, _draft("Renamed"))])
    assert edit.find(".//as:Responses/as:Change").findtext("{AirSync}Status") == "6"
    assert lab.store.get_mime(lab.mailbox, stored.id) == before
    assert b"Second note." in before


def test_mail_is_added_only_as_a_16_draft_in_drafts(eas_lab):
    lab = eas_lab("Exchange 2016")
    phone, folders = _ready(lab)
    inbox = phone.folder_id(folders, INBOX)
    in_inbox = phone.sync(inbox, _start(phone, inbox), commands=[_add("m1", _draft("Into the Inbox"))])
    assert in_inbox.find(".//as:Responses/as:Add").findtext("{AirSync}Status") == "6"

    old, old_folders = _ready(lab, "14.1", device_id="OLDPHONE1")
    drafts = old.folder_id(old_folders, DRAFTS)
    as_14 = old.sync(drafts, _start(old, drafts), commands=[_add("m1", _draft("A 14.1 draft"))])
    assert as_14.find(".//as:Responses/as:Add").findtext("{AirSync}Status") == "6"
    assert _items(lab, lab.mailbox, FolderType.DRAFTS) == []
    assert "Into the Inbox" not in [i.subject for i in _items(lab, lab.mailbox, FolderType.INBOX)]


def test_send_outside_a_draft_is_status_6_not_ignored(eas_lab):
    lab = eas_lab("Exchange 2016")
    item = lab.deliver("Delivered mail")
    phone, folders = _ready(lab)
    inbox = phone.folder_id(folders, INBOX)
    key = _key(phone.sync(inbox, _start(phone, inbox)))
    send = _change(f"{inbox}:{item}", el("AirSync:ApplicationData", None, el("Email:Read", "1")), el("Email2:Send"))
    answer = phone.sync(inbox, key, commands=[send])
    assert answer.find(".//as:Responses/as:Change").findtext("{AirSync}Status") == "6"
    assert "Delivered mail" not in [i.subject for i in _items(lab, _bob(lab), FolderType.INBOX)]
