"""MeetingResponse (MS-ASCMD 2.2.1.11): accept, tentatively accept or decline a meeting request.

Each Request names a meeting request in a mail folder (CollectionId and
RequestId, or a Search LongId) or the appointment in a Calendar folder.
Accepting or tentatively accepting puts the meeting in the Calendar folder
(updating it when it is there already, by UID) and answers its ServerId as
CalendarId; declining removes it. The request message then
goes to Deleted Items, as Exchange moved it after a response.

Who tells the organizer (2.2.1.11): in 2.5-14.1 the device sends its own
response mail with SendMail; in 16.0 and 16.1 the server sends a
METHOD:REPLY message when the request has ``SendResponse`` (with its
``airsyncbase:Body`` as the text), through the mailbox's submission.

Result children: RequestId, Status, CalendarId. Statuses (2.2.3.177.9):
1 success, 2 invalid meeting request (not found, not a meeting request, a
UserResponse other than 1-3), 3 the mailbox refused (e.g. full), 4 server
error.
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync import items, meetings
from plugins.activesync.backend import BackendError, FolderNotFound, ItemNotFound, MailboxFull, SubmissionRefused
from plugins.activesync.context import CommandContext
from plugins.activesync.errors import CommonStatus
from plugins.activesync.personas import V16_0
from plugins.activesync.wbxml import element

NAME = "MeetingResponse"
ROOT = "MeetingResponse:MeetingResponse"
MR, SE, ASB = "{MeetingResponse}", "{Search}", "{AirSyncBase}"
SUCCESS, INVALID_REQUEST, MAILBOX_ERROR, SERVER_ERROR = 1, 2, 3, 4
CALENDAR_TYPE, DELETED_ITEMS_TYPE = 8, 4


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _find_appointment(ctx: CommandContext, calendar_id: str, uid: str) -> str | None:
    if not uid:
        return None
    for server_id in ctx.backend.list_item_ids(calendar_id):
        try:
            if str(ctx.backend.get_item(server_id).properties.get("uid") or "") == uid:
                return server_id
        except ItemNotFound:
            continue
    return None


def _answer(ctx: CommandContext, request: etree._Element) -> tuple[str, str]:
    """Carry out one Request; returns (the RequestId to echo, CalendarId or "")."""
    response_text = (request.findtext(f"{MR}UserResponse") or "").strip()
    request_id = (request.findtext(f"{MR}RequestId") or "").strip()
    collection_id = (request.findtext(f"{MR}CollectionId") or "").strip()
    long_id = (request.findtext(f"{SE}LongId") or "").strip()
    if response_text not in ("1", "2", "3") or not (long_id or request_id):
        raise _Refused(INVALID_REQUEST)
    answer = int(response_text)
    backend = ctx.backend
    try:
        item = backend.get_item(long_id or request_id)
        folder = backend.folder(item.folder_id)
    except (ItemNotFound, FolderNotFound):
        raise _Refused(INVALID_REQUEST) from None
    if not long_id and collection_id and collection_id != item.folder_id:
        raise _Refused(INVALID_REQUEST)
    from_calendar = items.CLASS_BY_FOLDER_TYPE.get(folder.type) == items.CALENDAR
    if from_calendar:
        meeting = meetings.request_from_calendar(dict(item.properties), item.subject)
    elif item.message_class.startswith("IPM.Schedule.Meeting.Request"):
        meeting = meetings.parse_request(backend.get_mime(item.server_id))
    else:
        meeting = None
    if meeting is None:
        raise _Refused(INVALID_REQUEST)
    calendar = backend.default_folder(CALENDAR_TYPE).server_id
    existing = item.server_id if from_calendar else _find_appointment(ctx, calendar, meeting.uid)
    calendar_id = ""
    if answer == meetings.DECLINE:
        if existing is not None:
            backend.delete_item(existing, to_deleted_items=True)
    else:
        appointment = meetings.calendar_item(meeting, answer, ctx.user.primary_smtp)
        if existing is None:
            calendar_id = backend.add_item(calendar, appointment)
        else:
            properties = dict(backend.get_item(existing).properties)
            properties.update(appointment.properties)
            backend.change_item(existing, properties=properties)
            calendar_id = existing
    if not from_calendar:
        backend.delete_item(item.server_id, to_deleted_items=folder.type != DELETED_ITEMS_TYPE)
    send = request.find(f"{MR}SendResponse")
    if ctx.version >= V16_0 and send is not None and meeting.organizer_email:
        comment = send.findtext(f"{ASB}Body/{ASB}Data") or ""
        backend.send_mail(meetings.reply_mime(meeting, answer, ctx.user.display_name, ctx.user.primary_smtp,
                                              comment), save_in_sent=True)
    return request_id, calendar_id


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    requests = request.findall(f"{MR}Request") if request is not None else []
    if not requests:
        raise CommonStatus(103, "MeetingResponse without a Request element")
    out = element(ROOT)
    worst = SUCCESS
    for entry in requests:
        request_id = (entry.findtext(f"{MR}RequestId") or "").strip()
        calendar_id = ""
        try:
            request_id, calendar_id = _answer(ctx, entry)
            status = SUCCESS
        except _Refused as refusal:
            status = refusal.status
        except (MailboxFull, SubmissionRefused):
            status = MAILBOX_ERROR
        except BackendError:
            status = SERVER_ERROR
        result = element("MeetingResponse:Result")
        if request_id:
            result.append(element("MeetingResponse:RequestId", request_id))
        result.append(element("MeetingResponse:Status", str(status)))
        if calendar_id:
            result.append(element("MeetingResponse:CalendarId", calendar_id))
        out.append(result)
        worst = status if status != SUCCESS else worst
    ctx.usage.status = worst
    return out
