"""One SMTP session: aiosmtpd speaks RFC 5321; this module decides like Exchange 2003's SMTP service.

aiosmtpd enforces MaxMessageSize itself (the SIZE= parameter at MAIL FROM,
RFC 1870 6.1, and the byte count during DATA) and only its reply text differs
from IIS's, so :class:`ExchangeSMTP` rewords those replies. Everything else
is decided by :class:`InboundMail`: recipients by the categorizer (RCPT
time), delivery by the store driver (after DATA), with the store's quota as
the only source of "mailbox full".

Handler hooks run on the binding's event loop thread and call the store
directly: the store serializes writers anyway, and one thread per binding
keeps every store connection on a known thread.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email import policy
from email.utils import format_datetime, make_msgid

from aiosmtpd.smtp import SMTP, Envelope, Session

from host.eventlog import Level
from plugins.smtp import ndr, storedriver
from plugins.smtp.categorizer import RouteKind, categorize
from plugins.smtp.replies import (
    LOCAL_ERROR,
    MESSAGE_TOO_BIG,
    TOO_MANY_RECIPIENTS,
    USER_UNKNOWN,
    Reply,
    relay_denied,
)
from plugins.smtp.settings import VirtualServerSettings
from plugins.smtp.trace import SMTPSVC_VERSION, original_arrival_time, received_header

log = logging.getLogger(__name__)
# The lab's own source: which ID Exchange used for this is not known, so none is borrowed.
EVENT_SOURCE = "EASLab SMTP"
LOCAL_ERROR_EVENT = 2001


class ExchangeSMTP(SMTP):
    """aiosmtpd's protocol with the banner and size replies of IIS 6 SMTP under Exchange 2003."""

    _REWORDED = {
        "552 Error: message size exceeds fixed maximum message size": str(MESSAGE_TOO_BIG),
        "552 Error: Too much mail data": str(MESSAGE_TOO_BIG),
    }

    def __init__(self, handler: InboundMail, settings: VirtualServerSettings,
                 loop: asyncio.AbstractEventLoop) -> None:
        now = format_datetime(datetime.now(timezone.utc).astimezone())
        super().__init__(
            handler,
            data_size_limit=settings.max_message_size,
            hostname=settings.fqdn,
            ident=f"Microsoft ESMTP MAIL Service, Version: {SMTPSVC_VERSION} ready at  {now}",
            decode_data=False,
            loop=loop,
        )
        self.settings = settings

    async def push(self, status) -> None:
        if isinstance(status, str):
            status = self._REWORDED.get(status, status)
        await super().push(status)


class InboundMail:
    """The aiosmtpd handler of a virtual server: decides RCPT and delivers after DATA."""

    def __init__(self, service) -> None:
        self.service = service

    async def handle_EHLO(self, server: ExchangeSMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        responses[0] = f"250-{server.hostname} Hello [{session.peer[0]}]"
        responses.insert(-1, "250-ENHANCEDSTATUSCODES")  # RFC 2034: our replies carry them
        return responses

    async def handle_MAIL(self, server: ExchangeSMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return f"250 2.1.0 {address}....Sender OK"

    async def handle_RCPT(self, server: ExchangeSMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        limit = server.settings.max_recipients
        if limit is not None and len(envelope.rcpt_tos) >= limit:
            return str(TOO_MANY_RECIPIENTS)
        try:
            route = categorize(self.service.directory, address)
            if route.kind is RouteKind.UNKNOWN:
                return str(USER_UNKNOWN)
            if route.kind is RouteKind.REMOTE:
                return str(relay_denied(address))
            refusal = storedriver.check_recipient(self.service, route.user)
        except Exception as exc:  # the outermost frame: a reply and an event, never a traceback
            return self._local_error(f"checking recipient {address}", exc)
        if refusal is not None:
            return str(refusal)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return f"250 2.1.5 {address}"

    async def handle_DATA(self, server: ExchangeSMTP, session: Session, envelope: Envelope) -> str:
        settings = server.settings
        when = datetime.now(timezone.utc).astimezone()
        content = envelope.original_content or b""
        message_id = BytesHeaderParser(policy=policy.compat32).parsebytes(content).get("Message-ID")
        stamp = b""
        if message_id is None:  # IIS SMTP gives a message without one its own
            message_id = make_msgid(domain=settings.fqdn)
            stamp = f"Message-ID: {message_id}\r\n".encode("ascii")
        mime = (received_header(session.host_name, session.peer[0], settings.fqdn, when)
                + original_arrival_time(when) + stamp + content)
        try:
            failures = self._deliver(envelope.rcpt_tos, mime)
            if failures and len(failures) == len(envelope.rcpt_tos):
                return str(failures[0][1])  # nobody got it: refuse the message instead of bouncing it
            ndr.send_ndr(self.service, settings.fqdn, envelope.mail_from or "", mime, failures, when)
        except Exception as exc:
            return self._local_error(f"delivering a message from {envelope.mail_from}", exc)
        return f"250 2.6.0 {message_id} Queued mail for delivery"

    def _deliver(self, recipients: list[str], mime: bytes) -> list[tuple[str, Reply]]:
        """Deliver once per mailbox (two addresses of one user get one copy); return the failures."""
        failures: list[tuple[str, Reply]] = []
        delivered: set[str] = set()
        for address in recipients:
            route = categorize(self.service.directory, address)
            if route.kind is not RouteKind.LOCAL:  # the directory changed since RCPT
                failures.append((address, USER_UNKNOWN))
                continue
            if route.user.logon_name in delivered:
                continue
            refusal = storedriver.deliver(self.service, route.user, mime)
            if refusal is None:
                delivered.add(route.user.logon_name)
            else:
                failures.append((address, refusal))
        return failures

    def _local_error(self, doing: str, exc: Exception) -> str:
        log.exception("SMTP: error while %s", doing)
        self.service.eventlog.write(
            EVENT_SOURCE, LOCAL_ERROR_EVENT, Level.ERROR,
            f"A local error occurred while {doing}: {type(exc).__name__}: {exc}. "
            "The sender was told to try again later (451 4.3.0).")
        return str(LOCAL_ERROR)
