"""SendMail (MS-ASCMD 2.2.1.17), and what SmartReply and SmartForward share with it.

Two request forms. Protocol 2.5 to 12.1 post the message itself
(``Content-Type: message/rfc822``) with ``SaveInSent=T`` in the query (or
the base64 query's option bit); 14.0 and later post
``ComposeMail:SendMail`` with ClientId, SaveInSentItems and the MIME as
opaque data. Either way the message goes through the mailbox's submission
(:meth:`MailboxAccess.send_mail`): delivered to lab mailboxes, Pickup for
the rest, a copy in Sent Items when asked.

Success is an empty 200. Failures are common statuses in
``ComposeMail:Status`` (14.0+) or their HTTP equivalents before 14.0:
103 a request without Mime, 107 MIME that does not parse, 115 over
ProhibitSendQuota (HTTP 507), 118 a ClientId already sent, 119 no
recipients, 122 over MaxMessageSize, 113 Sent Items over
ProhibitSendReceiveQuota.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from lxml import etree

from plugins.activesync.backend import ItemNotFound, MessageTooLarge, NoRecipients, SendQuotaExceeded
from plugins.activesync.compose import SEPARATOR, SEPARATOR_2003, Original, add_reply_headers, quote_original
from plugins.activesync.context import CommandContext
from plugins.activesync.errors import CommonStatus
from plugins.activesync.personas import V14_0
from plugins.activesync.wbxml import opaque_bytes

NAME = "SendMail"
ROOT = "ComposeMail:SendMail"
CM = "{ComposeMail}"
CLIENT_IDS = "ComposeClientIds"  # this device's recently sent ClientIds (MS-ASCMD status 118)
CLIENT_ID_MEMORY = 100


def raw_body(ctx: CommandContext, content_type: str) -> bool:
    """The body is the message itself before 14.0, and whenever the device says message/rfc822."""
    return ctx.version < V14_0 or content_type.strip().lower() == "message/rfc822"


@dataclass
class Outgoing:
    """One SendMail, SmartReply or SmartForward request, whichever form it came in."""

    mime: bytes
    save_in_sent: bool
    client_id: str = ""
    replace_mime: bool = False
    folder_id: str = ""
    item_id: str = ""
    long_id: str = ""
    instance_id: str = ""


def parse(ctx: CommandContext, request: etree._Element | bytes | None) -> Outgoing:
    """The request in either form. :raises CommonStatus: 103 when it carries no message."""
    if request is None:
        raise CommonStatus(103, f"the {ctx.query.command} request carries no message")
    if isinstance(request, bytes):
        params = ctx.query.parameters
        return Outgoing(mime=request, save_in_sent=ctx.query.save_in_sent, item_id=params.get("ItemId", ""),
                        folder_id=params.get("CollectionId", ""), long_id=params.get("LongId", ""),
                        instance_id=params.get("Occurrence", ""))
    mime_el = request.find(f"{CM}Mime")
    if mime_el is None:
        raise CommonStatus(103, f"the {ctx.query.command} request has no Mime element")
    data = opaque_bytes(mime_el)
    if data is None:  # some devices send the message as an inline string
        data = (mime_el.text or "").encode("utf-8")
    source = request.find(f"{CM}Source")

    def source_text(name: str) -> str:
        return (source.findtext(f"{CM}{name}") or "").strip() if source is not None else ""

    return Outgoing(mime=data, save_in_sent=request.find(f"{CM}SaveInSentItems") is not None,
                    client_id=(request.findtext(f"{CM}ClientId") or "").strip(),
                    replace_mime=request.find(f"{CM}ReplaceMime") is not None,
                    folder_id=source_text("FolderId"), item_id=source_text("ItemId"),
                    long_id=source_text("LongId"), instance_id=source_text("InstanceId"))


def check_mime(mime: bytes) -> None:
    """:raises CommonStatus: 107 InvalidMIME for a body that is no message at all."""
    if not mime.strip():
        raise CommonStatus(107, "the message is empty")
    if not BytesParser(policy=policy.compat32).parsebytes(mime, headersonly=True).keys():
        raise CommonStatus(107, "the message has no RFC 5322 header")


def _sent_ids(ctx: CommandContext) -> list[str]:
    raw = ctx.get_state(CLIENT_IDS)
    return json.loads(raw) if raw else []


def check_client_id(ctx: CommandContext, client_id: str) -> None:
    """MS-ASCMD 2.2.3.28.1: a ClientId this device already sent is status 118, MessagePreviouslySent."""
    if client_id and client_id in _sent_ids(ctx):
        raise CommonStatus(118, f"ClientId {client_id!r} was sent before")


def submit(ctx: CommandContext, outgoing: Outgoing, mime: bytes) -> None:
    """Send through the mailbox; refusals become the statuses of the module docstring."""
    try:
        ctx.backend.send_mail(mime, save_in_sent=outgoing.save_in_sent)
    except SendQuotaExceeded as exc:
        raise CommonStatus(115, str(exc)) from None
    except NoRecipients as exc:
        raise CommonStatus(119, str(exc)) from None
    except MessageTooLarge as exc:
        raise CommonStatus(122, str(exc)) from None
    if outgoing.client_id:
        ids = [i for i in _sent_ids(ctx) if i != outgoing.client_id]
        ctx.put_state(CLIENT_IDS, json.dumps((ids + [outgoing.client_id])[-CLIENT_ID_MEMORY:]).encode())


def run(ctx: CommandContext, request: etree._Element | bytes | None) -> None:
    outgoing = parse(ctx, request)
    check_mime(outgoing.mime)
    check_client_id(ctx, outgoing.client_id)
    submit(ctx, outgoing, outgoing.mime)
    ctx.usage.status = 1
    return None


# -- SmartReply and SmartForward (MS-ASCMD 2.2.1.19, 2.2.1.20) ------------------


def _original(ctx: CommandContext, outgoing: Outgoing):
    """The item replied to or forwarded: Source (14.0+) or the ItemId/CollectionId query parameters.

    :raises CommonStatus: 150 ItemNotFound (HTTP 500 before 14.0), 103 when nothing names it.
    """
    server_id = outgoing.long_id or outgoing.item_id
    if not server_id:
        raise CommonStatus(103, f"the {ctx.query.command} request names no source item")
    try:
        item = ctx.backend.get_item(server_id)
    except ItemNotFound:
        raise CommonStatus(150, f"the source item {server_id!r} does not exist") from None
    if outgoing.folder_id and not outgoing.long_id and item.folder_id != outgoing.folder_id:
        raise CommonStatus(150, f"the source item {server_id!r} is not in folder {outgoing.folder_id!r}")
    return item


def send_smart(ctx: CommandContext, request: etree._Element | bytes | None, *, forward: bool) -> None:
    outgoing = parse(ctx, request)
    check_mime(outgoing.mime)
    check_client_id(ctx, outgoing.client_id)
    item = _original(ctx, outgoing)
    original_mime = ctx.backend.get_mime(item.server_id)
    mime = outgoing.mime
    if not outgoing.replace_mime:
        original = Original(original_mime, item.sender, item.to, item.cc, item.subject,
                            item.date_sent or item.date_received)
        separator = SEPARATOR_2003 if ctx.persona.name.startswith("Exchange 2003") else SEPARATOR
        mime = quote_original(mime, original, forward=forward, separator=separator)
    if not forward:
        mime = add_reply_headers(mime, original_mime)
    submit(ctx, outgoing, mime)
    ctx.usage.status = 1
