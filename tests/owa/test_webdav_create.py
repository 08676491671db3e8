"""What davex.dll does beyond RFC 4918 the way Exchange 2003 did: PROPPATCH that creates an item,
typed PROPPATCH values, MKCOL with a folder class, and folders' permanent URLs as MOVE destinations.

In-process, through the whole host pipeline, on the real SQLite store (fixtures of test_webdav.py).
"""
from __future__ import annotations

from datetime import datetime, timezone

from lxml import etree

from plugins.owa.mailbox import FlagStatus, FolderType, NewItem, Quotas
from tests.owa.test_webdav import NS, box, lab_host, prop, responses  # noqa: F401  (box, lab_host: fixtures)

B = "urn:uuid:c2f41010-65b3-11d1-a29f-00aa00c14882/"
TASKS = "urn:schemas:tasks:"
CREATE_NS = {"a": "DAV:", "b": B, "d": "urn:schemas:httpmail:", "f": "http://schemas.microsoft.com/exchange/",
             "i": "urn:schemas:calendar:", "j": "urn:schemas:contacts:", "k": TASKS,
             "g": "http://schemas.microsoft.com/mapi/proptag/"}


def update(props: str, removes: str = "") -> str:
    """A <D:propertyupdate> as the Exchange SDK's samples wrote one."""
    declared = " ".join(f'xmlns:{p}="{uri}"' for p, uri in CREATE_NS.items())
    remove = f"<a:remove><a:prop>{removes}</a:prop></a:remove>" if removes else ""
    return (f'<?xml version="1.0"?><a:propertyupdate {declared}><a:set><a:prop>{props}</a:prop></a:set>'
            f"{remove}</a:propertyupdate>")


def statuses(body: bytes) -> dict[str, str]:
    """Property (Clark name) -> propstat status of a one-response multistatus."""
    [response] = etree.fromstring(body).findall("a:response", NS)
    return {child.tag: propstat.findtext("a:status", namespaces=NS)
            for propstat in response.findall("a:propstat", NS) for child in propstat.find("a:prop", NS)}


def created(box, answer):
    """The item a creating PROPPATCH made, read where its Location says."""
    assert answer.status_int == 207, answer.body
    assert set(statuses(answer.body).values()) == {"HTTP/1.1 200 OK"}
    [href] = responses(answer.body)
    assert answer.headers["Location"] == href
    item_id = int(href.rsplit("-", 1)[1].removesuffix(".EML"))
    return box.store.get_item(box.alice, item_id)


CONTACT = update('<a:contentclass>urn:content-classes:person</a:contentclass>'
                 '<f:outlookmessageclass>IPM.Contact</f:outlookmessageclass>'
                 '<d:subject>Carol Diaz</d:subject><d:read b:dt="boolean">1</d:read>'
                 '<j:first_name>Carol</j:first_name><j:last_name>Diaz</j:last_name>'
                 '<j:email1_address>carol@example.com</j:email1_address>')


# --- PROPPATCH that creates ---------------------------------------------------------------------------------


def test_proppatch_on_a_new_url_creates_a_contact_that_answers_where_location_says(box):
    contacts = box.folder(FolderType.CONTACTS)
    answer = box.dav("PROPPATCH", "/exchange/alice/Contacts/3f2a9c.EML", CONTACT)
    contact = created(box, answer)
    assert contact.folder_id == contacts.id and contact.message_class == "IPM.Contact"
    assert contact.subject == "Carol Diaz" and contact.read
    assert contact.properties == {"first_name": "Carol", "last_name": "Diaz", "email1_address": "carol@example.com"}
    found = responses(box.dav("PROPFIND", answer.headers["Location"], Depth="0").body)
    [shown] = found.values()
    assert prop(shown, "a:contentclass") == "urn:content-classes:person"
    assert shown.findtext(".//{urn:schemas:contacts:}first_name") == "Carol"
    assert prop(shown, "h:repl-uid") == f"rid:i{contact.id}"
    # The name the client chose is not kept: the store names items (docs/webdav.md).
    assert box.dav("PROPFIND", "/exchange/alice/Contacts/3f2a9c.EML", Depth="0").status_int == 404


