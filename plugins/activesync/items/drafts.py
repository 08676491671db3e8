"""Drafts through Sync, protocol 16.0 and 16.1 (MS-ASEMAIL, MS-ASCMD, MS-ASAIRS).

From 16.0 a device may add mail to the Drafts folder, edit it there and send
it. The Add element "cannot be used to add any non-draft email items"
(MS-ASCMD 2.2.3.7.2): an Email Add anywhere else, or before 16.0, stays item
status 6.

* A draft is a message whose MIME says ``X-Unsent: 1``, which Exchange's MIME
  conversion reads as mfUnsent; Sync shows it as ``email2:IsDraft``
  (MS-ASEMAIL 2.2.2.42). Mail moved into Drafts is not a draft.
* The device writes To, Cc, ``email2:Bcc``, Subject, Importance and
  ``airsyncbase:Body`` (Type 1 text or 2 HTML; 4 is a whole MIME message,
  taken as the draft, headers and attachments included). What a Change
  leaves out stays as it was: a Change of Read or Flag alone must not empty
  the draft. An element sent empty clears that header.
* Attachments (MS-ASAIRS 2.2.2.8): ``airsyncbase:Add`` (ClientId,
  DisplayName, Method 1 or 5, Content, optional ContentType, ContentId,
  ContentLocation, IsInline) and ``airsyncbase:Delete`` (the FileReference
  of one of this draft's attachments). The Responses Add or Change then
  carries ``Attachment`` elements of ClientId and FileReference (MS-ASAIRS
  2.2.2.7: "in a Sync command response with a Responses element"; MS-ASCMD
  2.2.3.24: a successful Change gets a response only when it added an
  attachment). The device records those references to delete the
  attachments later (MS-ASAIRS 2.2.2.24.1), so each keeps its number
  (:func:`plugins.activesync.items.attachments.attach_numbers`). An
  attachment the server cannot take faithfully (Method 6, OLE; Content that
  is neither opaque data nor base64) refuses the whole Add or Change with
  status 6 rather than dropping it.
* ``email2:Send`` (MS-ASEMAIL 2.2.2.69) is a child of the Add or Change
  element, not of ApplicationData: the message goes through the mailbox's
  submission as SendMail's does with SaveInSentItems (quotas, the From the
  store stamps, a copy in Sent Items), without X-Unsent, and the draft leaves
  the Drafts folder: after a Change with Send the device gets a Delete for
  it, as for any item gone from the folder. An Add with Send keeps nothing
  there, so its answer has no ServerId (optional under Responses, MS-ASCMD
  2.2.3.166.8). A submission refused (no recipients, ProhibitSendQuota,
  MaxMessageSize) changes nothing and answers status 6. Send anywhere but a
  draft in Drafts is status 6 too, never ignored.
"""
from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from typing import Any

from lxml import etree

from plugins.activesync.backend import MailboxAccess, SubmissionRefused
from plugins.activesync.items import email
from plugins.activesync.items.attachments import ATTACH_NUMBERS, attach_numbers, attachment_parts, split_reference
from plugins.activesync.items.body import UNSENT, parse_message
from plugins.activesync.items.options import BODY_HTML, BODY_MIME, BODY_PLAIN
from plugins.activesync.personas import V16_0, ProtocolVersion
from plugins.activesync.wbxml import element, opaque_bytes
from plugins.owa.mailbox import FlagStatus, NewItem

AS, ASB, EM, EM2 = "{AirSync}", "{AirSyncBase}", "{Email}", "{Email2}"
DRAFTS = 3  # MS-ASCMD 2.2.3.186.3 folder type
# The ApplicationData elements a draft is written with: (element, MIME header).
_HEADERS = ((f"{EM}To", "To"), (f"{EM}Cc", "Cc"), (f"{EM2}Bcc", "Bcc"), (f"{EM}Subject", "Subject"),
            (f"{EM}Importance", "Importance"))
_DRAFT_ELEMENTS = frozenset({tag for tag, _ in _HEADERS} | {f"{ASB}Body", f"{ASB}Attachments"})
_IMPORTANCE = {"0": "low", "1": "normal", "2": "high"}  # email:Importance to the Importance header
_NORMAL, _EMBEDDED = "1", "5"  # MS-ASAIRS 2.2.2.31.1 Method: a file, an attached message


