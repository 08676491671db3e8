"""HTTP errors as IIS 6 reports them: status, substatus and Win32 status.

A stage or handler raises :class:`HttpError` where a mechanism fails (the SSL
stage sees a plain-HTTP connection, the authenticator sees a wrong password);
the outermost stage turns it into the page IIS 6 would have sent and tells the
W3C log the three numbers ``sc-status sc-substatus sc-win32-status``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from http import HTTPStatus

# Win32 status codes that IIS writes to sc-win32-status.
ERROR_FILE_NOT_FOUND = 2
ERROR_PATH_NOT_FOUND = 3
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_PARAMETER = 87
ERROR_LOGON_FAILURE = 1326
SEC_E_NO_CREDENTIALS = 2148074254  # 0x8009030E: NTLM's first leg, no credentials yet
SEC_E_INVALID_TOKEN = 2148074248  # 0x80090308: a broken Negotiate/NTLM token


@dataclass(frozen=True)
class ErrorText:
    """What IIS 6's custom error file (e.g. ``403-4.htm``) says."""

    title: str
    reason: str
    advice: tuple[str, ...] = ()


# (status, substatus) -> the wording of IIS 6's error files.
ERROR_TEXTS: dict[tuple[int, int], ErrorText] = {
    (400, 0): ErrorText("Bad Request", "Bad Request"),
    (401, 1): ErrorText(
        "You are not authorized to view this page",
        "Unauthorized: Access is denied due to invalid credentials.",
        ("Verify that you have typed the correct user name and password.",),
    ),
    (401, 2): ErrorText(
        "You are not authorized to view this page",
        "Unauthorized: Access is denied due to server configuration.",
        ("Contact the Web site administrator if you believe you should be able to view this page.",),
    ),
    (401, 3): ErrorText(
        "You are not authorized to view this page",
        "Unauthorized: Access is denied due to an ACL set on the requested resource.",
    ),
    (401, 5): ErrorText(
        "You are not authorized to view this page",
        "Unauthorized: Access is denied due to an ISAPI/CGI application.",
    ),
    (403, 1): ErrorText(
        "The page cannot be displayed",
        "Forbidden: Execute access is denied.",
        ("Contact the Web site administrator if you believe this directory should allow execute access.",),
    ),
    (403, 2): ErrorText(
        "The page cannot be displayed",
        "Forbidden: Read access is denied.",
        ("Contact the Web site administrator if you believe this directory should allow read access.",),
    ),
    (403, 4): ErrorText(
        "The page must be viewed over a secure channel",
        "Forbidden: SSL is required to view this resource.",
        ("Type https:// at the beginning of the address you are attempting to reach and press ENTER.",),
    ),
    (403, 5): ErrorText(
        "The page must be viewed with a high-security Web browser",
        "Forbidden: SSL 128 is required to view this resource.",
        ("Use a browser and connection that support 128-bit encryption.",),
    ),
    (403, 6): ErrorText(
        "You are not authorized to view this page",
        "Forbidden: IP address of the client has been rejected.",
    ),
    (403, 7): ErrorText(
        "The page requires a client certificate",
        "Forbidden: Client certificate required.",
        ("Install a client certificate that the Web server trusts and try again.",),
    ),
    (403, 12): ErrorText(
        "The page requires a valid client certificate",
        "Forbidden: Mapper denied access.",
    ),
    (403, 13): ErrorText(
        "The page requires a valid client certificate",
        "Forbidden: Client certificate revoked.",
    ),
    (403, 14): ErrorText(
        "Directory Listing Denied",
        "Forbidden: Directory listing denied.",
        ("This Virtual Directory does not allow contents to be listed.",),
    ),
    (403, 16): ErrorText(
        "The page requires a valid client certificate",
        "Forbidden: Client certificate is ill-formed or is not trusted by the Web server.",
    ),
    (403, 17): ErrorText(
        "The page requires a valid client certificate",
        "Forbidden: Client certificate has expired or is not yet valid.",
    ),
    (404, 0): ErrorText(
        "The page cannot be found",
        "File or directory not found.",
        ("The page you are looking for might have been removed, had its name changed, "
         "or is temporarily unavailable.",),
    ),
    (404, 2): ErrorText(
        "The page cannot be found",
        "Lockdown policy prevents this request.",
        ("The Web service extension for this request is not allowed on this server.",),
    ),
    (404, 3): ErrorText(
        "The page cannot be found",
        "MIME map policy prevents this request.",
    ),
    (405, 0): ErrorText(
        "The page cannot be displayed",
        "Method not allowed.",
        ("The page you are looking for cannot be displayed because an invalid method "
         "(HTTP verb) was used to attempt access.",),
    ),
    (413, 0): ErrorText("Request Entity Too Large", "Request entity too large."),
    (414, 0): ErrorText("Request-URI Too Long", "Request-URI too long."),
    (500, 0): ErrorText(
        "The page cannot be displayed",
        "Internal server error.",
        ("There is a problem with the page you are trying to reach and it cannot be displayed.",),
    ),
    (501, 0): ErrorText("The page cannot be displayed", "Not implemented."),
    (503, 0): ErrorText("Service Unavailable", "Service unavailable."),
}