def test_a_contact_created_under_the_folders_permanent_url(box):
    contacts = box.folder(FolderType.CONTACTS)
    answer = box.dav("PROPPATCH", f"/exchange/alice/-FlatUrlSpace-/{contacts.id}/new.EML", CONTACT)
    assert created(box, answer).folder_id == contacts.id


def test_an_appointment_is_created_with_typed_calendar_properties(box):
    body = update('<a:contentclass>urn:content-classes:appointment</a:contentclass>'
                  '<d:subject>Lab review</d:subject>'
                  '<i:dtstart b:dt="dateTime.tz">2026-12-01T09:00:00.000Z</i:dtstart>'
                  '<i:dtend b:dt="dateTime.tz">2026-12-01T10:00:00.000Z</i:dtend>'
                  '<i:alldayevent b:dt="boolean">0</i:alldayevent><i:reminder b:dt="int">15</i:reminder>'
                  '<i:location>Room 4</i:location>'
                  '<i:attendees>[{"email": "bob@contoso.com", "name": "Bob Kelly"}]</i:attendees>'
                  '<i:categories b:dt="mv.string" xmlns:c="xml:"><c:v>Lab</c:v><c:v>Review</c:v></i:categories>')
    appointment = created(box, box.dav("PROPPATCH", "/exchange/alice/Calendar/x.EML", body))
    assert appointment.message_class == "IPM.Appointment"  # from DAV:contentclass alone
    assert appointment.folder_id == box.folder(FolderType.CALENDAR).id
    assert appointment.properties == {
        "start": "2026-12-01T09:00:00+00:00", "end": "2026-12-01T10:00:00+00:00", "all_day": False,
        "reminder": 15, "location": "Room 4", "attendees": [{"email": "bob@contoso.com", "name": "Bob Kelly"}],
        "categories": ["Lab", "Review"]}
    assert datetime.fromisoformat(appointment.properties["start"]) == datetime(2026, 12, 1, 9, tzinfo=timezone.utc)


def test_a_task_is_created_with_its_task_properties(box):
    body = update('<f:outlookmessageclass>IPM.Task</f:outlookmessageclass><d:subject>File the report</d:subject>'
                  '<k:due_date b:dt="dateTime.tz">2026-06-30T00:00:00Z</k:due_date>'
                  '<k:complete b:dt="boolean">0</k:complete><k:importance b:dt="int">2</k:importance>'
                  '<g:x10900003 b:dt="int">2</g:x10900003>')
    task = created(box, box.dav("PROPPATCH", "/exchange/alice/Tasks/t.EML", body))
    assert task.message_class == "IPM.Task" and task.subject == "File the report"
    assert task.flag_status == FlagStatus.FLAGGED
    assert task.properties == {"due_date": "2026-06-30T00:00:00+00:00", "complete": False, "importance": 2}
    shown = box.dav("PROPFIND", f"/exchange/alice/-FlatUrlSpace-/{task.folder_id}/{task.id}.EML", Depth="0").body
    assert etree.fromstring(shown).findtext(f".//{{{TASKS}}}complete") == "0"
    assert prop(next(iter(responses(shown).values())), "a:contentclass") == "urn:content-classes:task"


