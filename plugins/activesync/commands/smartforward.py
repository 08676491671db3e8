"""SmartForward (MS-ASCMD 2.2.1.19): forward an item with its body and attachments added by the server.

As SmartReply (:mod:`plugins.activesync.commands.smartreply`), except that
the original's attachments travel with the forward unless ``ReplaceMime``
says the device sent everything itself (MS-ASCMD 2.2.3.148).
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync.commands import sendmail
from plugins.activesync.context import CommandContext

NAME = "SmartForward"
ROOT = "ComposeMail:SmartForward"
raw_body = sendmail.raw_body


def run(ctx: CommandContext, request: etree._Element | bytes | None) -> None:
    sendmail.send_smart(ctx, request, forward=True)
