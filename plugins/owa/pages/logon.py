"""The forms-based logon page (owalogon.asp) and the page after logging off.

The form has the fields Exchange 2003's had, because clients scripted them
(Evolution's connector posted them directly): ``destination`` (where to go
after logging on), ``flags``, ``username``, ``password`` and ``trusted``
(0 for "Public or shared computer", 4 for "Private computer"). It posts to
owaauth.dll, which checks the password and sets the session cookies.
"""
from __future__ import annotations

from urllib.parse import quote

from plugins.owa import forms
from plugins.owa.pages import rendering

LOGON_ACTION = "/exchweb/bin/auth/owaauth.dll"
REASONS = {
    forms.REASON_LOGON_FAILED: "You could not be logged on to Outlook Web Access. Make sure your domain\\user "
                               "name and password are correct, and then try again.",
    forms.REASON_TIMED_OUT: "Your session ended because Outlook Web Access was not used for a while. "
                            "Log on again to continue.",
}


def logon_page(req, destination: str, reason: int):
    """The logon form; it says how long each kind of computer may stay idle."""
    return rendering.render("logon.html", destination=destination, reason=REASONS.get(reason), action=LOGON_ACTION,
                            secure=forms.is_secure(req),
                            public_minutes=round(forms.idle_timeout(req.config, trusted=False) / 60),
                            private_minutes=round(forms.idle_timeout(req.config, trusted=True) / 60))


def logged_off_page(destination: str):
    logon_url = f"{forms.LOGON_PAGE}?url={quote(destination, safe='')}&reason={forms.REASON_NONE}"
    return rendering.render("loggedoff.html", logon_url=logon_url)
