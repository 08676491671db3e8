"""Meeting requests as MeetingResponse needs them: the iCalendar inside, the calendar item, the reply.

A meeting request in the store is mail whose ``text/calendar`` part has
METHOD:REQUEST (class ``IPM.Schedule.Meeting.Request``, given on delivery).
Its VEVENT becomes an appointment in the Calendar folder with the store's
calendar keys (``start``, ``end``, ``uid``, ``organizer``, ``attendees``,
``busy_status``, ``meeting_status``...), and an answer to the organizer is
a METHOD:REPLY message (RFC 5546 3.2.3) that delivery files as
``IPM.Schedule.Meeting.Resp.Pos/Tent/Neg``.

Times with a TZID are read with that zone when Python knows it (IANA
names); a Windows zone name is read as UTC, a known simplification.
"""
from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugins.activesync.items.values import compact_datetime, parse_datetime
from plugins.owa.mailbox import NewItem

ACCEPT, TENTATIVE, DECLINE = 1, 2, 3
PARTSTAT = {ACCEPT: "ACCEPTED", TENTATIVE: "TENTATIVE", DECLINE: "DECLINED"}
SUBJECT_PREFIX = {ACCEPT: "Accepted", TENTATIVE: "Tentative", DECLINE: "Declined"}
# MS-ASCAL AttendeeStatus of the user after answering; BusyStatus of the appointment.
ATTENDEE_STATUS = {ACCEPT: 3, TENTATIVE: 2, DECLINE: 4}
MEETING_RECEIVED = 3  # MS-ASCAL MeetingStatus: a meeting the user was invited to


@dataclass
class Property:
    name: str
    params: dict[str, str]
    value: str


@dataclass
class MeetingRequest:
    uid: str
    summary: str
    start: datetime
    end: datetime
    all_day: bool = False
    location: str = ""
    description: str = ""
    sequence: int = 0
    organizer_name: str = ""
    organizer_email: str = ""
    attendees: list[dict] = field(default_factory=list)
    busy_status: int = 2
    dtstamp: datetime | None = None


def _unfold(text: str) -> list[str]:
    """RFC 5545 3.1: a line starting with a space or tab continues the previous one."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def _split_params(head: str) -> tuple[str, dict[str, str]]:
    parts, current, quoted = [], "", False
    for char in head:
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    params = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        params[key.strip().upper()] = value.strip().strip('"')
    return parts[0].strip().upper(), params


def _property(line: str) -> Property:
    quoted, index = False, 0
    for index, char in enumerate(line):  # the first colon outside quotes ends the name and parameters
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            break
    name, params = _split_params(line[:index])
    return Property(name, params, line[index + 1:])


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace("\\N", "\n").replace("\\,", ",").replace("\\;", ";").replace(
        "\\\\", "\\")


def _moment(prop: Property) -> tuple[datetime, bool]:
    """(UTC time, whether it is a date, i.e. all day)."""
    value = prop.value.strip()
    if prop.params.get("VALUE", "").upper() == "DATE" or (len(value) == 8 and value.isdigit()):
        day = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc), True
    moment = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
    if value.endswith("Z"):
        return moment.replace(tzinfo=timezone.utc), False
    try:
        zone = ZoneInfo(prop.params["TZID"]) if "TZID" in prop.params else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        zone = timezone.utc
    return moment.replace(tzinfo=zone).astimezone(timezone.utc), False


def _address(value: str) -> str:
    return value[7:] if value.lower().startswith("mailto:") else value


def calendar_part(mime: bytes) -> str | None:
    msg = BytesParser(policy=policy.default).parsebytes(mime)
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            try:
                return part.get_content()
            except (LookupError, ValueError):
                return None
    return None


def parse_request(mime: bytes) -> MeetingRequest | None:
    """The first VEVENT of the message's iCalendar part, or None when there is none to answer."""
    text = calendar_part(mime)
    if text is None:
        return None
    props: list[Property] = []
    inside = False
    for line in _unfold(text if isinstance(text, str) else text.decode("utf-8", "replace")):
        prop = _property(line)
        if prop.name == "BEGIN" and prop.value.strip().upper() == "VEVENT":
            inside = True
        elif prop.name == "END" and prop.value.strip().upper() == "VEVENT":
            break
        elif inside:
            props.append(prop)
    by_name = {p.name: p for p in props}
    if "UID" not in by_name or "DTSTART" not in by_name:
        return None
    try:
        start, all_day = _moment(by_name["DTSTART"])
        if "DTEND" in by_name:
            end, _ = _moment(by_name["DTEND"])
        else:
            end = start + (timedelta(days=1) if all_day else timedelta(hours=1))
    except ValueError:
        return None
    def text(name: str) -> str:
        return _unescape(by_name[name].value) if name in by_name else ""

    organizer = by_name.get("ORGANIZER")
    sequence = text("SEQUENCE").strip()
    request = MeetingRequest(
        uid=by_name["UID"].value.strip(), summary=text("SUMMARY"), start=start, end=end, all_day=all_day,
        location=text("LOCATION"), description=text("DESCRIPTION"),
        sequence=int(sequence) if sequence.isdigit() else 0,
        organizer_name=organizer.params.get("CN", "") if organizer else "",
        organizer_email=_address(organizer.value) if organizer else "",
    )
    if "DTSTAMP" in by_name:
        try:
            request.dtstamp = _moment(by_name["DTSTAMP"])[0]
        except ValueError:
            pass
    busy = by_name.get("X-MICROSOFT-CDO-BUSYSTATUS")
    if busy is not None:
        request.busy_status = {"FREE": 0, "TENTATIVE": 1, "BUSY": 2, "OOF": 3}.get(busy.value.strip().upper(), 2)
    for prop in props:
        if prop.name == "ATTENDEE":
            role = prop.params.get("ROLE", "REQ-PARTICIPANT").upper()
            request.attendees.append({"email": _address(prop.value), "name": prop.params.get("CN", ""),
                                      "status": 5, "type": 2 if role == "OPT-PARTICIPANT" else 1})
    return request


