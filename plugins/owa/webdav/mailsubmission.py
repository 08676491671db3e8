"""Sending mail through the mailbox's submission URI, ``##DavMailSubmissionURI##``.

Exchange 2003 took mail from WebDAV clients in two ways: a PUT of an RFC 822
message to ``/exchange/<mailbox>/##DavMailSubmissionURI##/``, or a MOVE of a
draft there. Either way the store handed it to the transport
(:func:`plugins.owa.submission.submit`), which keeps a copy in Sent Items
unless the request says ``Saveinsent: f``. Refusals keep their meaning:
over ProhibitSendQuota is the store's quota error (507), a message over the
SMTP virtual server's MaxMessageSize is 413, one without recipients 400.
"""
from __future__ import annotations

from wsgidav.dav_error import HTTP_BAD_REQUEST, HTTP_REQUEST_ENTITY_TOO_LARGE, DAVError

from plugins.owa import submission
from plugins.owa.webdav.schemas import parse_boolean


def submit(environ, mailbox_id: str, mime: bytes) -> None:
    """Send ``mime`` from ``mailbox_id`` as the request asks (``Saveinsent``)."""
    save_in_sent = parse_boolean(environ.get("HTTP_SAVEINSENT", "t"))
    try:
        submission.submit(environ["host.service"], mailbox_id, mime, save_in_sent=save_in_sent is not False)
    except submission.MessageTooLargeError as error:
        raise DAVError(HTTP_REQUEST_ENTITY_TOO_LARGE, str(error)) from None
    except submission.SubmissionError as error:
        raise DAVError(HTTP_BAD_REQUEST, str(error)) from None