@dataclass(frozen=True)
class Saved:
    """What a device's Add or Change left in its folder."""

    server_id: str | None  # None: a draft sent with Send, gone from the folder
    item: NewItem | None = None  # what an Add stored (it dates the item for the FilterType window)
    attachments: tuple[tuple[str, str], ...] = ()  # (ClientId, FileReference) of each attachment added


def editable(folder_type: int, version: ProtocolVersion) -> bool:
    """Whether devices write drafts in this folder: the Drafts folder, protocol 16.0 and later."""
    return folder_type == DRAFTS and version >= V16_0


def edits(command: etree._Element, folder_type: int, version: ProtocolVersion) -> bool:
    """Whether a Change is a draft's edit or a Send, not only Read, Flag or Categories (MS-ASEMAIL 3.1.5.3).

    Outside Drafts the draft elements stay ignored as before; a Send is never ignored.
    """
    if command.find(f"{EM2}Send") is not None:
        return True
    data = command.find(f"{AS}ApplicationData")
    return editable(folder_type, version) and data is not None and any(c.tag in _DRAFT_ELEMENTS for c in data)


def add(backend: MailboxAccess, folder_id: str, folder_type: int, command: etree._Element,
        version: ProtocolVersion) -> Saved:
    """A device's new draft, stored in Drafts or, with Send, sent at once.

    :raises ValueError: not a draft in Drafts from 16.0 on, an element it cannot take, or a refused submission.
    """
    if not editable(folder_type, version):
        raise ValueError("devices add mail through Sync only as drafts in the Drafts folder, from protocol 16.0 "
                         "(MS-ASCMD 2.2.3.7.2)")
    data = _application_data(command)
    draft, added = _Draft.edited(None, [], data, server_id="")
    if command.find(f"{EM2}Send") is not None:
        _send(backend, draft)
        return Saved(None)
    read, flag = email.read_and_flag(data)
    item = replace(_indexed(draft, {}), read=True if read is None else read, flag_status=FlagStatus(flag or 0))
    server_id = backend.add_item(folder_id, item)
    return Saved(server_id, item, _references(server_id, added))


def change(backend: MailboxAccess, server_id: str, command: etree._Element, folder_type: int,
           version: ProtocolVersion) -> Saved:
    """A device's edit of a draft (and its Read and Flag), or its Send.

    :raises ValueError: not a draft in Drafts from 16.0 on, an element it cannot take, or a refused submission.
    """
    if not editable(folder_type, version):
        raise ValueError("email2:Send and draft edits are for drafts in the Drafts folder, from protocol 16.0 "
                         "(MS-ASEMAIL 2.2.2.69)")
    data = _application_data(command)
    item = backend.get_item(server_id)
    mime = backend.get_mime(server_id)
    parsed = parse_message(mime)
    sending = command.find(f"{EM2}Send") is not None
    if not parsed.unsent:  # mail moved into Drafts: like any other mail, only Read and Flag change
        if sending:
            raise ValueError(f"item {server_id} is not a draft and cannot be sent")
        email.apply_change(backend, server_id, data, version)
        return Saved(server_id)
    numbers = attach_numbers(item.properties, len(parsed.attachments))
    draft, added = _Draft.edited(mime, numbers, data, server_id=server_id)
    if sending:
        _send(backend, draft)
        backend.delete_item(server_id, to_deleted_items=False)  # the copy in Sent Items is what remains
        return Saved(None)
    backend.replace_item(server_id, _indexed(draft, item.properties))
    email.apply_change(backend, server_id, data, version)
    return Saved(server_id, attachments=_references(server_id, added))


def added_attachments(references: list[list[str]] | tuple[tuple[str, str], ...]) -> etree._Element:
    """The ApplicationData of a Responses Add or Change: each added attachment's FileReference by ClientId."""
    return element("AirSync:ApplicationData", None, element("AirSyncBase:Attachments", None, *(
        element("AirSyncBase:Attachment", None, element("AirSyncBase:ClientId", client_id),
                element("AirSyncBase:FileReference", reference))
        for client_id, reference in references)))


def _application_data(command: etree._Element) -> etree._Element:
    data = command.find(f"{AS}ApplicationData")
    if data is None:
        raise ValueError(f"{etree.QName(command).localname} without ApplicationData")
    return data


def _references(server_id: str, added: list[tuple[str, int]]) -> tuple[tuple[str, str], ...]:
    return tuple((client_id, f"{server_id}:{number}") for client_id, number in added)


def _indexed(draft: _Draft, properties: Mapping[str, Any]) -> NewItem:
    """The draft as the store keeps it: its MIME marked unsent, and its attachments' numbers."""
    return replace(NewItem.from_mime(draft.mime(unsent=True)),
                   properties={**properties, ATTACH_NUMBERS: [number for number, _ in draft.attachments]})