def calendar_item(request: MeetingRequest, response: int, user_address: str) -> NewItem:
    """The appointment an accepted or tentative answer leaves in the Calendar folder."""
    attendees = []
    for attendee in request.attendees:
        entry = dict(attendee)
        if entry["email"].casefold() == user_address.casefold():
            entry["status"] = ATTENDEE_STATUS[response]
        attendees.append(entry)
    properties = {
        "start": request.start.isoformat(), "end": request.end.isoformat(), "all_day": request.all_day,
        "uid": request.uid, "location": request.location, "body": request.description,
        "organizer": {"name": request.organizer_name, "email": request.organizer_email},
        "attendees": attendees, "meeting_status": MEETING_RECEIVED,
        "busy_status": 1 if response == TENTATIVE else request.busy_status,
        "dtstamp": datetime.now(timezone.utc).isoformat(), "response_requested": True,
        "sequence": request.sequence,
    }
    return NewItem(message_class="IPM.Appointment", subject=request.summary, properties=properties, read=True)


def request_from_calendar(properties: dict, subject: str) -> MeetingRequest | None:
    """A meeting answered from the Calendar folder (MS-ASCMD 2.2.1.11): the appointment's own data."""
    try:
        start, end = parse_datetime(str(properties["start"])), parse_datetime(str(properties["end"]))
    except (KeyError, ValueError):
        return None
    organizer = properties.get("organizer") or {}
    return MeetingRequest(
        uid=str(properties.get("uid") or ""), summary=subject, start=start, end=end,
        all_day=bool(properties.get("all_day")), location=str(properties.get("location") or ""),
        sequence=int(properties.get("sequence") or 0), organizer_name=str(organizer.get("name") or ""),
        organizer_email=str(organizer.get("email") or ""), attendees=list(properties.get("attendees") or []),
        busy_status=int(properties.get("busy_status", 2) or 0))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines of at most 75 octets, continued with a space."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    pieces, current = [], b""
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > 74:
            pieces.append(current.decode("utf-8"))
            current = b""
        current += encoded
    pieces.append(current.decode("utf-8"))
    return "\r\n ".join(pieces)


def reply_mime(request: MeetingRequest, response: int, user_name: str, user_address: str,
               comment: str = "") -> bytes:
    """The METHOD:REPLY message to the organizer (RFC 5546 3.2.3)."""
    stamp = compact_datetime(datetime.now(timezone.utc))
    if request.all_day:
        when = (f"DTSTART;VALUE=DATE:{request.start:%Y%m%d}", f"DTEND;VALUE=DATE:{request.end:%Y%m%d}")
    else:
        when = (f"DTSTART:{compact_datetime(request.start)}", f"DTEND:{compact_datetime(request.end)}")
    subject = f"{SUBJECT_PREFIX[response]}: {request.summary}"
    lines = [
        "BEGIN:VCALENDAR", "PRODID:-//easlab//MASSYNC//EN", "VERSION:2.0", "METHOD:REPLY", "BEGIN:VEVENT",
        f'ATTENDEE;PARTSTAT={PARTSTAT[response]};CN="{user_name}":MAILTO:{user_address}',
        f'ORGANIZER;CN="{request.organizer_name}":MAILTO:{request.organizer_email}',
        f"UID:{request.uid}", f"SEQUENCE:{request.sequence}", f"DTSTAMP:{stamp}", *when,
        f"SUMMARY:{_escape(subject)}", "END:VEVENT", "END:VCALENDAR",
    ]
    calendar = "\r\n".join(_fold(line) for line in lines) + "\r\n"
    msg = EmailMessage()
    msg["From"] = formataddr((user_name, user_address))
    msg["To"] = formataddr((request.organizer_name, request.organizer_email))
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@{user_address.rpartition('@')[2] or 'localhost'}>"
    msg.set_content(comment or f"{SUBJECT_PREFIX[response]}: {request.summary}")
    msg.add_alternative(f"<html><body>{html.escape(comment or subject)}</body></html>", subtype="html")
    msg.add_alternative(calendar, subtype="calendar", params={"method": "REPLY"})
    return msg.as_bytes(policy=policy.SMTP)
