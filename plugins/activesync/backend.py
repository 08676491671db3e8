"""How the command layer reaches a mailbox: the :class:`MailboxAccess` interface.

Commands never touch the store directly. Everything they read or write, sync
state and partnerships included, goes through a ``MailboxAccess``, so the
same Sync code runs over the store (``DirectStoreAccess``, Exchange 2007 and
later talked to the store over MAPI) and over the Exchange 2003 hop (HTTP with
NTLM to ``/Exchange`` on the user's home server, WebDAV). :func:`open_backend`
is the one place that chooses.

Identifiers are EAS strings: a folder's ServerId, an item's ServerId
(``folder:item``), and ``"0"`` for the top of the hierarchy. A *mark* is an
opaque, growing integer naming a moment in the mailbox's change history.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

from plugins.owa.mailbox import Item, NewItem, clip_end

TOP_LEVEL = "0"


class BackendError(Exception):
    """The mailbox could not be reached or refused the request (a 500 for the device)."""


class FolderNotFound(BackendError):
    pass


class ItemNotFound(BackendError):
    pass


class FolderNameTaken(BackendError):
    pass


class SpecialFolder(BackendError):
    """A default folder: it cannot be renamed, moved or deleted."""


class MailboxFull(BackendError):
    """The mailbox is over ProhibitSendReceiveQuota: the write (state included) was refused."""


class SubmissionRefused(BackendError):
    """The mailbox would not send the message; nothing was delivered or saved."""


class SendQuotaExceeded(SubmissionRefused):
    """The sender's mailbox is over ProhibitSendQuota (MS-ASCMD common status 115)."""


class MessageTooLarge(SubmissionRefused):
    """Over the SMTP virtual server's MaxMessageSize."""


class NoRecipients(SubmissionRefused):
    """The message names nobody in To, Cc or Bcc (MS-ASCMD common status 119)."""


@dataclass(frozen=True)
class FolderInfo:
    server_id: str
    parent_id: str
    display_name: str
    type: int  # MS-ASCMD 2.2.3.186.3


@dataclass(frozen=True)
class HierarchyDelta:
    added: tuple[FolderInfo, ...]
    changed: tuple[FolderInfo, ...]
    deleted: tuple[str, ...]
    mark: int


@dataclass(frozen=True)
class ItemDelta:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    deleted: tuple[str, ...]
    mark: int


@dataclass(frozen=True)
class MailboxItem:
    """One item as the converters need it: index fields plus structured properties."""

    server_id: str
    folder_id: str
    message_class: str
    subject: str
    sender: str
    to: str
    cc: str
    date_sent: datetime | None
    date_received: datetime
    read: bool
    flag_status: int
    importance: int
    has_attachments: bool
    size: int
    properties: Mapping[str, Any] = field(default_factory=dict)


def window_date(item: MailboxItem | Item | NewItem, by_end: bool) -> datetime:
    """The moment a FilterType window dates an item by (MS-ASCMD 2.2.3.68.2; 2.2.3.67 in older editions).

    Mail is dated by DateReceived. With ``by_end`` (the Calendar class) an
    item is dated by when it is over, its clip end: "Calendar items that are
    in the future or that have recurrence but no end date are sent to the
    client regardless of the FilterType element value", so an appointment
    booked long ago for next week is inside a two-week window, and one over
    for a month is outside, however recently it was entered. An item without
    an end falls back to DateReceived.
    """
    return (clip_end(item.properties) if by_end else None) or item.date_received


@dataclass(frozen=True)
class ItemQuery:
    """What Search (Mailbox) and Find ask of a mailbox: every condition must hold.

    ``free_text`` matches, case-insensitively, every word of it against the
    subject, sender, recipients and body text (the content index Exchange
    searched); ``received_after``/``received_before`` bound DateReceived
    (MS-ASCMD GreaterThan/LessThan, exclusive).
    """

    folder_ids: tuple[str, ...]
    free_text: str = ""
    received_after: datetime | None = None
    received_before: datetime | None = None
    message_class_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BusyPeriod:
    """One stretch of another mailbox's calendar, for ResolveRecipients Availability."""

    start: datetime
    end: datetime
    busy_status: int  # MS-ASCAL BusyStatus: 0 free, 1 tentative, 2 busy, 3 out of office