def _send(backend: MailboxAccess, draft: _Draft) -> None:
    try:
        backend.send_mail(draft.mime(unsent=False), save_in_sent=True)
    except SubmissionRefused as refusal:
        raise ValueError(f"the draft was not sent: {refusal}") from refusal


@dataclass
class _Draft:
    """A draft taken apart: its headers, text and HTML bodies, and numbered attachments.

    ``source`` is the MIME it came from while nothing was edited: a draft
    only sent, or taken whole from a MIME body, keeps every part as it came
    (a rebuilt message has one text and one HTML body). ``lossy``: the MIME
    has more body parts than a rebuilt message keeps (two text parts, say),
    so an edit is refused rather than dropping them unseen.
    """

    headers: list[tuple[str, str]]
    plain: str | None
    html: str | None
    attachments: list[tuple[int, MIMEPart]]
    source: bytes | None = None
    lossy: bool = False

    @classmethod
    def parse(cls, mime: bytes | None, numbers: list[int]) -> _Draft:
        if not mime:
            return cls([], "", None, [])
        message = BytesParser(policy=policy.default).parsebytes(mime)
        headers = [(name, str(value)) for name, value in message.items()
                   if not name.lower().startswith("content-") and name.lower() not in ("mime-version", UNSENT.lower())]
        parsed = parse_message(mime)
        parts = [found.part for found in attachment_parts(mime, message_policy=policy.default)]
        kept = (parsed.plain is not None) + (parsed.html is not None) + len(parts)
        return cls(headers, parsed.plain, parsed.html, list(zip(numbers, parts)), mime, _leaves(message) > kept)

    def _rebuilt(self) -> None:
        """From now on the message is rebuilt from its parts (see ``lossy``)."""
        if self.lossy:
            raise ValueError("the draft's MIME has body parts an edit through Sync would lose; "
                             "send it whole as a MIME body (Type 4) instead")
        self.source = None

    @classmethod
    def edited(cls, mime: bytes | None, numbers: list[int], data: etree._Element,
               server_id: str) -> tuple[_Draft, list[tuple[str, int]]]:
        """The draft ``mime`` (None: a new one) with the device's elements applied; and (ClientId, number)
        of each attachment added. A MIME body (Type 4) replaces the whole message; its attachments are
        numbered after every number the draft had, so no reference the device holds names one of them."""
        body = data.find(f"{ASB}Body")
        body_type = (body.findtext(f"{ASB}Type") or "").strip() if body is not None else ""
        next_number = max(numbers, default=-1) + 1
        if body_type == str(BODY_MIME):
            mime = _body_bytes(body)
            count = len(parse_message(mime).attachments)
            numbers = list(range(next_number, next_number + count))
        draft = cls.parse(mime, numbers)
        for tag, header in _HEADERS:
            found = data.find(tag)
            if found is not None:
                draft.set_header(header, (found.text or "").strip())
        if body is not None and body_type != str(BODY_MIME):
            draft.set_body(body_type, _body_bytes(body).decode("utf-8"))
        added = draft.edit_attachments(data.find(f"{ASB}Attachments"), server_id)
        return draft, added

    def set_header(self, name: str, value: str) -> None:
        if name == "Importance" and value:
            if value not in _IMPORTANCE:
                raise ValueError(f"Importance {value!r} is not 0, 1 or 2")
            value = _IMPORTANCE[value]
        self.headers = [(n, v) for n, v in self.headers if n.lower() != name.lower()]
        if value:
            self.headers.append((name, value))
        self._rebuilt()

    def set_body(self, body_type: str, data: str) -> None:
        self._rebuilt()
        if body_type == str(BODY_PLAIN):
            self.plain, self.html = data, None
        elif body_type == str(BODY_HTML):
            self.plain, self.html = None, data
        else:  # RTF (3) would need a conversion this server does not have
            raise ValueError(f"a draft's Body Type must be 1, 2 or 4, not {body_type!r}")

    def edit_attachments(self, attachments: etree._Element | None, server_id: str) -> list[tuple[str, int]]:
        """Delete, then Add (MS-ASAIRS 2.2.2.21, 2.2.2.2); (ClientId, number) of each attachment added."""
        if attachments is None:
            return []
        next_number = max((number for number, _ in self.attachments), default=-1) + 1  # none reused here
        for delete in attachments.findall(f"{ASB}Delete"):
            reference = split_reference(delete.findtext(f"{ASB}FileReference") or "")
            numbers = [number for number, _ in self.attachments]
            if reference is None or reference[0] != server_id or reference[1] not in numbers:
                raise ValueError(f"no attachment {delete.findtext(f'{ASB}FileReference')!r} in this draft")
            del self.attachments[numbers.index(reference[1])]
            self._rebuilt()
        added = []
        for add in attachments.findall(f"{ASB}Add"):
            client_id, part = _new_attachment(add)
            self.attachments.append((next_number, part))
            added.append((client_id, next_number))
            next_number += 1
            self._rebuilt()
        return added

    def mime(self, *, unsent: bool) -> bytes:
        """The message, marked X-Unsent when it is stored as a draft, not when it is sent."""
        if self.source is not None:
            kept = BytesParser(policy=policy.compat32).parsebytes(self.source)
            del kept[UNSENT]
            if unsent:
                kept[UNSENT] = "1"
            return kept.as_bytes(policy=policy.compat32.clone(linesep="\r\n"))
        message = EmailMessage(policy=policy.default)
        for name, value in self.headers:
            message[name] = value
        if self.plain is not None and self.html is not None:
            message.set_content(self.plain)
            message.add_alternative(self.html, subtype="html")
        elif self.html is not None:
            message.set_content(self.html, subtype="html")
        else:
            message.set_content(self.plain or "")
        if self.attachments:
            message.make_mixed()
            for _, part in self.attachments:
                message.attach(part)
        if unsent:
            message[UNSENT] = "1"
        return message.as_bytes(policy=policy.SMTP)


