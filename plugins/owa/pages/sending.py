"""The compose form and the Send button.

Send goes through the transport like every other submission, so its refusals
are the transport's: no recipients, a message over the SMTP virtual server's
MaxMessageSize, a mailbox over ProhibitSendQuota. The form then comes back
with what the user typed and the reason in words, as OWA showed it.
"""
from __future__ import annotations

from plugins.owa import submission
from plugins.owa.mailbox import FolderType, Item, NoSuchItem, QuotaExceededError
from plugins.owa.pages import canary, compose, message, rendering
from plugins.owa.pages.mailboxview import MailboxView

_HEADERS = ("To", "Cc", "Bcc")


def compose_new(view: MailboxView):
    return _form(view, compose.Draft())


def compose_answer(view: MailboxView, item: Item, action: str):
    mail = message.read(view.store.get_mime(view.mailbox_id, item.id))
    return _form(view, compose.answer_draft(action, item, mail, view.owner.smtp_addresses()))


def send(view: MailboxView):
    canary.check(view.req)
    form = view.req.POST
    action = form.get("Action", "new")
    original = form.get("Original", "")
    draft = compose.Draft(to=form.get("To", ""), cc=form.get("Cc", ""), bcc=form.get("Bcc", ""),
                          subject=form.get("Subject", ""), body=form.get("Body", ""),
                          action=action if action in compose.ACTIONS else "new",
                          original=int(original) if original.isdigit() else None)
    try:
        recipients = {h: compose.resolve(view.req.service.directory, getattr(draft, h.lower())) for h in _HEADERS}
        original_mime = (view.store.get_mime(view.mailbox_id, draft.original)
                         if draft.original is not None else None)
        mime = compose.build_mime(view.owner.display_name, view.owner.primary_smtp, draft, recipients,
                                  original_mime=original_mime)
        submission.submit(view.req.service, view.mailbox_id, mime)
    except (compose.UnresolvedName, submission.SubmissionError, QuotaExceededError, NoSuchItem) as refusal:
        return _form(view, draft, error=str(refusal), status=400)
    return rendering.redirect(view.folder_url(view.default_folder(FolderType.INBOX), Notice="sent"))


def _form(view: MailboxView, draft: compose.Draft, *, error: str | None = None, status: int = 200):
    return view.render("compose.html", draft=draft, error=error, status=status,
                       send_url=view.mailbox_url(Cmd="send"))
