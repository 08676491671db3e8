"""The Email class (MS-ASEMAIL): mail items to ApplicationData, and the changes a device may make.

Devices may change only Read, Flag and (14.0+) Categories of a mail item
(MS-ASEMAIL 3.1.5.3). From 16.0 they also add, edit and send drafts in the
Drafts folder (:mod:`plugins.activesync.items.drafts`); no other mail is added
through Sync.
"""
from __future__ import annotations

from email.utils import getaddresses

from lxml import etree

from plugins.activesync.backend import MailboxAccess, MailboxItem
from plugins.activesync.items.attachments import attach_numbers
from plugins.activesync.items.body import airsyncbase_body, parse_message, v25_email_body, xml_text
from plugins.activesync.items.conversation import conversation_id
from plugins.activesync.items.meetingrequest import meeting_request
from plugins.activesync.items.options import ItemOptions
from plugins.activesync.items.values import eas_datetime
from plugins.activesync.personas import V12_0, V14_0, V16_0, ProtocolVersion
from plugins.activesync.wbxml import element

NAME = "Email"
EM, ASB = "{Email}", "{AirSyncBase}"
_PREFIXES = ("re:", "fw:", "fwd:", "aw:", "wg:")


def _display_to(to: str) -> str:
    names = [name or address for name, address in getaddresses([to]) if name or address]
    return "; ".join(names)


def _thread_topic(subject: str) -> str:
    topic = subject.strip()
    for _ in range(10):  # bounded: "Re: Fw: Re: x"
        lowered = topic.lower()
        prefix = next((p for p in _PREFIXES if lowered.startswith(p)), None)
        if prefix is None:
            break
        topic = topic[len(prefix):].strip()
    return topic


def application_data(item: MailboxItem, backend: MailboxAccess, options: ItemOptions,
                     version: ProtocolVersion) -> etree._Element:
    mime = backend.get_mime(item.server_id)
    parsed = parse_message(mime)
    data = element("AirSync:ApplicationData")
    for tag, value in (("To", item.to), ("Cc", item.cc), ("From", item.sender), ("Subject", item.subject),
                       ("ReplyTo", parsed.reply_to)):
        if value:
            data.append(element(f"Email:{tag}", xml_text(value)))
    data.append(element("Email:DateReceived", eas_datetime(item.date_received)))
    data.append(element("Email:DisplayTo", xml_text(_display_to(item.to))))
    data.append(element("Email:ThreadTopic", xml_text(_thread_topic(item.subject))))
    if version >= V16_0 and parsed.bcc:  # email2:Bcc, 16.0+: a draft's, or a Sent Items copy's
        data.append(element("Email2:Bcc", xml_text(parsed.bcc)))
    data.append(element("Email:Importance", str(item.importance)))
    data.append(element("Email:Read", "1" if item.read else "0"))
    numbers = attach_numbers(item.properties, len(parsed.attachments))
    if version >= V12_0:
        if parsed.attachments:
            attachments = element("AirSyncBase:Attachments")
            for att in parsed.attachments:
                entry = element("AirSyncBase:Attachment", None,
                                element("AirSyncBase:DisplayName", xml_text(att.name)),
                                element("AirSyncBase:FileReference", f"{item.server_id}:{numbers[att.index]}"),
                                element("AirSyncBase:Method", "1"),
                                element("AirSyncBase:EstimatedDataSize", str(att.size)))
                if att.content_id:
                    entry.append(element("AirSyncBase:ContentId", xml_text(att.content_id)))
                if att.inline:
                    entry.append(element("AirSyncBase:IsInline", "1"))
                attachments.append(entry)
            data.append(attachments)
        data.append(airsyncbase_body(options, version, text=parsed.as_text(), html_text=parsed.html,
                                     mime=mime))
    else:
        if parsed.attachments:
            attachments = element("Email:Attachments")
            for att in parsed.attachments:
                attachments.append(element("Email:Attachment", None,
                                           element("Email:AttMethod", "1"),
                                           element("Email:AttSize", str(att.size)),
                                           element("Email:DisplayName", xml_text(att.name)),
                                           element("Email:AttName", f"{item.server_id}:{numbers[att.index]}")))
            data.append(attachments)
        data.extend(v25_email_body(options, parsed.as_text(), mime))
    data.append(element("Email:MessageClass", item.message_class))
    invitation = meeting_request(item.message_class, mime, version)
    if invitation is not None:
        data.append(invitation)
    data.append(element("Email:InternetCPID", "65001"))
    if version >= V12_0:
        flag = element("Email:Flag")
        if item.flag_status:
            flag.append(element("Email:Status", str(item.flag_status)))
            flag.append(element("Email:FlagType", "Follow up"))
        data.append(flag)
        data.append(element("Email:ContentClass", "urn:content-classes:message"))
        data.append(element("AirSyncBase:NativeBodyType", str(parsed.native_type)))
    if version >= V14_0:
        # MS-ASCON: what ItemOperations Move (a conversation move) names the thread by.
        data.append(element("Email2:ConversationId", conversation_id(item.subject)))
    if version >= V16_0:
        data.append(element("Email2:IsDraft", "1" if parsed.unsent else "0"))  # MS-ASEMAIL 2.2.2.42
    return data


def read_and_flag(data: etree._Element) -> tuple[bool | None, int | None]:
    """The Read and Flag Status a device sent (None: not sent). :raises ValueError: a Status not 0, 1 or 2."""
    read = data.find(f"{EM}Read")
    flag = data.find(f"{EM}Flag")
    flag_status = None
    if flag is not None:
        status = flag.find(f"{EM}Status")
        flag_status = int(status.text) if status is not None and (status.text or "").isdigit() else 0
        if flag_status not in (0, 1, 2):
            raise ValueError(f"Flag Status {flag_status} is not 0, 1 or 2")
    return (None if read is None else (read.text or "").strip() == "1"), flag_status


def apply_change(backend: MailboxAccess, server_id: str, data: etree._Element, version: ProtocolVersion) -> None:
    """Read and Flag, the parts of a mail item a device may change."""
    read, flag_status = read_and_flag(data)
    backend.change_item(server_id, read=read, flag_status=flag_status)
