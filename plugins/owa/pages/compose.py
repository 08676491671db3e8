"""New messages, replies and forwards: what the compose form starts with, and the MIME it sends.

Recipients are typed as OWA's light client took them: separated by ``;``,
either SMTP addresses (``Carol <carol@fabrikam.com>``) or names that the
directory resolves, as "Check Names" did (``bob``, ``CONTOSO\\bob``, a UPN,
or a display name such as ``Bob Kelly``). The message leaves through
:func:`plugins.owa.submission.submit`, the same transport as WebDAV
submission and SendMail, which stamps Date and Message-ID and keeps the copy
in Sent Items.
"""
from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, getaddresses

from plugins.owa.mailbox import Item
from plugins.owa.pages import message

ACTIONS = ("new", "reply", "replyall", "forward")


class UnresolvedName(ValueError):
    """A recipient that is neither an SMTP address nor a name the directory knows."""

    def __init__(self, name: str) -> None:
        super().__init__(f'The name "{name}" could not be resolved: type an e-mail address, or a user '
                         "name the directory knows.")
        self.name = name


@dataclass(frozen=True)
class Draft:
    """The compose form's fields; ``original`` is the item replied to or forwarded."""

    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    action: str = "new"
    original: int | None = None


def answer_draft(action: str, item: Item, view: message.MessageView, owner_addresses: list[str]) -> Draft:
    """Reply, Reply to All or Forward, prefilled as OWA did (RE:/FW:, the original quoted below)."""
    if action == "forward":
        return Draft(subject=_prefixed("FW: ", view.subject), body=_quoted(item, view), action=action,
                     original=item.id)
    mine = {a.casefold() for a in owner_addresses}
    sender = [formataddr(pair) for pair in getaddresses([view.sender]) if pair[1]]
    to, cc = sender, []
    if action == "replyall":
        to = sender + _others(view.to, mine | {a.casefold() for _, a in getaddresses(sender)})
        cc = _others(view.cc, mine)
    return Draft(to="; ".join(to), cc="; ".join(cc), subject=_prefixed("RE: ", view.subject),
                 body=_quoted(item, view), action=action, original=item.id)


def resolve(directory, text: str) -> list[str]:
    """The recipients typed in one field, as header-ready ``Name <address>`` strings."""
    recipients = []
    for chunk in (c.strip() for c in text.replace("\n", ";").split(";")):
        if not chunk:
            continue
        if "@" in chunk and not chunk.startswith("@"):
            recipients += [formataddr(pair) for pair in getaddresses([chunk]) if "@" in pair[1]]
            continue
        user = directory.find(chunk) or _by_display_name(directory, chunk)
        if user is None or not user.account_enabled:
            raise UnresolvedName(chunk)
        recipients.append(formataddr((user.display_name, user.primary_smtp)))
    return recipients


def build_mime(sender_name: str, sender_address: str, draft: Draft, recipients: dict[str, list[str]], *,
               original_mime: bytes | None = None) -> bytes:
    """The message to submit: text body, reply threading headers, a forward's attachments."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = formataddr((sender_name, sender_address))
    for header in ("To", "Cc", "Bcc"):
        if recipients.get(header):
            msg[header] = ", ".join(recipients[header])
    msg["Subject"] = draft.subject
    original = message.parse(original_mime) if original_mime is not None else None
    if original is not None and draft.action in ("reply", "replyall"):
        message_id = str(original.get("Message-ID", "")).strip()
        if message_id:
            msg["In-Reply-To"] = message_id
            msg["References"] = " ".join(filter(None, [str(original.get("References", "")).strip(), message_id]))
    msg.set_content(draft.body)
    if original is not None and draft.action == "forward":
        for name, part in message.attachment_parts(original):
            if part.get_content_type() == "message/rfc822":
                msg.add_attachment(part.get_payload(0), filename=name)
            else:
                msg.add_attachment(part.get_payload(decode=True) or b"", maintype=part.get_content_maintype(),
                                   subtype=part.get_content_subtype(), filename=name)
    return msg.as_bytes()


def _quoted(item: Item, view: message.MessageView) -> str:
    sent = item.date_sent or item.date_received
    header = [f"From: {view.sender}", f"Sent: {sent.astimezone().strftime('%A, %B %d, %Y %H:%M')}",
              f"To: {view.to}"]
    if view.cc:
        header.append(f"Cc: {view.cc}")
    header.append(f"Subject: {view.subject}")
    return "\n\n-----Original Message-----\n" + "\n".join(header) + "\n\n" + view.text


def _prefixed(prefix: str, subject: str) -> str:
    return subject if subject.casefold().startswith(prefix.casefold()) else prefix + subject


def _others(field: str, excluded: set[str]) -> list[str]:
    return [formataddr(pair) for pair in getaddresses([field]) if pair[1] and pair[1].casefold() not in excluded]


def _by_display_name(directory, name: str):
    wanted = name.casefold()
    matches = [u for u in directory.users() if u.display_name.casefold() == wanted]
    return matches[0] if len(matches) == 1 else None
