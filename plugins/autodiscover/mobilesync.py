"""The mobilesync provider: the ActiveSync URL for a device (MS-ASCMD 2.2.2.1, elements 2.2.3.*).

Element order follows MS-ASCMD's response examples (section 4.2):
``Response`` holds ``Culture``, ``User`` (``DisplayName``, ``EMailAddress``)
and ``Action``; ``Action`` holds ``Settings/Server`` (``Type``, ``Url``,
``Name``), a ``Redirect`` address, or an ``Error`` (``Status``, ``Message``,
``DebugData``).
"""
from __future__ import annotations

from lxml import etree

from plugins.autodiscover.pox import MOBILESYNC_RESPONSE_NS as NS
from plugins.autodiscover.pox import response_root, serialize
from plugins.autodiscover.publishing import PublishedUrls
from plugins.autodiscover.recipients import Elsewhere, Mailbox, Recipient

CULTURE = "en:us"  # the spelling MS-ASCMD's examples and Exchange use
PROTOCOL_ERROR = 2  # MS-ASCMD 2.2.3.177.1, the only failure status the schema defines
SERVER_TYPE = "MobileSync"


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    element.text = text
    return element


def mobilesync_response(recipient: Recipient, requested: str, activesync: PublishedUrls | None,
                        no_activesync_reason: str) -> bytes:
    """The answer for ``recipient``.

    :param requested: the address the client asked with.
    :param activesync: the ActiveSync vdir's URLs, None when no vdir runs MASSYNC.
    :param no_activesync_reason: DebugData for that case.
    """
    root, response = response_root(NS)
    _sub(response, "Culture", CULTURE)
    user = _sub(response, "User")
    if isinstance(recipient, (Mailbox, Elsewhere)) and recipient.user is not None:
        _sub(user, "DisplayName", recipient.user.display_name)
        _sub(user, "EMailAddress", recipient.user.primary_smtp)
    else:
        _sub(user, "EMailAddress", requested)
    action = _sub(response, "Action")
    if isinstance(recipient, Elsewhere):
        # MS-ASCMD 2.2.3.147: the device starts over with the domain of this address.
        _sub(action, "Redirect", recipient.address)
    elif isinstance(recipient, Mailbox) and activesync is not None:
        server = _sub(_sub(action, "Settings"), "Server")
        _sub(server, "Type", SERVER_TYPE)
        _sub(server, "Url", activesync.for_devices)
        _sub(server, "Name", activesync.for_devices)  # MS-ASCMD 2.2.3.120.1: the URL, for MobileSync
    else:
        error = _sub(action, "Error")
        _sub(error, "Status", str(PROTOCOL_ERROR))
        if isinstance(recipient, Mailbox):
            _sub(error, "Message", "ActiveSync is not available for this mailbox.")
            _sub(error, "DebugData", no_activesync_reason)
        else:
            _sub(error, "Message", "The e-mail address cannot be found.")
            _sub(error, "DebugData", f"No user in the lab directory has the SMTP address {requested} "
                                     "(python -m host user list).")
    return serialize(root)
