"""SmartReply (MS-ASCMD 2.2.1.20): send the device's reply with the original quoted by the server.

The request forms, statuses and submission are SendMail's
(:mod:`plugins.activesync.commands.sendmail`); the original is named by
``Source`` (14.0+: FolderId and ItemId, or LongId from a Search) or by the
``ItemId``/``CollectionId`` query parameters (2.5-12.1). A source that is
gone is status 150 ItemNotFound (HTTP 500 before 14.0). The reply gets
In-Reply-To and References from the original.
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync.commands import sendmail
from plugins.activesync.context import CommandContext

NAME = "SmartReply"
ROOT = "ComposeMail:SmartReply"
raw_body = sendmail.raw_body


def run(ctx: CommandContext, request: etree._Element | bytes | None) -> None:
    sendmail.send_smart(ctx, request, forward=False)