@dataclass
class HttpError(Exception):
    """An HTTP error with IIS's substatus and Win32 status.

    :param status: the HTTP status code (403).
    :param substatus: IIS's substatus (4 for 403.4).
    :param win32: the Win32 status written to ``sc-win32-status``.
    :param headers: extra response headers (``WWW-Authenticate`` challenges).
    :param detail: a sentence for the event log and the page's technical part.
    """

    status: int
    substatus: int = 0
    win32: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    detail: str = ""

    def __post_init__(self) -> None:
        super().__init__(f"{self.status}.{self.substatus}: {self.text.reason}")

    @property
    def text(self) -> ErrorText:
        """IIS's wording for this status.substatus (falling back to the status)."""
        return (
            ERROR_TEXTS.get((self.status, self.substatus))
            or ERROR_TEXTS.get((self.status, 0))
            or ErrorText(_phrase(self.status), _phrase(self.status))
        )

    @property
    def phrase(self) -> str:
        """The reason phrase of the status line."""
        return _phrase(self.status)

    @property
    def code(self) -> str:
        """``403.4`` style, as IIS names it; ``404`` when the substatus is 0."""
        return f"{self.status}.{self.substatus}" if self.substatus else str(self.status)

    def page(self) -> str:
        """The HTML body IIS 6 sends for this error."""
        return render_error_page(self)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


_PAGE = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<HTML><HEAD><TITLE>{title}</TITLE>
<META HTTP-EQUIV="Content-Type" Content="text/html; charset=Windows-1252">
<STYLE type="text/css">
  BODY {{ font: 8pt/12pt verdana }}
  H1 {{ font: 13pt/15pt verdana }}
  H2 {{ font: 8pt/12pt verdana }}
  A:link {{ color: red }}
  A:visited {{ color: maroon }}
</STYLE>
</HEAD><BODY><TABLE width=500 border=0 cellspacing=10><TR><TD>

<h1>{title}</h1>
{reason_sentence}
<hr>
<p>Please try the following:</p>
<ul>
{advice}
</ul>
<h2>HTTP Error {code} - {phrase}: {reason}<br>Internet Information Services (IIS)</h2>
<hr>
<p>Technical Information (for support personnel)</p>
<ul>
<li>Go to <a href="http://go.microsoft.com/fwlink/?linkid=8180">Microsoft Product Support Services</a> and perform a title search for the words <b>HTTP</b> and <b>{status}</b>.</li>
<li>Open <b>IIS Help</b>, which is accessible in IIS Manager (inetmgr),
 and search for topics titled <b>About Custom Error Messages</b>.</li>
{detail}</ul>

</TD></TR></TABLE></BODY></HTML>
"""


def render_error_page(error: HttpError) -> str:
    """Fill IIS 6's error page layout for ``error``."""
    text = error.text
    advice = text.advice or ("Contact the Web site administrator.",)
    return _PAGE.format(
        title=html.escape(text.title),
        reason_sentence=html.escape(text.reason),
        advice="\n".join(f"<li>{html.escape(a)}</li>" for a in advice),
        code=error.code,
        phrase=html.escape(_phrase(error.status)),
        reason=html.escape(text.reason.split(": ", 1)[-1]),
        status=error.status,
        detail=f"<li>{html.escape(error.detail)}</li>\n" if error.detail else "",
    )

