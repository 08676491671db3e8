"""SendMail, SmartReply, SmartForward, GetAttachment, ItemOperations and MoveItems through the whole host."""
from __future__ import annotations

import base64
import struct
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from plugins.activesync.wbxml import decode, opaque_bytes
from plugins.owa.mailbox import FolderType, Quotas
from plugins.owa.mailboxes import ensure_mailbox
from plugins.owa.seed import EXTERNAL_PEOPLE, SeedPlan, person_of, seed_mailbox

from .conftest import message
from .easclient import el

PROVISIONING = ("Exchange 2010 SP1", "Exchange 2016")


def _ready(lab, version: str, **kwargs):
    device = lab.client(version=version, **kwargs)
    persona = lab.service.config.registry_value(r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Exchange\Setup",
                                                "EmulatedVersion")
    if persona in PROVISIONING:
        device.provision()
    return device, device.folder_sync()


def _bob(lab):
    return ensure_mailbox(lab.service, lab.service.directory.find("bob"))


def _subjects(lab, mailbox: str, folder_type: FolderType) -> list[str]:
    folder = lab.store.default_folder(mailbox, folder_type).id
    return [i.subject for i in lab.store.list_items(mailbox, folder, limit=200)]


def _find(lab, mailbox: str, folder_type: FolderType, subject: str):
    folder = lab.store.default_folder(mailbox, folder_type).id
    return next(i for i in lab.store.list_items(mailbox, folder, limit=200) if i.subject == subject)