class ChangeListener(ABC):
    """Blocks a thread until the mailbox changes; nothing is missed between creation and wait()."""

    @abstractmethod
    def wait(self, timeout: float) -> bool:
        """True when a change arrived (or the server stops), False after ``timeout`` seconds."""

    @abstractmethod
    def close(self) -> None: ...


class MailboxAccess(ABC):
    """One user's mailbox as MASSYNC sees it. Implementations are per request.

    ``calls`` and ``elapsed`` count the round trips to the mailbox and their
    time (seconds), for the ``&Log=`` field.
    """

    mailbox_id: str
    calls: int = 0
    elapsed: float = 0.0

    # -- hierarchy ---------------------------------------------------------

    @abstractmethod
    def folders(self) -> list[FolderInfo]:
        """Visible folders, parents before children."""

    @abstractmethod
    def folder(self, server_id: str) -> FolderInfo:
        """:raises FolderNotFound:"""

    @abstractmethod
    def default_folder(self, folder_type: int) -> FolderInfo:
        """Inbox, Deleted Items... by EAS type 2-11."""

    @abstractmethod
    def hierarchy_mark(self) -> int: ...

    @abstractmethod
    def hierarchy_changes(self, mark: int) -> HierarchyDelta: ...

    @abstractmethod
    def create_folder(self, parent_id: str, display_name: str, folder_type: int) -> FolderInfo:
        """:raises FolderNameTaken, FolderNotFound:"""

    @abstractmethod
    def update_folder(self, server_id: str, parent_id: str, display_name: str) -> FolderInfo:
        """Rename and/or move. :raises FolderNameTaken, FolderNotFound, SpecialFolder:"""

    @abstractmethod
    def delete_folder(self, server_id: str) -> None:
        """:raises FolderNotFound, SpecialFolder:"""

    # -- items -------------------------------------------------------------

    @abstractmethod
    def item_changes(self, folder_id: str, mark: int) -> ItemDelta:
        """Adds, changes and deletions in a folder after ``mark``; ``mark`` 0 lists every item."""

    @abstractmethod
    def list_item_ids(self, folder_id: str, received_after: datetime | None = None, *,
                      by_end: bool = False) -> list[str]:
        """ServerIds newest first, optionally only those received after a moment (FilterType).

        ``by_end`` dates the items by :func:`window_date` instead (a Calendar
        collection's FilterType): only those over after the moment, the
        latest to end first.
        """

    @abstractmethod
    def get_item(self, server_id: str) -> MailboxItem:
        """:raises ItemNotFound:"""

    @abstractmethod
    def get_mime(self, server_id: str) -> bytes: ...

    def prefetch(self, server_ids: Sequence[str]) -> None:
        """A hint: these items are about to be read (a Sync window). A backend whose every read is a
        round trip reads them in one go here, and ``get_item`` answers from that; the default does nothing."""

    @abstractmethod
    def add_item(self, folder_id: str, item: NewItem) -> str:
        """Store a new item; returns its ServerId. :raises MailboxFull:"""

    @abstractmethod
    def change_item(self, server_id: str, *, read: bool | None = None, flag_status: int | None = None,
                    properties: Mapping[str, Any] | None = None) -> None: ...

    @abstractmethod
    def delete_item(self, server_id: str, *, to_deleted_items: bool) -> None: ...

    @abstractmethod
    def move_item(self, server_id: str, folder_id: str) -> str:
        """Returns the item's new ServerId (moves give new ids, as in Exchange)."""

    # -- state blobs (sync keys, partnerships) -----------------------------

    @abstractmethod
    def get_state(self, folder_path: str, name: str) -> bytes | None: ...

    @abstractmethod
    def put_state(self, folder_path: str, name: str, data: bytes) -> None:
        """:raises MailboxFull: state counts toward quota, as in Exchange."""

    @abstractmethod
    def delete_state(self, folder_path: str, name: str) -> None: ...

    # -- direct push ---------------------------------------------------------

    @abstractmethod
    def listen(self) -> ChangeListener:
        """A listener woken by the mailbox's change notifications (never by polling)."""

    # -- drafts, sending, searching, availability (Sync, SendMail, Search, ResolveRecipients) --
    # Not abstract, so a backend written before these existed still loads; the
    # defaults below say what a backend without them can do.

    def send_mail(self, mime: bytes, *, save_in_sent: bool) -> None:
        """Submit ``mime`` as this mailbox: delivered or picked up, a copy in Sent Items if asked.

        The To/Cc/Bcc headers are the recipients; Bcc never leaves the mailbox.
        :raises SendQuotaExceeded, MessageTooLarge, NoRecipients: nothing was sent.
        :raises MailboxFull: saving to Sent Items passed ProhibitSendReceiveQuota.
        """
        raise BackendError(f"{type(self).__name__} cannot submit mail")

    def replace_item(self, server_id: str, item: NewItem) -> None:
        """Save an edited draft under its ServerId (16.x drafts through Sync, ``items/drafts.py``).

        :raises MailboxFull: the bigger draft would pass ProhibitSendReceiveQuota.
        """
        raise BackendError(f"{type(self).__name__} cannot save an edited item")

    def search_items(self, query: ItemQuery) -> list[str]:
        """ServerIds of the items matching ``query``, newest received first.

        This default reads the folders through the other methods, item by
        item; a backend with a server-side search (WebDAV SEARCH) overrides it.
        """
        words = [w.casefold() for w in query.free_text.split() if w]
        found: list[tuple[datetime, str]] = []
        for folder_id in query.folder_ids:
            for server_id in self.list_item_ids(folder_id, query.received_after):
                try:
                    item = self.get_item(server_id)
                except ItemNotFound:
                    continue
                if not _matches(self, item, query, words):
                    continue
                found.append((item.date_received, server_id))
        found.sort(key=lambda pair: pair[0], reverse=True)
        return [server_id for _, server_id in found]

    def free_busy(self, smtp_address: str, start: datetime, end: datetime) -> list[BusyPeriod] | None:
        """The busy periods of the mailbox with this address between ``start`` and ``end``.

        None when the availability of that mailbox cannot be read (no such
        mailbox, or a backend without access to others' calendars).
        """
        return None


