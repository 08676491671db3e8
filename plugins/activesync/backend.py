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
from typing import Any, Mapping

from plugins.owa.mailbox import NewItem

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
    def count_items(self, folder_id: str, received_after: datetime | None = None) -> int: ...

    @abstractmethod
    def list_item_ids(self, folder_id: str, received_after: datetime | None = None) -> list[str]:
        """ServerIds newest first, optionally only those received after a moment (FilterType)."""

    @abstractmethod
    def get_item(self, server_id: str) -> MailboxItem:
        """:raises ItemNotFound:"""

    @abstractmethod
    def get_mime(self, server_id: str) -> bytes: ...

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


def open_backend(persona, service, user) -> MailboxAccess:
    """The one place that decides how MASSYNC reaches the mailbox.

    Every persona uses :class:`DirectStoreAccess` today. The Exchange 2003
    persona (``persona.mailbox_via_exchange_vdir``) must reach the mailbox
    over HTTP + NTLM through ``ExchangeVDir`` on the user's home server
    instead (issue 5); that backend slots in here, and only here.
    """
    from plugins.activesync.directstore import DirectStoreAccess

    return DirectStoreAccess.for_user(service, user)
