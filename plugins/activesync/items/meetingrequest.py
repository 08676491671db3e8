"""``Email:MeetingRequest`` (MS-ASEMAIL 2.2.2.48): what lets a device offer Accept/Tentative/Decline.

Sent with a mail item of class ``IPM.Schedule.Meeting.Request``, built from
the iCalendar part the request carries (:mod:`plugins.activesync.meetings`).
Children in the order of 2.2.2.48; DtStamp, TimeZone and GlobalObjId are
required (16.0 and later: calendar:UID instead of GlobalObjId, and
airsyncbase:Location instead of Location). Times are UTC, so the TimeZone is
the all-zero TIME_ZONE_INFORMATION structure MS-ASDTYPE describes, base64-encoded.
GlobalObjId is the PidLidGlobalObjectId blob of MS-OXOCAL 2.2.1.27: the UID
itself when it is an Outlook id in hex, else the "vCal-Uid" form that
carries an iCalendar UID.
"""
from __future__ import annotations

import base64
import binascii
import struct

from lxml import etree

from plugins.activesync.items.values import eas_datetime
from plugins.activesync.personas import V14_0, V16_0, ProtocolVersion
from plugins.activesync.wbxml import element

MEETING_REQUEST_CLASS = "IPM.Schedule.Meeting.Request"
_UTC_TIME_ZONE = base64.b64encode(bytes(172)).decode("ascii")
# MS-OXOCAL 2.2.1.27: the fixed 16-byte array that starts every global object id.
_GOID_PREFIX = bytes.fromhex("040000008200E00074C5B7101A82E008")


def global_object_id(uid: str) -> bytes:
    try:
        raw = binascii.unhexlify(uid)
        if raw.startswith(_GOID_PREFIX):
            return raw
    except (binascii.Error, ValueError):
        pass
    data = b"vCal-Uid" + struct.pack("<I", 1) + uid.encode("utf-8") + b"\x00"
    # prefix, instance date (0: the whole series), creation time, reserved, size, data
    return _GOID_PREFIX + bytes(4) + bytes(8) + bytes(8) + struct.pack("<I", len(data)) + data


def meeting_request(message_class: str, mime: bytes, version: ProtocolVersion) -> etree._Element | None:
    if not message_class.startswith(MEETING_REQUEST_CLASS):
        return None
    from plugins.activesync.meetings import parse_request

    request = parse_request(mime)
    if request is None:
        return None
    out = element("Email:MeetingRequest", None,
                  element("Email:AllDayEvent", "1" if request.all_day else "0"),
                  element("Email:StartTime", eas_datetime(request.start)),
                  element("Email:DtStamp", eas_datetime(request.start if request.dtstamp is None else request.dtstamp)),
                  element("Email:EndTime", eas_datetime(request.end)),
                  element("Email:InstanceType", "0"))
    if request.location:
        if version >= V16_0:
            out.append(element("AirSyncBase:Location", None, element("AirSyncBase:DisplayName", request.location)))
        else:
            out.append(element("Email:Location", request.location))
    if request.organizer_email:
        organizer = f'"{request.organizer_name}" <{request.organizer_email}>' if request.organizer_name \
            else request.organizer_email
        out.append(element("Email:Organizer", organizer))
    out.append(element("Email:ResponseRequested", "1"))
    out.append(element("Email:Sensitivity", "0"))
    out.append(element("Email:BusyStatus", str(request.busy_status)))
    out.append(element("Email:TimeZone", _UTC_TIME_ZONE))
    if version >= V16_0:
        out.append(element("Calendar:UID", request.uid))
    else:
        out.append(element("Email:GlobalObjId", base64.b64encode(global_object_id(request.uid)).decode("ascii")))
    if version >= V14_0:
        out.append(element("Email:DisallowNewTimeProposal", "0"))
    return out