def _outgoing(subject: str, body: str = "New text from the phone.", to: str = "bob@contoso.com",
              html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["To"], msg["Subject"] = to, subject
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes(policy=policy.SMTP)


def _compose(root: str, mime: bytes, *, client_id: str = "c1", save: bool = True, source=None,
             replace_mime: bool = False):
    out = el(f"ComposeMail:{root}", None, el("ComposeMail:ClientId", client_id))
    if source is not None:
        out.append(el("ComposeMail:Source", None, *source))
    if save:
        out.append(el("ComposeMail:SaveInSentItems"))
    if replace_mime:
        out.append(el("ComposeMail:ReplaceMime"))
    out.append(el("ComposeMail:Mime", mime))
    return out


def _stored_mime(lab, mailbox: str, item) -> bytes:
    return lab.store.get_mime(mailbox, item.id)


def _attachment_item(lab):
    """A message of alice's Inbox with an attachment, as plugins/owa/seed.py writes them.

    A started host has the demo mailbox already; an in-process test host gets a seeded one here.
    """
    inbox = lab.folder(FolderType.INBOX).id
    if not any(i.has_attachments for i in lab.store.list_items(lab.mailbox, inbox, limit=200)):
        owner = person_of(lab.user)
        seed_mailbox(lab.store, lab.mailbox, owner, list(EXTERNAL_PEOPLE), SeedPlan(messages=6), seed=7,
                     now=datetime.now(timezone.utc))
    return next(i for i in lab.store.list_items(lab.mailbox, inbox, limit=200) if i.has_attachments)


# -- SendMail -------------------------------------------------------------------------


def test_sendmail_14_reaches_bob_and_alices_sent_items(eas_lab):
    lab = eas_lab("Exchange 2016")
    device, _ = _ready(lab, "16.1")
    answer = device.post("SendMail", _compose("SendMail", _outgoing("Lunch on Friday?")))
    assert answer.status == 200 and answer.body == b""
    assert "Lunch on Friday?" in _subjects(lab, _bob(lab), FolderType.INBOX)
    assert "Lunch on Friday?" in _subjects(lab, lab.mailbox, FolderType.SENT_ITEMS)


def test_sendmail_without_save_in_sent_items_leaves_no_copy(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    device, _ = _ready(lab, "14.1")
    assert device.post("SendMail", _compose("SendMail", _outgoing("No copy"), save=False)).body == b""
    assert "No copy" in _subjects(lab, _bob(lab), FolderType.INBOX)
    assert "No copy" not in _subjects(lab, lab.mailbox, FolderType.SENT_ITEMS)


def test_sendmail_before_14_posts_the_message_with_save_in_sent_in_the_query(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device, _ = _ready(lab, "12.1")
    device.extra_headers["Content-Type"] = "message/rfc822"
    answer = device.post("SendMail", raw=_outgoing("Sent the 12.1 way"), url=device.url("SendMail", SaveInSent="T"))
    assert answer.status == 200 and answer.body == b""
    assert "Sent the 12.1 way" in _subjects(lab, _bob(lab), FolderType.INBOX)
    assert "Sent the 12.1 way" in _subjects(lab, lab.mailbox, FolderType.SENT_ITEMS)


def test_sendmail_2_5_from_the_device_client_over_http(real_eas):
    from device import BasicAuth, DeviceSession, DeviceState

    lab = real_eas("Exchange 2003 SP2")
    state = DeviceState.new(f"http://127.0.0.1:{lab.port}/Microsoft-Server-ActiveSync", "CONTOSO\\alice",
                            device_id="MAILDEVICE25")
    with DeviceSession(state, BasicAuth("CONTOSO\\alice", "P@ssw0rd"), protocol_version="2.5") as session:
        session.send_mail(_outgoing("From a 2.5 phone"), save_in_sent=True)
    assert "From a 2.5 phone" in _subjects(lab, _bob(lab), FolderType.INBOX)
    assert "From a 2.5 phone" in _subjects(lab, lab.mailbox, FolderType.SENT_ITEMS)


def test_a_client_id_sent_twice_is_118(eas_lab):
    lab = eas_lab("Exchange 2016")
    device, _ = _ready(lab, "16.1")
    assert device.post("SendMail", _compose("SendMail", _outgoing("Once"), client_id="same")).body == b""
    again = device.post("SendMail", _compose("SendMail", _outgoing("Once"), client_id="same"))
    assert again.text("{ComposeMail}Status") == "118"
    assert _subjects(lab, _bob(lab), FolderType.INBOX).count("Once") == 1


def test_no_recipients_is_119_and_no_mime_is_103(eas_lab):
    lab = eas_lab("Exchange 2016")
    device, _ = _ready(lab, "16.1")
    answer = device.post("SendMail", _compose("SendMail", _outgoing("Nobody", to="")))
    assert answer.text("{ComposeMail}Status") == "119"
    bare = el("ComposeMail:SendMail", None, el("ComposeMail:ClientId", "x"), el("ComposeMail:SaveInSentItems"))
    assert device.post("SendMail", bare).text("{ComposeMail}Status") == "103"


@pytest.mark.parametrize("persona, version", [("Exchange 2010 SP1", "14.1"), ("Exchange 2007 SP1", "12.1")])
def test_over_prohibit_send_quota_is_115_or_http_507(eas_lab, persona, version):
    lab = eas_lab(persona)
    device, _ = _ready(lab, version)
    size_kb = lab.store.mailbox_size(lab.mailbox) // 1024
    lab.store.set_mailbox_quotas(lab.mailbox, Quotas(prohibit_send_kb=max(size_kb - 1, 1)))
    if version == "14.1":
        answer = device.post("SendMail", _compose("SendMail", _outgoing("Over quota")))
        assert answer.status == 200 and answer.text("{ComposeMail}Status") == "115"
    else:
        device.extra_headers["Content-Type"] = "message/rfc822"
        answer = device.post("SendMail", raw=_outgoing("Over quota"), url=device.url("SendMail", SaveInSent="T"))
        assert answer.status == 507
    assert "Over quota" not in _subjects(lab, _bob(lab), FolderType.INBOX)


# -- SmartReply and SmartForward ----------------------------------------------------------


def test_smartreply_quotes_the_original_and_threads_it(eas_lab):
    lab = eas_lab("Exchange 2016")
    mime = message("Budget question", body="Can you check the Q3 numbers?",
                   html="<p>Can you check the <b>Q3</b> numbers?</p>")
    original_id = lab.store.deliver(lab.mailbox, b"Message-ID: <q3@contoso.com>\r\n" + mime).id
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    source = [el("ComposeMail:FolderId", inbox), el("ComposeMail:ItemId", f"{inbox}:{original_id}")]
    reply = _outgoing("RE: Budget question", body="They look fine.", html="<html><body><p>They look fine.</p></body></html>")
    answer = device.post("SmartReply", _compose("SmartReply", reply, source=source))
    assert answer.status == 200 and answer.body == b""
    received = _find(lab, _bob(lab), FolderType.INBOX, "RE: Budget question")
    msg = BytesParser(policy=policy.default).parsebytes(_stored_mime(lab, _bob(lab), received))
    text = msg.get_body(("plain",)).get_content()
    assert text.index("They look fine.") < text.index("From: bob@contoso.com") < text.index("Q3 numbers")
    assert "Subject: Budget question" in text
    markup = msg.get_body(("html",)).get_content()
    assert "They look fine." in markup and "<b>Q3</b>" in markup
    assert msg["In-Reply-To"] == "<q3@contoso.com>" and msg["References"] == "<q3@contoso.com>"


def test_smartreply_with_replace_mime_sends_only_the_devices_message(eas_lab):
    lab = eas_lab("Exchange 2016")
    original_id = lab.deliver("Quoted by the phone", body="original words")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    source = [el("ComposeMail:FolderId", inbox), el("ComposeMail:ItemId", f"{inbox}:{original_id}")]
    answer = device.post("SmartReply", _compose("SmartReply", _outgoing("RE: Quoted by the phone", body="mine"),
                                                source=source, replace_mime=True))
    assert answer.body == b""
    received = _find(lab, _bob(lab), FolderType.INBOX, "RE: Quoted by the phone")
    assert b"original words" not in _stored_mime(lab, _bob(lab), received)


def test_smartforward_carries_the_originals_attachments(eas_lab):
    lab = eas_lab("Exchange 2016")
    item = _attachment_item(lab)
    inbox_id = str(item.folder_id)
    device, _ = _ready(lab, "16.1")
    source = [el("ComposeMail:FolderId", inbox_id), el("ComposeMail:ItemId", f"{inbox_id}:{item.id}")]
    answer = device.post("SmartForward", _compose("SmartForward", _outgoing("FW: with attachment", body="FYI"),
                                                  source=source))
    assert answer.body == b""
    received = _find(lab, _bob(lab), FolderType.INBOX, "FW: with attachment")
    msg = BytesParser(policy=policy.default).parsebytes(_stored_mime(lab, _bob(lab), received))
    original = BytesParser(policy=policy.default).parsebytes(lab.store.get_mime(lab.mailbox, item.id))
    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names and names == [p.get_filename() for p in original.iter_attachments()]
    assert received.has_attachments
    assert "FYI" in msg.get_body(("plain",)).get_content()


def test_smartreply_before_14_names_the_original_in_the_query(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    original_id = lab.deliver("Old style", body="the 12.1 original")
    device, folders = _ready(lab, "12.1")
    inbox = device.folder_id(folders, 2)
    device.extra_headers["Content-Type"] = "message/rfc822"
    answer = device.post("SmartReply", raw=_outgoing("RE: Old style", body="replying"),
                         url=device.url("SmartReply", ItemId=f"{inbox}:{original_id}", CollectionId=inbox,
                                        SaveInSent="T"))
    assert answer.status == 200
    received = _find(lab, _bob(lab), FolderType.INBOX, "RE: Old style")
    assert b"the 12.1 original" in _stored_mime(lab, _bob(lab), received)
    assert "RE: Old style" in _subjects(lab, lab.mailbox, FolderType.SENT_ITEMS)


def test_a_missing_source_is_150_or_http_500(eas_lab):
    lab = eas_lab("Exchange 2016")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    source = [el("ComposeMail:FolderId", inbox), el("ComposeMail:ItemId", f"{inbox}:999999")]
    answer = device.post("SmartReply", _compose("SmartReply", _outgoing("RE: gone"), source=source))
    assert answer.text("{ComposeMail}Status") == "150"
    old = eas_lab("Exchange 2007 SP1")
    device, folders = _ready(old, "12.1")
    device.extra_headers["Content-Type"] = "message/rfc822"
    answer = device.post("SmartForward", raw=_outgoing("FW: gone"),
                         url=device.url("SmartForward", ItemId="5:999999", CollectionId="5"))
    assert answer.status == 500


# -- GetAttachment ----------------------------------------------------------------------------


def test_getattachment_returns_the_bytes_with_their_content_type(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    item = _attachment_item(lab)
    device, _ = _ready(lab, "12.1")
    answer = device.post("GetAttachment", url=device.url("GetAttachment", AttachmentName=f"{item.folder_id}:{item.id}:0"))
    assert answer.status == 200
    original = BytesParser(policy=policy.default).parsebytes(lab.store.get_mime(lab.mailbox, item.id))
    part = next(original.iter_attachments())
    assert answer.body == part.get_payload(decode=True)
    assert answer.headers["content-type"].startswith(part.get_content_type())
    bad = device.post("GetAttachment", url=device.url("GetAttachment", AttachmentName=f"{item.folder_id}:{item.id}:9"))
    assert bad.status == 500


def test_getattachment_is_gone_in_14_and_later(eas_lab):
    lab = eas_lab("Exchange 2016")
    item = _attachment_item(lab)
    device, _ = _ready(lab, "14.1")
    answer = device.post("GetAttachment", url=device.url("GetAttachment", AttachmentName=f"{item.folder_id}:{item.id}:0"))
    assert answer.status == 501


# -- ItemOperations ---------------------------------------------------------------------------


def _fetch_reference(reference: str, *options):
    fetch = el("ItemOperations:Fetch", None, el("ItemOperations:Store", "Mailbox"),
               el("AirSyncBase:FileReference", reference))
    if options:
        fetch.append(el("ItemOperations:Options", None, *options))
    return el("ItemOperations:ItemOperations", None, fetch)


def test_fetch_an_attachment_inline(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    item = _attachment_item(lab)
    device, _ = _ready(lab, "14.1")
    reference = f"{item.folder_id}:{item.id}:0"
    answer = device.post("ItemOperations", _fetch_reference(reference))
    assert answer.text("{ItemOperations}Status") == "1"
    fetch = answer.find("{ItemOperations}Response/{ItemOperations}Fetch")
    assert fetch.findtext("{ItemOperations}Status") == "1"
    assert fetch.findtext("{AirSyncBase}FileReference") == reference
    original = BytesParser(policy=policy.default).parsebytes(lab.store.get_mime(lab.mailbox, item.id))
    part = next(original.iter_attachments())
    data = base64.b64decode(fetch.findtext("{ItemOperations}Properties/{ItemOperations}Data"))
    assert data == part.get_payload(decode=True)
    assert fetch.findtext("{ItemOperations}Properties/{AirSyncBase}ContentType") == part.get_content_type()


def test_fetch_a_byte_range_and_a_bad_one(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    item = _attachment_item(lab)
    device, _ = _ready(lab, "14.1")
    reference = f"{item.folder_id}:{item.id}:0"
    answer = device.post("ItemOperations", _fetch_reference(reference, el("ItemOperations:Range", "0-9")))
    props = answer.find(".//{ItemOperations}Properties")
    assert len(base64.b64decode(props.findtext("{ItemOperations}Data"))) == 10
    assert props.findtext("{ItemOperations}Range") == "0-9" and int(props.findtext("{ItemOperations}Total")) > 10
    bad = device.post("ItemOperations", _fetch_reference(reference, el("ItemOperations:Range", "9-2")))
    assert bad.find(".//{ItemOperations}Fetch").findtext("{ItemOperations}Status") == "8"
    gone = device.post("ItemOperations", _fetch_reference(f"{item.folder_id}:{item.id}:42"))
    assert gone.find(".//{ItemOperations}Fetch").findtext("{ItemOperations}Status") == "15"


def test_fetch_multipart_from_the_device_client_over_http(real_eas):
    from device import BasicAuth, DeviceSession, DeviceState, FetchRequest

    lab = real_eas("Exchange 2016")
    item = _attachment_item(lab)
    original = BytesParser(policy=policy.default).parsebytes(lab.store.get_mime(lab.mailbox, item.id))
    expected = next(original.iter_attachments()).get_payload(decode=True)
    state = DeviceState.new(f"http://127.0.0.1:{lab.port}/Microsoft-Server-ActiveSync", "CONTOSO\\alice",
                            device_id="MULTIPART161")
    with DeviceSession(state, BasicAuth("CONTOSO\\alice", "P@ssw0rd"), protocol_version="16.1") as session:
        session.provision()
        reply = session.fetch(FetchRequest(file_reference=f"{item.folder_id}:{item.id}:0"), accept_multipart=True)
        assert reply.response.headers["Content-Type"] == "application/vnd.ms-sync.multipart"
        assert reply.status == 1 and reply.fetched[0].status == 1
        assert reply.fetched[0].content == expected
        body = session.fetch(FetchRequest(collection_id=str(item.folder_id), server_id=f"{item.folder_id}:{item.id}",
                                          body_type=1), accept_multipart=True)
        assert body.fetched[0].status == 1 and body.fetched[0].item_class == "Email"
        assert body.fetched[0].content  # the body text travelled as part 1


def test_multipart_layout_follows_ms_ascmd_2_2_1_10_1_1(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    item = _attachment_item(lab)
    device, _ = _ready(lab, "14.1")
    device.extra_headers["MS-ASAcceptMultiPart"] = "T"
    answer = device.post("ItemOperations", _fetch_reference(f"{item.folder_id}:{item.id}:0"))
    assert answer.headers["content-type"] == "application/vnd.ms-sync.multipart"
    count = struct.unpack_from("<i", answer.body)[0]
    assert count == 2
    (off0, len0), (off1, len1) = struct.unpack_from("<ii", answer.body, 4), struct.unpack_from("<ii", answer.body, 12)
    assert off0 == 20 and off1 == off0 + len0 and off1 + len1 == len(answer.body)
    root = decode(answer.body[off0:off0 + len0])
    assert root.findtext(".//{ItemOperations}Properties/{ItemOperations}Part") == "1"


def test_fetch_an_item_by_server_id_with_a_body_preference(eas_lab):
    lab = eas_lab("Exchange 2016")
    item_id = lab.deliver("Fetch me", body="plain words", html="<p>html words</p>")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    fetch = el("ItemOperations:Fetch", None, el("ItemOperations:Store", "Mailbox"),
               el("AirSync:CollectionId", inbox), el("AirSync:ServerId", f"{inbox}:{item_id}"),
               el("ItemOperations:Options", None, el("AirSyncBase:BodyPreference", None, el("AirSyncBase:Type", "2"))))
    answer = device.post("ItemOperations", el("ItemOperations:ItemOperations", None, fetch))
    result = answer.find(".//{ItemOperations}Fetch")
    assert [c.tag.split("}")[1] for c in result][:4] == ["Status", "CollectionId", "ServerId", "Class"]
    assert result.findtext("{AirSync}Class") == "Email"
    props = result.find("{ItemOperations}Properties")
    assert props.findtext("{Email}Subject") == "Fetch me"
    assert props.findtext("{AirSyncBase}Body/{AirSyncBase}Type") == "2"
    assert "html words" in props.findtext("{AirSyncBase}Body/{AirSyncBase}Data")


def test_fetch_statuses_not_found_and_unknown_store(eas_lab):
    lab = eas_lab("Exchange 2016")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    missing = el("ItemOperations:Fetch", None, el("ItemOperations:Store", "Mailbox"),
                 el("AirSync:CollectionId", inbox), el("AirSync:ServerId", f"{inbox}:424242"))
    library = el("ItemOperations:Fetch", None, el("ItemOperations:Store", "DocumentLibrary"),
                 el("DocumentLibrary:LinkId", r"\\server\share\file.txt"))
    answer = device.post("ItemOperations", el("ItemOperations:ItemOperations", None, missing, library))
    statuses = [f.findtext("{ItemOperations}Status") for f in answer.findall(".//{ItemOperations}Fetch")]
    assert answer.text("{ItemOperations}Status") == "1" and statuses == ["6", "9"]


def test_empty_folder_contents_empties_deleted_items(eas_lab):
    lab = eas_lab("Exchange 2016")
    deleted = lab.folder(FolderType.DELETED_ITEMS).id
    lab.store.deliver(lab.mailbox, message("Trash 1"), folder_id=deleted)
    lab.store.deliver(lab.mailbox, message("Trash 2"), folder_id=deleted)
    device, folders = _ready(lab, "16.1")
    collection = device.folder_id(folders, 4)
    request = el("ItemOperations:ItemOperations", None, el("ItemOperations:EmptyFolderContents", None,
                 el("AirSync:CollectionId", collection),
                 el("ItemOperations:Options", None, el("ItemOperations:DeleteSubFolders"))))
    answer = device.post("ItemOperations", request)
    empty = answer.find(".//{ItemOperations}EmptyFolderContents")
    assert empty.findtext("{ItemOperations}Status") == "1" and empty.findtext("{AirSync}CollectionId") == collection
    assert lab.store.count_items(lab.mailbox, deleted) == 0


def test_itemoperations_is_not_part_of_2_5(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device, _ = _ready(lab, "2.5")
    answer = device.post("ItemOperations", _fetch_reference("1:1:0"))
    assert answer.status == 501


def test_options_advertise_the_commands_per_persona(eas_lab):
    for persona, expected, absent in (
            ("Exchange 2003 SP2", {"SendMail", "SmartReply", "GetAttachment", "MoveItems", "Search",
                                   "ResolveRecipients", "MeetingResponse"}, {"ItemOperations", "Settings", "Find"}),
            ("Exchange 2007 SP1", {"ItemOperations", "Settings", "GetAttachment"}, {"Find"}),
            ("Exchange 2016", {"ItemOperations", "Settings", "Find", "SmartForward"}, set())):
        lab = eas_lab(persona)
        commands = set(lab.client().options().headers["ms-asprotocolcommands"].split(","))
        assert expected <= commands and not absent & commands, persona


# -- MoveItems ---------------------------------------------------------------------------------


def _move(src: str, src_folder: str, dst_folder: str):
    return el("Move:Move", None, el("Move:SrcMsgId", src), el("Move:SrcFldId", src_folder),
              el("Move:DstFldId", dst_folder))


def test_moveitems_then_sync_shows_the_move(eas_lab):
    lab = eas_lab("Exchange 2016")
    item_id = lab.deliver("Move me")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    created = device.post("FolderCreate", el("FolderHierarchy:FolderCreate", None,
                          el("FolderHierarchy:SyncKey", folders.text("fh:SyncKey")),
                          el("FolderHierarchy:ParentId", "0"), el("FolderHierarchy:DisplayName", "Projects"),
                          el("FolderHierarchy:Type", "12")))
    projects = created.text("fh:ServerId")
    key = device.sync(projects, "0").text("as:Collections/as:Collection/as:SyncKey")
    answer = device.post("MoveItems", el("Move:MoveItems", None, _move(f"{inbox}:{item_id}", inbox, projects)))
    response = answer.find("{Move}Response")
    assert [c.tag.split("}")[1] for c in response] == ["SrcMsgId", "Status", "DstMsgId"]
    assert response.findtext("{Move}Status") == "3"
    new_id = response.findtext("{Move}DstMsgId")
    assert new_id.startswith(f"{projects}:") and new_id != f"{inbox}:{item_id}"
    synced = device.sync(projects, key)
    adds = synced.findall(".//as:Commands/as:Add")
    assert [(a.findtext("{AirSync}ServerId"), a.findtext(".//{Email}Subject")) for a in adds] == [(new_id, "Move me")]


def test_moveitems_statuses(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    item_id = lab.deliver("Stay")
    device, folders = _ready(lab, "14.1")
    inbox, deleted, contacts = (device.folder_id(folders, t) for t in (2, 4, 9))
    answer = device.post("MoveItems", el("Move:MoveItems", None,
                                         _move(f"{inbox}:999999", inbox, deleted),
                                         _move(f"{inbox}:{item_id}", inbox, "424242"),
                                         _move(f"{inbox}:{item_id}", inbox, inbox),
                                         _move(f"{inbox}:{item_id}", inbox, contacts)))
    assert [r.findtext("{Move}Status") for r in answer.findall("{Move}Response")] == ["1", "2", "4", "5"]
    assert all(r.find("{Move}DstMsgId") is None for r in answer.findall("{Move}Response"))


def test_conversation_move_takes_the_whole_thread(eas_lab):
    lab = eas_lab("Exchange 2016")
    lab.deliver("Offsite planning")
    lab.deliver("RE: Offsite planning")
    lab.deliver("Something else")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    key = device.sync(inbox, "0").text("as:Collections/as:Collection/as:SyncKey")
    adds = device.sync(inbox, key).findall(".//as:Commands/as:Add")
    conversation = {a.findtext(".//{Email}Subject"): opaque_bytes(a.find(".//{Email2}ConversationId")) for a in adds}
    thread = conversation["RE: Offsite planning"]
    assert len(thread) == 16 and thread == conversation["Offsite planning"] != conversation["Something else"]
    archive = device.post("FolderCreate", el("FolderHierarchy:FolderCreate", None,
                          el("FolderHierarchy:SyncKey", folders.text("fh:SyncKey")),
                          el("FolderHierarchy:ParentId", inbox), el("FolderHierarchy:DisplayName", "Archive"),
                          el("FolderHierarchy:Type", "12"))).text("fh:ServerId")
    move = el("ItemOperations:Move", None, el("ItemOperations:ConversationId", thread),
              el("ItemOperations:DstFldId", archive), el("ItemOperations:Options", None, el("ItemOperations:MoveAlways")))
    answer = device.post("ItemOperations", el("ItemOperations:ItemOperations", None, move))
    assert answer.find(".//{ItemOperations}Move").findtext("{ItemOperations}Status") == "1"
    moved = lab.store.list_items(lab.mailbox, int(archive))
    assert sorted(i.subject for i in moved) == ["Offsite planning", "RE: Offsite planning"]
    calendar = el("ItemOperations:Move", None, el("ItemOperations:ConversationId", thread),
                  el("ItemOperations:DstFldId", device.folder_id(folders, 8)))
    refused = device.post("ItemOperations", el("ItemOperations:ItemOperations", None, calendar))
    assert refused.find(".//{ItemOperations}Move").findtext("{ItemOperations}Status") == "156"


def test_getattachment_and_moveitems_in_the_2003_persona_over_the_exchange_hop(real_eas):
    lab = real_eas("Exchange 2003 SP2")
    _attachment_item(lab)  # the started host's demo Inbox has such mail already
    device, folders = _ready(lab, "2.5", device_id="HOPMAIL25")
    inbox, deleted = device.folder_id(folders, 2), device.folder_id(folders, 4)
    key = device.sync(inbox, "0", klass="Email").text("as:Collections/as:Collection/as:SyncKey")
    adds = device.sync(inbox, key, klass="Email").findall(".//as:Commands/as:Add")
    with_attachment = next(a for a in adds if a.find(".//{Email}Attachments") is not None)
    name = with_attachment.findtext(".//{Email}Attachment/{Email}AttName")
    answer = device.post("GetAttachment", url=device.url("GetAttachment", AttachmentName=name))
    assert answer.status == 200 and answer.body
    server_id = with_attachment.findtext("{AirSync}ServerId")
    moved = device.post("MoveItems", el("Move:MoveItems", None, _move(server_id, inbox, deleted)))
    assert moved.find("{Move}Response").findtext("{Move}Status") == "3"
