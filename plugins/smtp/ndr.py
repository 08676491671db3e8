"""Non-delivery reports: what the sender gets when mail accepted for delivery could not be delivered.

Once a message is accepted (after DATA, or on submission from a mailbox)
a failure can no longer be an SMTP reply; Exchange 2003 sent the sender an
NDR instead: a ``multipart/report`` (RFC 6522) with its familiar text, a
``message/delivery-status`` part (RFC 3464) and the original headers. An NDR
goes back through the same routing (a lab sender's Inbox, else Pickup) and is
never sent for a message with the null sender, so bounces cannot loop.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.message import Message
from email.parser import BytesHeaderParser
from email import policy
from email.utils import format_datetime, formataddr, make_msgid

from plugins.smtp import storedriver
from plugins.smtp.categorizer import RouteKind, categorize
from plugins.smtp.pickup import write_pickup
from plugins.smtp.replies import Reply

NULL_SENDER = "<>"
_REASONS = {
    "5.1.1": "The e-mail account does not exist at the organization this message was sent to. Check the "
             "e-mail address, or contact the recipient directly to find out the correct address.",
    "5.2.2": "The recipient's mailbox is full and can't accept messages now. Please try resending this "
             "message later, or contact the recipient directly.",
    "5.3.4": "The message is larger than the limit the receiving server accepts. Send a smaller message "
             "or remove attachments.",
}


def build_ndr(fqdn: str, sender: str, original: bytes, failures: Sequence[tuple[str, Reply]],
              when: datetime) -> bytes:
    """The NDR for ``failures`` (address, reply) of ``original``, addressed to ``sender``."""
    headers = BytesHeaderParser(policy=policy.default).parsebytes(original)
    subject, sent = _header(headers, "Subject"), _header(headers, "Date")
    domain = fqdn.partition(".")[2] or fqdn
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = formataddr(("System Administrator", f"postmaster@{domain}"))
    report["To"] = sender
    report["Date"] = format_datetime(when)
    title = f"Undeliverable: {subject}"
    report["Subject"] = title if title.isascii() else Header(title, "utf-8").encode()
    report["Message-ID"] = make_msgid(domain=fqdn)
    lines = ["Your message did not reach some or all of the intended recipients.", "",
             f"      Subject:\t{subject}", f"      Sent:\t{sent}", "",
             "The following recipient(s) could not be reached:", ""]
    for address, reply in failures:
        lines += [f"      {address} on {format_datetime(when)}",
                  f"            {_REASONS.get(reply.status, reply.text)}",
                  f"            <{fqdn} #{reply.status}>", ""]
    readable = Charset("utf-8")
    readable.body_encoding = QP  # quoted-printable: the text stays legible in the raw message
    report.attach(MIMEText("\r\n".join(lines), "plain", readable))
    report.attach(_delivery_status(fqdn, failures, when))
    head = original.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    report.attach(MIMEText(head.decode("ascii", "replace") + "\r\n", "rfc822-headers", "us-ascii"))
    return report.as_bytes(policy=policy.SMTP)


def _header(headers, name: str) -> str:
    """A header's decoded text; one the parser cannot read is left out of the report, not fatal."""
    try:
        return str(headers.get(name, ""))
    except (ValueError, LookupError, TypeError, AttributeError):
        return ""


def _delivery_status(fqdn: str, failures: Sequence[tuple[str, Reply]], when: datetime) -> Message:
    per_message = Message()
    per_message["Reporting-MTA"] = f"dns;{fqdn}"
    per_message["Arrival-Date"] = format_datetime(when)
    blocks = [per_message]
    for address, reply in failures:
        block = Message()
        block["Final-Recipient"] = f"rfc822;{address}"
        block["Action"] = "failed"
        block["Status"] = reply.status
        block["Diagnostic-Code"] = f"smtp;{reply}"
        blocks.append(block)
    part = Message()
    part["Content-Type"] = "message/delivery-status"
    part.set_payload(blocks)
    return part


def send_ndr(service, fqdn: str, sender: str, original: bytes, failures: Sequence[tuple[str, Reply]],
             when: datetime) -> None:
    """Build the NDR and route it like any message: the sender's Inbox, else Pickup."""
    if not failures or sender.strip("<> ") == "":
        return
    ndr = build_ndr(fqdn, sender, original, failures, when)
    route = categorize(service.directory, sender)
    if route.kind is RouteKind.LOCAL:
        storedriver.deliver(service, route.user, ndr)
    elif route.kind is RouteKind.REMOTE:
        write_pickup(service.data_dir, NULL_SENDER, [sender], ndr)