def _leaves(part) -> int:
    """The parts of a message that are not containers (an attached message counts as one)."""
    if part.get_content_maintype() == "multipart":
        return sum(_leaves(inner) for inner in part.iter_parts())
    return 1


def _body_bytes(body: etree._Element) -> bytes:
    data = body.find(f"{ASB}Data")
    if data is None:
        return b""
    raw = opaque_bytes(data)
    return raw if raw is not None else (data.text or "").encode("utf-8")


def _required(add: etree._Element, name: str) -> str:
    value = (add.findtext(f"{ASB}{name}") or "").strip()
    if not value:
        raise ValueError(f"an attachment Add without {name} (MS-ASAIRS 2.2.2.2)")
    return value


def _content(add: etree._Element) -> bytes:
    """MS-ASAIRS 2.2.2.15 Content, a byte array: opaque data in WBXML; given as text, base64."""
    content = add.find(f"{ASB}Content")
    if content is None:
        raise ValueError("an attachment Add without Content (MS-ASAIRS 2.2.2.2)")
    raw = opaque_bytes(content)
    if raw is not None:
        return raw
    try:
        return base64.b64decode("".join((content.text or "").split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"attachment Content is neither opaque data nor base64: {exc}") from None


def _new_attachment(add: etree._Element) -> tuple[str, MIMEPart]:
    """The MIME part of one ``airsyncbase:Add``, and its ClientId."""
    client_id, name, method = _required(add, "ClientId"), _required(add, "DisplayName"), _required(add, "Method")
    content = _content(add)
    disposition = "inline" if (add.findtext(f"{ASB}IsInline") or "").strip() == "1" else "attachment"
    content_id = (add.findtext(f"{ASB}ContentId") or "").strip()
    cid = f"<{content_id.strip('<>')}>" if content_id else None
    part = MIMEPart(policy=policy.default)
    if method == _EMBEDDED:
        inner = BytesParser(policy=policy.default).parsebytes(content)
        part.set_content(inner, disposition=disposition, filename=name, cid=cid)
    elif method == _NORMAL:
        content_type = ((add.findtext(f"{ASB}ContentType") or "").strip().lower()
                        or mimetypes.guess_type(name)[0] or "application/octet-stream")
        maintype, slash, subtype = content_type.partition("/")
        if not slash or not maintype or not subtype or maintype in ("multipart", "message"):
            raise ValueError(f"attachment ContentType {content_type!r} is not a single part's type")
        part.set_content(content, maintype=maintype, subtype=subtype.split(";")[0].strip(),
                         disposition=disposition, filename=name, cid=cid)
    else:
        raise ValueError(f"attachment Method {method!r}: only 1 (a file) and 5 (a message) are taken")
    location = (add.findtext(f"{ASB}ContentLocation") or "").strip()
    if location:
        part["Content-Location"] = location
    return client_id, part
