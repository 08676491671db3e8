"""The device's side of mobilesync Autodiscover: the request it posts and what it reads back.

MS-ASCMD 2.2.2.1: the request names the address and the one schema a device
accepts; the answer carries the ActiveSync URL (``Settings/Server`` with
``Type`` MobileSync), a ``Redirect`` address, or an error, either the
provider's (``Action/Error/Status``) or the framework's
(``Response/Error/ErrorCode``, 600 or 601).
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from plugins.autodiscover.pox import MOBILESYNC_REQUEST_NS, MOBILESYNC_RESPONSE_NS, PARSER, RESPONSE_NS, serialize


def mobilesync_request(email: str) -> bytes:
    root = etree.Element(f"{{{MOBILESYNC_REQUEST_NS}}}Autodiscover", nsmap={None: MOBILESYNC_REQUEST_NS})
    request = etree.SubElement(root, f"{{{MOBILESYNC_REQUEST_NS}}}Request")
    etree.SubElement(request, f"{{{MOBILESYNC_REQUEST_NS}}}EMailAddress").text = email
    etree.SubElement(request, f"{{{MOBILESYNC_REQUEST_NS}}}AcceptableResponseSchema").text = MOBILESYNC_RESPONSE_NS
    return serialize(root)


@dataclass(frozen=True)
class MobileSyncAnswer:
    """What a device makes of an answer: exactly one of the three is set."""

    url: str = ""  # the ActiveSync URL
    redirect: str = ""  # start over with this address
    error: str = ""  # "601 Provider is not available", "Status 2: The e-mail address cannot be found. (...)"


def parse_mobilesync_response(body: bytes) -> MobileSyncAnswer:
    """Read an answer.

    :raises ValueError: the body is not an Autodiscover response a device can use.
    """
    try:
        root = etree.fromstring(body, PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    if root.tag != f"{{{RESPONSE_NS}}}Autodiscover":
        raise ValueError(f"the root element is {root.tag}, not Autodiscover")
    framework = root.find(f"{{{RESPONSE_NS}}}Response/{{{RESPONSE_NS}}}Error")
    if framework is not None:
        code = framework.findtext(f"{{{RESPONSE_NS}}}ErrorCode", "")
        message = framework.findtext(f"{{{RESPONSE_NS}}}Message", "")
        return MobileSyncAnswer(error=_with_debug(f"{code} {message}", framework, RESPONSE_NS))
    ns = MOBILESYNC_RESPONSE_NS
    action = root.find(f"{{{ns}}}Response/{{{ns}}}Action")
    if action is None:
        raise ValueError("no mobilesync Response/Action in the answer")
    redirect = action.findtext(f"{{{ns}}}Redirect")
    if redirect:
        return MobileSyncAnswer(redirect=redirect.strip())
    for server in action.iterfind(f"{{{ns}}}Settings/{{{ns}}}Server"):
        if server.findtext(f"{{{ns}}}Type") == "MobileSync" and server.findtext(f"{{{ns}}}Url"):
            return MobileSyncAnswer(url=server.findtext(f"{{{ns}}}Url").strip())
    error = action.find(f"{{{ns}}}Error")
    if error is not None:
        text = f"Status {error.findtext(f'{{{ns}}}Status', '')}: {error.findtext(f'{{{ns}}}Message', '')}"
        return MobileSyncAnswer(error=_with_debug(text, error, ns))
    raise ValueError("the Action holds no MobileSync server, Redirect or Error")


def _with_debug(text: str, error: etree._Element, ns: str) -> str:
    debug = (error.findtext(f"{{{ns}}}DebugData") or "").strip()
    return f"{text} ({debug})" if debug else text
