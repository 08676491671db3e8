"""Options: the Out of Office Assistant and Change Password.

Exchange 2003's OWA changed passwords through IIS's IISADMPWD pages against
Active Directory; the lab changes the directory's NT hash, so NTLM, Basic and
the next forms-based logon all see the new password at once. The current
password must be given again, as Windows asks for it.
"""
from __future__ import annotations

from plugins.owa.mailbox import QuotaExceededError
from plugins.owa.pages import canary, outofoffice, rendering
from plugins.owa.pages.mailboxview import MailboxView

NOTICES = {
    "oof": "Your Out of Office settings have been saved.",
    "password": "Your password has been changed.",
}


def show(view: MailboxView, *, error: str | None = None, status: int = 200):
    return view.render("options.html", oof=outofoffice.read(view.store, view.mailbox_id),
                       notice=NOTICES.get(view.req.GET.get("Notice", "")), error=error, status=status,
                       options_url=view.mailbox_url(Cmd="options"))


def save(view: MailboxView):
    canary.check(view.req)
    form = view.req.POST
    section = form.get("Section", "")
    if section == "oof":
        setting = outofoffice.OutOfOffice(form.get("OofState") == "1", form.get("OofReply", ""))
        try:
            outofoffice.write(view.store, view.mailbox_id, setting)
        except QuotaExceededError as refusal:
            return show(view, error=str(refusal), status=507)
    elif section == "password":
        error = _change_password(view, form.get("OldPassword", ""), form.get("NewPassword", ""),
                                 form.get("ConfirmPassword", ""))
        if error:
            return show(view, error=error, status=400)
    else:
        return show(view, error="Nothing to save.", status=400)
    return rendering.redirect(view.mailbox_url(Cmd="options", Notice=section))


def _change_password(view: MailboxView, old: str, new: str, confirm: str) -> str | None:
    directory = view.req.service.directory
    if directory.verify_password(view.owner.logon_name, old) is None:
        return "The current password is not correct."
    if not new:
        return "Type a new password."
    if new != confirm:
        return "The new password and its confirmation do not match."
    directory.set_password(view.owner.logon_name, new)
    return None