def test_a_refused_property_creates_nothing_and_fails_the_others_with_424(box):
    tasks = box.folder(FolderType.TASKS)
    body = update('<a:contentclass>urn:content-classes:person</a:contentclass>'
                  '<f:outlookmessageclass>IPM.Task</f:outlookmessageclass>'
                  '<d:subject>Mixed up</d:subject><d:from>bob@contoso.com</d:from>'
                  '<d:read b:dt="boolean">maybe</d:read>')
    answer = box.dav("PROPPATCH", "/exchange/alice/Tasks/mixed.EML", body)
    assert answer.status_int == 207 and "Location" not in answer.headers
    assert statuses(answer.body) == {
        "{DAV:}contentclass": "HTTP/1.1 409 Conflict",  # contradicts the message class
        "{http://schemas.microsoft.com/exchange/}outlookmessageclass": "HTTP/1.1 424 Failed Dependency",
        "{urn:schemas:httpmail:}subject": "HTTP/1.1 424 Failed Dependency",
        "{urn:schemas:httpmail:}from": "HTTP/1.1 403 Forbidden",  # computed by the store
        "{urn:schemas:httpmail:}read": "HTTP/1.1 409 Conflict",  # not a boolean
    }
    assert box.store.count_items(box.alice, tasks.id) == 0


def test_a_missing_parent_is_409_and_the_mailbox_root_or_hidden_folders_403(box):
    assert box.dav("PROPPATCH", "/exchange/alice/Nowhere/x.EML", CONTACT).status_int == 409
    assert box.dav("PROPPATCH", "/exchange/alice/-FlatUrlSpace-/999999/x.EML", CONTACT).status_int == 409
    assert box.dav("PROPPATCH", "/exchange/alice/x.EML", CONTACT).status_int == 403
    assert box.dav("PROPPATCH", "/exchange/alice/NON_IPM_SUBTREE/Microsoft-Server-ActiveSync/x",
                   CONTACT).status_int == 403
    assert box.dav("PROPPATCH", "/exchange/alice/Contacts/x.EML", "<a:propfind xmlns:a='DAV:'/>").status_int == 400


