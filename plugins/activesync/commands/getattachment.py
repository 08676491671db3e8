"""GetAttachment (MS-ASCMD 2.2.1.7): one attachment's bytes, named in the query.

``Cmd=GetAttachment&AttachmentName=<ServerId>:<n>`` (the Email:AttName or
AirSyncBase:FileReference that Sync sent); no request body, and the answer
is the attachment itself with its Content-Type. Protocol 2.5, 12.0 and 12.1
only: from 14.0 on attachments are fetched with ItemOperations. An
attachment that is not there (the item was deleted, a bad name) is HTTP 500,
as MS-ASCMD says for a deleted attachment.
"""
from __future__ import annotations

from webob import Response

from plugins.activesync.backend import ItemNotFound
from plugins.activesync.context import CommandContext
from plugins.activesync.errors import EasHttpError
from plugins.activesync.items.attachments import attachment, split_reference
from plugins.activesync.personas import V14_0

NAME = "GetAttachment"
ROOT = "AirSync:Sync"  # no WBXML either way; a body the device should not have sent is refused as Sync's would be


def run(ctx: CommandContext, request) -> Response:
    if ctx.version >= V14_0:
        # No WBXML namespace could carry common status 137 for a bodiless command.
        raise EasHttpError(501, f"{NAME} is not part of protocol version {ctx.version}", log="CommandNotSupported")
    name = ctx.query.parameters.get("AttachmentName", "")
    reference = split_reference(name)
    if reference is None:
        raise EasHttpError(500, f"AttachmentName {name!r} names no attachment", log="InvalidAttachmentName")
    server_id, number = reference
    try:
        item = ctx.backend.get_item(server_id)  # the ServerId must name the item in its folder
        mime = ctx.backend.get_mime(server_id)
    except ItemNotFound:
        raise EasHttpError(500, f"the item of attachment {name!r} does not exist", log="AttachmentNotFound") from None
    found = attachment(mime, number, item.properties)
    if found is None:
        raise EasHttpError(500, f"item {server_id} has no attachment {number}", log="AttachmentNotFound")
    ctx.usage.status = 1
    response = Response(status=200, body=found.data)
    response.headers["Content-Type"] = found.content_type
    return response
