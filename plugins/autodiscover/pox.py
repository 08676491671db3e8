"""Plain-old-XML Autodiscover: reading a request and the framework's own errors (600, 601).

The Autodiscover framework reads the request, picks the provider named by
``AcceptableResponseSchema`` and lets it answer; a request it cannot read is
error 600, a schema no provider serves is 601 (MS-ASCMD 2.2.3.64). Those two
come back as HTTP 200 with an ``Error`` directly under a ``Response`` in the
common response namespace, with ``Time`` and ``Id`` attributes (MS-ASCMD
2.2.3.63).
"""
from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

from lxml import etree

RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
MOBILESYNC_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
MOBILESYNC_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
OUTLOOK_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
OUTLOOK_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
REQUEST_NAMESPACES = (MOBILESYNC_REQUEST_NS, OUTLOOK_REQUEST_NS)

INVALID_REQUEST = 600
NO_PROVIDER = 601
# The texts Exchange's framework sends with them.
FRAMEWORK_MESSAGES = {INVALID_REQUEST: "Invalid Request", NO_PROVIDER: "Provider is not available"}

# Requests are untrusted input: no entities, no DTD, no network.
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class InvalidRequest(Exception):
    """The body is not an Autodiscover request (error 600); the text goes to DebugData."""


@dataclass(frozen=True)
class AutodiscoverRequest:
    """What a POX request asks: whose settings, in which response schema."""

    email: str
    schema: str
    legacy_dn: str = ""  # Outlook only; wins over the address when present (MS-OXDSCLI 3.2.5)


def parse_request(body: bytes) -> AutodiscoverRequest:
    """Read ``<Autodiscover><Request>`` in either request namespace.

    :raises InvalidRequest: malformed XML, another root, or no AcceptableResponseSchema.
    """
    if not body.strip():
        raise InvalidRequest("The request has no body; Autodiscover takes a POST with an XML request.")
    try:
        root = etree.fromstring(body, PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidRequest(f"The request is not well-formed XML: {exc}") from None
    namespace = etree.QName(root).namespace
    if etree.QName(root).localname != "Autodiscover" or namespace not in REQUEST_NAMESPACES:
        raise InvalidRequest(f"The root element is {root.tag}, not Autodiscover in a request schema namespace.")
    request = root.find(f"{{{namespace}}}Request")
    if request is None:
        raise InvalidRequest("The Autodiscover element has no Request child.")

    def text(name: str) -> str:
        return (request.findtext(f"{{{namespace}}}{name}") or "").strip()

    schema = text("AcceptableResponseSchema")
    if not schema:
        raise InvalidRequest("The request has no AcceptableResponseSchema.")
    return AutodiscoverRequest(email=text("EMailAddress"), schema=schema, legacy_dn=text("LegacyDN"))


def server_id(computer_name: str) -> int:
    """The ``Id`` attribute: an unsigned number naming the answering server (MS-ASCMD 2.2.3.63)."""
    return zlib.crc32(computer_name.upper().encode())


def error_time(now: dt.datetime) -> str:
    """The ``Time`` attribute: time of day with seven fractional digits (MS-ASCMD 2.2.3.63)."""
    return now.strftime("%H:%M:%S.%f") + "0"


def add_timed_error(parent: etree._Element, namespace: str, code: int, message: str, debug: str,
                    computer_name: str, now: dt.datetime) -> None:
    """``<Error Time=.. Id=..><ErrorCode/><Message/><DebugData/></Error>`` under ``parent``."""
    error = etree.SubElement(parent, f"{{{namespace}}}Error", Time=error_time(now), Id=str(server_id(computer_name)))
    etree.SubElement(error, f"{{{namespace}}}ErrorCode").text = str(code)
    etree.SubElement(error, f"{{{namespace}}}Message").text = message
    etree.SubElement(error, f"{{{namespace}}}DebugData").text = debug or None


def framework_error(code: int, debug: str, computer_name: str, now: dt.datetime) -> bytes:
    """The 600 or 601 answer, whatever schema the client asked for."""
    root = etree.Element(f"{{{RESPONSE_NS}}}Autodiscover", nsmap={None: RESPONSE_NS})
    response = etree.SubElement(root, f"{{{RESPONSE_NS}}}Response")
    add_timed_error(response, RESPONSE_NS, code, FRAMEWORK_MESSAGES[code], debug, computer_name, now)
    return serialize(root)


def response_root(provider_namespace: str) -> tuple[etree._Element, etree._Element]:
    """``<Autodiscover>`` in the common namespace holding a ``<Response>`` in the provider's."""
    root = etree.Element(f"{{{RESPONSE_NS}}}Autodiscover", nsmap={None: RESPONSE_NS})
    response = etree.SubElement(root, f"{{{provider_namespace}}}Response", nsmap={None: provider_namespace})
    return root, response


def serialize(root: etree._Element) -> bytes:
    """UTF-8 with the declaration Exchange writes (double quotes, lower-case encoding name)."""
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + etree.tostring(root, encoding="utf-8", pretty_print=True)
