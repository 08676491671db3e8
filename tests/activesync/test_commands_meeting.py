"""MeetingResponse: a meeting request in the Inbox becomes (or stops being) an appointment."""
from __future__ import annotations

from email import policy
from email.message import EmailMessage

from plugins.owa.mailbox import FolderType
from plugins.owa.mailboxes import ensure_mailbox

from .easclient import el
from .test_commands_mail import _ready

MR = "{MeetingResponse}"


def _invitation(uid: str = "040000008200E00074C5B7101A82E008-lab-1", summary: str = "Design review") -> bytes:
    calendar = "\r\n".join([
        "BEGIN:VCALENDAR", "METHOD:REQUEST", "PRODID:-//test//EN", "VERSION:2.0", "BEGIN:VEVENT",
        'ORGANIZER;CN="Bob Kelly":MAILTO:bob@contoso.com',
        'ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN="Alice Wood":MAILTO:alice@contoso.com',
        f"UID:{uid}", "SEQUENCE:0", "DTSTAMP:20261120T090000Z", "DTSTART:20261203T140000Z",
        "DTEND:20261203T150000Z", f"SUMMARY:{summary}", "LOCATION:Room 4",
        "DESCRIPTION:Agenda:\\nthe new design", "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
        "END:VEVENT", "END:VCALENDAR", ""])
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Bob Kelly <bob@contoso.com>", "alice@contoso.com", summary
    msg.set_content("You are invited.")
    msg.add_alternative(calendar, subtype="calendar", params={"method": "REQUEST"})
    return msg.as_bytes(policy=policy.SMTP)


def _respond(answer: str, **target):
    request = el("MeetingResponse:Request", None, el("MeetingResponse:UserResponse", answer))
    if "collection_id" in target:
        request.append(el("MeetingResponse:CollectionId", target["collection_id"]))
    if "request_id" in target:
        request.append(el("MeetingResponse:RequestId", target["request_id"]))
    if "long_id" in target:
        request.append(el("Search:LongId", target["long_id"]))
    for extra in target.get("extra", ()):
        request.append(extra)
    return el("MeetingResponse:MeetingResponse", None, request)


def _calendar(lab, mailbox=None):
    mailbox = mailbox or lab.mailbox
    folder = lab.store.default_folder(mailbox, FolderType.CALENDAR).id
    return lab.store.list_items(mailbox, folder, limit=200)


def _inbox_subjects(lab, mailbox):
    folder = lab.store.default_folder(mailbox, FolderType.INBOX).id
    return [(i.subject, i.message_class) for i in lab.store.list_items(mailbox, folder, limit=200)]