def test_creating_past_the_quota_is_507(box):
    box.store.add_item(box.alice, box.folder(FolderType.INBOX).id, NewItem(subject="x" * 30_000))
    box.store.set_mailbox_quotas(box.alice, Quotas(prohibit_send_receive_kb=box.store.mailbox_size(box.alice) // 1024))
    assert box.dav("PROPPATCH", "/exchange/alice/Contacts/x.EML", CONTACT).status_int == 507
    assert box.store.count_items(box.alice, box.folder(FolderType.CONTACTS).id) == 0


def test_a_new_item_in_a_locked_folder_needs_the_locks_token(box):
    lock = ('<?xml version="1.0"?><a:lockinfo xmlns:a="DAV:"><a:lockscope><a:exclusive/></a:lockscope>'
            "<a:locktype><a:write/></a:locktype></a:lockinfo>")
    locked = box.dav("LOCK", "/exchange/alice/Contacts/", lock, Depth="0")
    assert locked.status_int == 200
    assert box.dav("PROPPATCH", "/exchange/alice/Contacts/x.EML", CONTACT).status_int == 423
    token = locked.headers["Lock-Token"]
    assert box.dav("PROPPATCH", "/exchange/alice/Contacts/x.EML", CONTACT, If=f"({token})").status_int == 207


# --- typed values on existing items -------------------------------------------------------------------------


def test_proppatch_stores_typed_values_as_their_types(box):
    stored = box.store.add_item(box.alice, box.folder(FolderType.CALENDAR).id, NewItem(
        message_class="IPM.Appointment", subject="Standup", properties={"location": "Room 1", "busy_status": 2}))
    url = f"/exchange/alice/-FlatUrlSpace-/{stored.folder_id}/{stored.id}.EML"
    body = update('<i:alldayevent b:dt="boolean">1</i:alldayevent><i:busy_status b:dt="int">3</i:busy_status>'
                  '<i:dtstart b:dt="dateTime.tz">2026-12-01T09:00:00.250Z</i:dtstart>'
                  '<d:importance b:dt="int">2</d:importance>', removes="<i:location/>")
    assert set(statuses(box.dav("PROPPATCH", url, body).body).values()) == {"HTTP/1.1 200 OK"}
    changed = box.store.get_item(box.alice, stored.id)
    assert changed.properties == {"all_day": True, "busy_status": 3, "start": "2026-12-01T09:00:00.250000+00:00"}
    assert changed.importance == 2
    shown = etree.fromstring(box.dav("PROPFIND", url, Depth="0").body)
    allday = shown.find(".//{urn:schemas:calendar:}alldayevent")
    assert allday.get(f"{{{B}}}dt") == "boolean" and allday.text == "1"
    bad = box.dav("PROPPATCH", url, update('<i:reminder b:dt="int">soon</i:reminder>'))
    assert statuses(bad.body) == {"{urn:schemas:calendar:}reminder": "HTTP/1.1 409 Conflict"}
    unknown = box.dav("PROPPATCH", url, update('<i:photo b:dt="bin.base64">AAAA</i:photo>'))
    assert statuses(unknown.body) == {"{urn:schemas:calendar:}photo": "HTTP/1.1 409 Conflict"}


def test_calendar_items_show_their_clip_end_and_search_finds_them_by_it(box):
    """PidLidClipEnd (MS-OXOCAL 2.2.1.15): when an appointment, its recurrence included, is over; computed."""
    calendar = box.store.create_folder(box.alice, None, "Team calendar", FolderType.USER_CALENDAR).id

    def appointment(subject: str, end: str, recurrence: dict | None = None):
        properties = {"start": "2026-11-02T09:00:00+00:00", "end": end}
        if recurrence is not None:
            properties["recurrence"] = recurrence
        return box.store.add_item(box.alice, calendar, NewItem(
            message_class="IPM.Appointment", subject=subject, properties=properties))

    review = appointment("Review", "2026-12-01T10:00:00+00:00")
    appointment("Over", "2026-11-02T10:00:00+00:00")
    appointment("Weekly", "2026-11-02T10:00:00+00:00", {"type": 1, "interval": 1, "until": None})
    appointment("Monthly", "2026-11-02T10:00:00+00:00", {"type": 2, "interval": 1, "until": "2027-06-30T10:00:00Z"})
    url = f"/exchange/alice/-FlatUrlSpace-/{calendar}/{review.id}.EML"
    clip = etree.fromstring(box.dav("PROPFIND", url, Depth="0").body).find(".//{urn:schemas:calendar:}clipend")
    assert clip.get(f"{{{B}}}dt") == "dateTime.tz" and clip.text == "2026-12-01T10:00:00.000Z"

    answer = box.search('SELECT "urn:schemas:calendar:clipend" FROM SCOPE(\'shallow traversal of '
                        f'"/exchange/alice/-FlatUrlSpace-/{calendar}/"\') WHERE "DAV:isfolder" = false AND '
                        '"urn:schemas:calendar:clipend" >= CAST("2026-11-15T00:00:00Z" AS \'dateTime\') '
                        'ORDER BY "urn:schemas:calendar:clipend" DESC', path="/exchange/alice/")
    found = {href.rsplit("/", 1)[1].rsplit("-", 1)[0]: r.findtext(".//{urn:schemas:calendar:}clipend")
             for href, r in responses(answer.body).items()}
    assert list(found.items()) == [("Weekly", "4500-08-31T23:59:00.000Z"),  # no end date (MS-OXOCAL)
                                   ("Monthly", "2027-06-30T10:00:00.000Z"), ("Review", "2026-12-01T10:00:00.000Z")]
    refused = box.dav("PROPPATCH", url, update('<i:clipend b:dt="dateTime.tz">2027-01-01T00:00:00Z</i:clipend>'))
    assert statuses(refused.body) == {"{urn:schemas:calendar:}clipend": "HTTP/1.1 403 Forbidden"}


# --- MKCOL with a folder class, MOVE to a permanent URL --------------------------------------------------------


def folder_update(folder_class: str) -> str:
    return update(f"<f:outlookfolderclass>{folder_class}</f:outlookfolderclass>")


def test_mkcol_with_a_folder_class_makes_a_folder_of_that_kind(box):
    inbox = "/exchange/alice/Inbox/"
    for name, folder_class, folder_type in (("People", "IPF.Contact", FolderType.USER_CONTACTS),
                                            ("Dates", "IPF.Appointment", FolderType.USER_CALENDAR),
                                            ("Todo", "IPF.Task", FolderType.USER_TASKS),
                                            ("Stickies", "IPF.StickyNote", FolderType.USER_NOTES),
                                            ("Quick", "IPF.Contact.MOC.QuickContacts", FolderType.USER_CONTACTS)):
        assert box.dav("MKCOL", f"{inbox}{name}/", folder_update(folder_class)).status_int == 201
        assert box.store.folder_by_path(box.alice, f"Inbox/{name}").folder_type == folder_type
    top = box.dav("MKCOL", "/exchange/alice/Birthdays/", folder_update("IPF.Appointment"))
    assert top.status_int == 201
    assert box.store.folder_by_path(box.alice, "Birthdays").folder_type == FolderType.USER_CALENDAR
    # A mail folder under Calendar, where MKCOL without a body makes a calendar.
    assert box.dav("MKCOL", "/exchange/alice/Calendar/Mail/", folder_update("IPF.Note")).status_int == 201
    assert box.dav("MKCOL", "/exchange/alice/Calendar/Plain/").status_int == 201
    assert box.store.folder_by_path(box.alice, "Calendar/Mail").folder_type == FolderType.USER_MAIL
    assert box.store.folder_by_path(box.alice, "Calendar/Plain").folder_type == FolderType.USER_CALENDAR
    listed = responses(box.dav("PROPFIND", f"{inbox}People/", Depth="0").body)
    assert prop(listed[f"{inbox}People/"], "f:outlookfolderclass") == "IPF.Contact"


def test_mkcol_refuses_other_properties_unknown_classes_and_other_bodies(box):
    assert box.dav("MKCOL", "/exchange/alice/A/", folder_update("IPF.Unknown")).status_int == 409
    assert box.dav("MKCOL", "/exchange/alice/B/", update("<a:displayname>C</a:displayname>")).status_int == 403
    assert box.dav("MKCOL", "/exchange/alice/C/", "<a:mkcol xmlns:a='DAV:'/>").status_int == 415
    assert box.dav("MKCOL", "/exchange/alice/D/", "not xml").status_int == 400
    assert box.dav("MKCOL", "/exchange/alice/Inbox/", folder_update("IPF.Contact")).status_int == 405
    assert box.dav("MKCOL", "/exchange/alice/Nowhere/E/", folder_update("IPF.Contact")).status_int == 409


def test_move_into_a_folder_named_by_its_permanent_url(box):
    item = box.deliver("Move me")
    deleted = box.folder(FolderType.DELETED_ITEMS)
    source = f"/exchange/alice/-FlatUrlSpace-/{item.folder_id}/{item.id}.EML"
    moved = box.dav("MOVE", source, Destination=f"http://127.0.0.1:8080/exchange/alice/-FlatUrlSpace-/{deleted.id}/")
    assert moved.status_int in (201, 204)
    assert moved.headers["Location"].startswith("/exchange/alice/Deleted%20Items/Move%20me-")
    [there] = box.store.list_items(box.alice, deleted.id)
    assert there.subject == "Move me" and box.dav("GET", source).status_int == 404
    copied = box.dav("COPY", moved.headers["Location"],
                     Destination=f"/exchange/alice/-FlatUrlSpace-/{box.folder(FolderType.DRAFTS).id}/")
    assert copied.status_int in (201, 204) and copied.headers["Location"].startswith("/exchange/alice/Drafts/")
    assert box.dav("MOVE", moved.headers["Location"],
                   Destination="/exchange/alice/-FlatUrlSpace-/999999/").status_int == 409