def _matches(backend: MailboxAccess, item: MailboxItem, query: ItemQuery, words: list[str]) -> bool:
    if query.received_after is not None and item.date_received <= query.received_after:
        return False
    if query.received_before is not None and item.date_received >= query.received_before:
        return False
    if query.message_class_prefixes and not item.message_class.startswith(query.message_class_prefixes):
        return False
    if not words:
        return True
    heads = " ".join((item.subject, item.sender, item.to, item.cc)).casefold()
    missing = [w for w in words if w not in heads]
    if not missing:
        return True
    if item.message_class.startswith(("IPM.Note", "IPM.Schedule", "REPORT")):
        from plugins.activesync.items.body import parse_message

        text = parse_message(backend.get_mime(item.server_id)).as_text().casefold()
    else:
        text = " ".join(str(v) for v in item.properties.values() if isinstance(v, str)).casefold()
    return all(w in text for w in missing)


def open_backend(persona, service, user, environ=None) -> MailboxAccess:
    """The one place that decides how MASSYNC reaches the mailbox.

    The Exchange 2003 persona (``persona.mailbox_via_exchange_vdir``) reaches
    it over HTTP + NTLM through ``ExchangeVDir`` on the user's home server
    (:mod:`plugins.activesync.exchangehop`), as the device's user: ``environ``
    is the device's request (its configuration snapshot, its site and the
    Basic credentials the hop logs on with). Later personas talk to the store.
    """
    if persona.mailbox_via_exchange_vdir:
        from plugins.activesync.exchangehop import open_hop

        return open_hop(persona, service, user, environ or {})
    from plugins.activesync.directstore import DirectStoreAccess

    return DirectStoreAccess.for_user(service, user)
