"""SendMail in its WBXML form (MS-ASCMD 2.2.1.17); 2.5 and 12.x post raw MIME instead."""
from __future__ import annotations

from lxml import etree

from .tree import flag, leaf, node


def build_send_mail(client_id: str, mime: bytes, *, save_in_sent: bool = True) -> etree._Element:
    """ClientId, SaveInSentItems, Mime; Mime is a byte array sent as WBXML opaque data."""
    return node("ComposeMail:SendMail",
                leaf("ComposeMail:ClientId", client_id),
                flag("ComposeMail:SaveInSentItems", save_in_sent),
                leaf("ComposeMail:Mime", mime))