def test_accepting_puts_the_meeting_in_the_calendar_and_tells_nobody_before_16(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    invitation = lab.store.deliver(lab.mailbox, _invitation())
    assert invitation.message_class == "IPM.Schedule.Meeting.Request"
    device, folders = _ready(lab, "14.1")
    inbox = device.folder_id(folders, 2)
    answer = device.post("MeetingResponse", _respond("1", collection_id=inbox, request_id=f"{inbox}:{invitation.id}"))
    result = answer.find("{MeetingResponse}Result")
    assert [c.tag.split("}")[1] for c in result] == ["RequestId", "Status", "CalendarId"]
    assert result.findtext(f"{MR}Status") == "1"
    calendar_id = result.findtext(f"{MR}CalendarId")
    appointment = lab.store.get_item(lab.mailbox, int(calendar_id.split(":")[1]))
    assert appointment.subject == "Design review"
    props = appointment.properties
    assert props["uid"] == "040000008200E00074C5B7101A82E008-lab-1" and props["location"] == "Room 4"
    assert props["start"].startswith("2026-12-03T14:00") and props["busy_status"] == 2
    assert props["organizer"] == {"name": "Bob Kelly", "email": "bob@contoso.com"}
    assert [a["status"] for a in props["attendees"] if a["email"] == "alice@contoso.com"] == [3]
    assert ("Design review", "IPM.Schedule.Meeting.Request") not in _inbox_subjects(lab, lab.mailbox)
    bob = ensure_mailbox(lab.service, lab.service.directory.find("bob"))
    assert not any(c.startswith("IPM.Schedule.Meeting.Resp") for _, c in _inbox_subjects(lab, bob))

    calendar = device.folder_id(folders, 8)
    key = device.sync(calendar, "0").text("as:Collections/as:Collection/as:SyncKey")
    synced = device.sync(calendar, key)
    assert calendar_id in [a.findtext("{AirSync}ServerId") for a in synced.findall(".//as:Commands/as:Add")]


def test_tentative_then_decline_from_the_calendar(eas_lab):
    lab = eas_lab("Exchange 2016")
    invitation = lab.store.deliver(lab.mailbox, _invitation(uid="lab-2"))
    device, folders = _ready(lab, "16.1")
    inbox, calendar = device.folder_id(folders, 2), device.folder_id(folders, 8)
    answer = device.post("MeetingResponse", _respond("2", collection_id=inbox, request_id=f"{inbox}:{invitation.id}"))
    calendar_id = answer.find("{MeetingResponse}Result").findtext(f"{MR}CalendarId")
    assert lab.store.get_item(lab.mailbox, int(calendar_id.split(":")[1])).properties["busy_status"] == 1
    declined = device.post("MeetingResponse", _respond("3", collection_id=calendar, request_id=calendar_id))
    result = declined.find("{MeetingResponse}Result")
    assert result.findtext(f"{MR}Status") == "1" and result.find(f"{MR}CalendarId") is None
    assert not any(i.properties.get("uid") == "lab-2" for i in _calendar(lab))


def test_sixteen_sends_the_answer_when_asked(eas_lab):
    lab = eas_lab("Exchange 2016")
    invitation = lab.store.deliver(lab.mailbox, _invitation(uid="lab-3", summary="Budget sync"))
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    send = el("MeetingResponse:SendResponse", None, el("AirSyncBase:Body", None, el("AirSyncBase:Type", "1"),
                                                       el("AirSyncBase:Data", "See you there.")))
    answer = device.post("MeetingResponse", _respond("1", collection_id=inbox, request_id=f"{inbox}:{invitation.id}",
                                                     extra=[send]))
    assert answer.find("{MeetingResponse}Result").findtext(f"{MR}Status") == "1"
    bob = ensure_mailbox(lab.service, lab.service.directory.find("bob"))
    assert ("Accepted: Budget sync", "IPM.Schedule.Meeting.Resp.Pos") in _inbox_subjects(lab, bob)


def test_invalid_meeting_requests_are_status_2(eas_lab):
    lab = eas_lab("Exchange 2016")
    plain = lab.deliver("Just mail")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    answer = device.post("MeetingResponse", el("MeetingResponse:MeetingResponse", None,
                                               _respond("1", collection_id=inbox, request_id=f"{inbox}:{plain}")[0],
                                               _respond("1", collection_id=inbox, request_id=f"{inbox}:99999")[0],
                                               _respond("9", collection_id=inbox, request_id=f"{inbox}:{plain}")[0]))
    assert [r.findtext(f"{MR}Status") for r in answer.findall("{MeetingResponse}Result")] == ["2", "2", "2"]


def test_sync_shows_the_invitation_as_a_meeting_request(eas_lab):
    import base64

    from plugins.activesync.items.meetingrequest import global_object_id

    lab = eas_lab("Exchange 2016")
    lab.store.deliver(lab.mailbox, _invitation(uid="lab-4"))
    for version, device_id in (("14.1", "MEETING141"), ("16.1", "MEETING161")):
        device, folders = _ready(lab, version, device_id=device_id)
        inbox = device.folder_id(folders, 2)
        key = device.sync(inbox, "0").text("as:Collections/as:Collection/as:SyncKey")
        added = device.sync(inbox, key).find(".//as:Commands/as:Add")
        request = added.find(".//{Email}MeetingRequest")
        assert request.findtext("{Email}StartTime") == "2026-12-03T14:00:00.000Z"
        assert request.findtext("{Email}EndTime") == "2026-12-03T15:00:00.000Z"
        assert request.findtext("{Email}Organizer") == '"Bob Kelly" <bob@contoso.com>'
        assert len(base64.b64decode(request.findtext("{Email}TimeZone"))) == 172
        if version == "14.1":
            assert request.findtext("{Email}Location") == "Room 4"
            assert base64.b64decode(request.findtext("{Email}GlobalObjId")) == global_object_id("lab-4")
        else:
            assert request.findtext("{AirSyncBase}Location/{AirSyncBase}DisplayName") == "Room 4"
            assert request.findtext("{Calendar}UID") == "lab-4"
