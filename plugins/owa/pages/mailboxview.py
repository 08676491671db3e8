"""One page request against one mailbox: who asks, which mailbox, and how to link inside it.

OWA 2003 pages live at the mailbox's WebDAV URLs (``/exchange/alice/Inbox/``)
and pick the view with a ``Cmd`` parameter, so a page link and a WebDAV href
name the same folder or item. The mailbox is opened exactly as davex.dll
opens it (:mod:`plugins.owa.namespace`): the vdir's SMTP domain, the owner of
``<segment>@<domain>``, and only the owner gets in (403 otherwise).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from host.directory import User
from host.errors import ERROR_PATH_NOT_FOUND, HttpError
from host.request import Request
from plugins.owa import forms
from plugins.owa.mailbox import Folder, FolderType, Item, MailboxStore
from plugins.owa.mailboxes import ensure_mailbox
from plugins.owa.namespace import MailboxNamespace, check_access, mailbox_owner, quote_segment, served_domain
from plugins.owa.pages import canary, rendering

# The light client's folder list: the default mail folders first, in OWA's order.
_NAVIGATION_ORDER = (FolderType.INBOX, FolderType.CALENDAR, FolderType.CONTACTS, FolderType.TASKS,
                     FolderType.NOTES, FolderType.DRAFTS, FolderType.SENT_ITEMS, FolderType.DELETED_ITEMS)
LOGOFF_URL = "/exchweb/bin/auth/owalogoff.dll"


@dataclass
class MailboxView:
    req: Request
    owner: User
    mailbox_id: str
    namespace: MailboxNamespace

    @classmethod
    def open(cls, req: Request, segment: str) -> MailboxView:
        domain = served_domain(req.environ.get("APPL_PHYSICAL_PATH") or "")
        if domain is None:
            raise HttpError(404, 0, ERROR_PATH_NOT_FOUND,
                            detail="This virtual directory's Path serves no mailbox store.")
        owner = mailbox_owner(req.service, domain, segment)
        check_access(req.environ, owner)
        mailbox_id = ensure_mailbox(req.service, owner)
        base = quote(req.script_name.rstrip("/"), safe="/") + "/" + quote_segment(segment)
        return cls(req, owner, mailbox_id, MailboxNamespace(req.service.mailstore, mailbox_id, base))

    @property
    def store(self) -> MailboxStore:
        return self.namespace.store

    # -- links ---------------------------------------------------------------------

    def mailbox_url(self, **query: object) -> str:
        return self.namespace.href(collection=True) + _query(query)

    def folder_url(self, folder: Folder, **query: object) -> str:
        return self.namespace.folder_href(folder) + _query(query)

    def item_url(self, item: Item, **query: object) -> str:
        return self.namespace.item_href(item) + _query(query)

    def default_folder(self, folder_type: FolderType) -> Folder:
        return self.store.default_folder(self.mailbox_id, folder_type)

    # -- pages ------------------------------------------------------------------------

    def render(self, template: str, *, status: int = 200, **context):
        """A page inside the mailbox frame: folder list, toolbar, the user's name."""
        return rendering.render(template, status=status, view=self, owner=self.owner,
                                navigation=self.navigation(), canary=canary.token(self.req),
                                forms_session=self.req.identity.auth_type == forms.AUTH_TYPE,
                                logoff_url=LOGOFF_URL, **context)

    def navigation(self) -> list[tuple[Folder, str, int]]:
        """(folder, link, depth) for the folder list, default folders first."""
        top = self.namespace.children(None, hidden=False)
        rank = {t: n for n, t in enumerate(_NAVIGATION_ORDER)}
        top.sort(key=lambda f: (rank.get(f.folder_type, len(rank)), f.display_name.casefold()))
        entries = []
        for folder in top:
            entries.append((folder, self.folder_url(folder), 0))
            for child in self.namespace.descendants(folder, hidden=False):
                depth = len(self.namespace.path_of(child)) - 1
                entries.append((child, self.folder_url(child), depth))
        return entries


def _query(query: dict[str, object]) -> str:
    present = {k: v for k, v in query.items() if v is not None}
    return "?" + urlencode(present) if present else ""
