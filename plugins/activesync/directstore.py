"""``DirectStoreAccess``: MASSYNC talking to the mailbox store in-process.

This is how Exchange 2007 and later reached mailboxes (MAPI to the store on
the mailbox server); the Exchange 2003 persona uses it only until the
``/Exchange`` hop backend exists (see :func:`plugins.activesync.backend.open_backend`).
Store exceptions become the backend's own, so commands stay independent of
the store's vocabulary.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, Mapping

from plugins.activesync.backend import (
    TOP_LEVEL,
    BackendError,
    BusyPeriod,
    ChangeListener,
    FolderInfo,
    FolderNameTaken,
    FolderNotFound,
    HierarchyDelta,
    ItemDelta,
    ItemNotFound,
    MailboxAccess,
    MailboxFull,
    MailboxItem,
    MessageTooLarge,
    NoRecipients,
    SendQuotaExceeded,
    SpecialFolder,
    window_date,
)
from plugins.owa.mailbox import (
    Folder,
    FolderExists,
    FolderType,
    Item,
    MailboxStore,
    NewItem,
    NoSuchFolder,
    NoSuchItem,
    NoSuchMailbox,
    QuotaExceededError,
    SpecialFolderError,
)
from plugins.owa.mailboxes import ensure_mailbox


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except QuotaExceededError as exc:
        raise MailboxFull(str(exc)) from exc
    except NoSuchFolder as exc:
        raise FolderNotFound(str(exc)) from exc
    except NoSuchItem as exc:
        raise ItemNotFound(str(exc)) from exc
    except FolderExists as exc:
        raise FolderNameTaken(str(exc)) from exc
    except SpecialFolderError as exc:
        raise SpecialFolder(str(exc)) from exc


_PAGE = 500


class DirectStoreAccess(MailboxAccess):
    """One mailbox of ``service.mailstore``; change notifications come from the push hub."""

    def __init__(self, store: MailboxStore, mailbox_id: str, hub, service=None) -> None:
        self.store = store
        self.mailbox_id = mailbox_id
        self.hub = hub
        self.service = service  # for submission (SendMail); None where nothing is sent (the CLI)
        self.calls = 0  # store round trips and their time, for the &Log= field
        self.elapsed = 0.0

    @contextmanager
    def _call(self) -> Iterator[None]:
        self.calls += 1
        began = time.perf_counter()
        try:
            with _translated():
                yield
        finally:
            self.elapsed += time.perf_counter() - began

    @classmethod
    def for_user(cls, service, user) -> DirectStoreAccess:
        from plugins.activesync.plugin import push_hub

        if service.mailstore is None:
            raise BackendError("no mailbox store is installed (no plugin answers open_mailbox_store)")
        return cls(service.mailstore, ensure_mailbox(service, user), push_hub(service), service)

    # -- hierarchy ---------------------------------------------------------

    def _info(self, folder: Folder) -> FolderInfo:
        parent = TOP_LEVEL if folder.parent_id is None else str(folder.parent_id)
        return FolderInfo(str(folder.id), parent, folder.display_name, int(folder.folder_type))

    def _folder_id(self, server_id: str) -> int:
        if not server_id.isdigit():
            raise FolderNotFound(f"{server_id!r} is not a folder ServerId")
        return int(server_id)

    def folders(self) -> list[FolderInfo]:
        with self._call():
            return [self._info(f) for f in self.store.folders(self.mailbox_id)]

    def folder(self, server_id: str) -> FolderInfo:
        with self._call():
            folder = self.store.get_folder(self.mailbox_id, self._folder_id(server_id))
        if folder.hidden:
            raise FolderNotFound(f"folder {server_id} is not visible")
        return self._info(folder)

    def default_folder(self, folder_type: int) -> FolderInfo:
        with self._call():
            return self._info(self.store.default_folder(self.mailbox_id, FolderType(folder_type)))

    def hierarchy_mark(self) -> int:
        with self._call():
            return self.store.get_mailbox(self.mailbox_id).change_number

    def hierarchy_changes(self, mark: int) -> HierarchyDelta:
        with self._call():
            delta = self.store.hierarchy_changes_since(self.mailbox_id, mark)
            visible = {f.id: f for f in self.store.folders(self.mailbox_id)}
        return HierarchyDelta(
            added=tuple(self._info(visible[i]) for i in delta.added if i in visible),
            changed=tuple(self._info(visible[i]) for i in delta.changed if i in visible),
            deleted=tuple(str(i) for i in delta.deleted),
            mark=delta.change_number,
        )

    def _parent(self, parent_id: str) -> int | None:
        return None if parent_id == TOP_LEVEL else self._folder_id(parent_id)

    def create_folder(self, parent_id: str, display_name: str, folder_type: int) -> FolderInfo:
        with self._call():
            return self._info(self.store.create_folder(self.mailbox_id, self._parent(parent_id), display_name,
                                                       FolderType(folder_type)))

    def update_folder(self, server_id: str, parent_id: str, display_name: str) -> FolderInfo:
        folder_id = self._folder_id(server_id)
        with self._call():
            current = self.store.get_folder(self.mailbox_id, folder_id)
            if current.special:
                raise SpecialFolderError(self.mailbox_id, current.display_name, "change")
            new_parent = self._parent(parent_id)
            if new_parent != current.parent_id:
                self.store.move_folder(self.mailbox_id, folder_id, new_parent)
            if display_name != current.display_name:
                self.store.rename_folder(self.mailbox_id, folder_id, display_name)
            return self._info(self.store.get_folder(self.mailbox_id, folder_id))

    def delete_folder(self, server_id: str) -> None:
        with self._call():
            self.store.delete_folder(self.mailbox_id, self._folder_id(server_id))

    # -- items -------------------------------------------------------------

    def _item_id(self, server_id: str) -> int:
        _, sep, item = server_id.partition(":")
        if not sep or not item.isdigit():
            raise ItemNotFound(f"{server_id!r} is not an item ServerId")
        return int(item)

    def _server_id(self, item: Item) -> str:
        return f"{item.folder_id}:{item.id}"

    def item_changes(self, folder_id: str, mark: int) -> ItemDelta:
        folder = self._folder_id(folder_id)
        with self._call():
            delta = self.store.changes_since(self.mailbox_id, folder, mark)
        return ItemDelta(
            added=tuple(f"{folder}:{i}" for i in delta.added),
            changed=tuple(f"{folder}:{i}" for i in delta.changed),
            deleted=tuple(f"{folder}:{i}" for i in delta.deleted),
            mark=delta.change_number,
        )

    def list_item_ids(self, folder_id: str, received_after: datetime | None = None, *,
                      by_end: bool = False) -> list[str]:
        folder = self._folder_id(folder_id)
        if by_end:
            return self._ids_by_end(folder, received_after)
        ids: list[str] = []
        with self._call():
            for offset in range(0, self.store.count_items(self.mailbox_id, folder) + 1, _PAGE):
                page = self.store.list_items(self.mailbox_id, folder, offset=offset, limit=_PAGE)
                newer = [i for i in page if received_after is None or i.date_received >= received_after]
                ids += (f"{folder}:{i.id}" for i in newer)
                if len(newer) < _PAGE:  # newest first: the rest is older, or there is no rest
                    break
        return ids

    def _ids_by_end(self, folder: int, ends_after: datetime | None) -> list[str]:
        """Items over after ``ends_after``, latest end first. The store orders and pages by
        DateReceived only, so every item of the folder is read and dated (a calendar's hundreds)."""
        with self._call():
            entries = self._every_item(self.mailbox_id, folder)
        dated = [(window_date(item, by_end=True), item) for item in entries]
        dated.sort(key=lambda pair: pair[0], reverse=True)  # stable: equal ends stay newest received first
        return [self._server_id(item) for moment, item in dated if ends_after is None or moment >= ends_after]

    def _every_item(self, mailbox_id: str, folder: int) -> list[Item]:
        """Every item of a folder in one store read; the caller holds a ``_call``."""
        count = self.store.count_items(mailbox_id, folder)
        return self.store.list_items(mailbox_id, folder, offset=0, limit=max(count, 1))

    def get_item(self, server_id: str) -> MailboxItem:
        with self._call():
            item = self.store.get_item(self.mailbox_id, self._item_id(server_id))
        if self._server_id(item) != server_id:
            raise ItemNotFound(f"item {server_id} is not in that folder")
        return MailboxItem(
            server_id=server_id, folder_id=str(item.folder_id), message_class=item.message_class,
            subject=item.subject, sender=item.sender, to=item.to, cc=item.cc, date_sent=item.date_sent,
            date_received=item.date_received, read=item.read, flag_status=int(item.flag_status),
            importance=int(item.importance), has_attachments=item.has_attachments, size=item.size,
            properties=item.properties,
        )

    def get_mime(self, server_id: str) -> bytes:
        with self._call():
            return self.store.get_mime(self.mailbox_id, self._item_id(server_id))

    def add_item(self, folder_id: str, item: NewItem) -> str:
        with self._call():
            return self._server_id(self.store.add_item(self.mailbox_id, self._folder_id(folder_id), item))

    def replace_item(self, server_id: str, item: NewItem) -> None:
        self.get_item(server_id)
        with self._call():
            self.store.replace_item(self.mailbox_id, self._item_id(server_id), item)

    def change_item(self, server_id: str, *, read: bool | None = None, flag_status: int | None = None,
                    properties: Mapping[str, Any] | None = None) -> None:
        self.get_item(server_id)
        with self._call():
            self.store.update_item(self.mailbox_id, self._item_id(server_id), read=read,
                                   flag_status=flag_status, properties=properties)

    def delete_item(self, server_id: str, *, to_deleted_items: bool) -> None:
        self.get_item(server_id)
        with self._call():
            self.store.delete_items(self.mailbox_id, [self._item_id(server_id)], hard=not to_deleted_items)

    def move_item(self, server_id: str, folder_id: str) -> str:
        self.get_item(server_id)
        with self._call():
            return self._server_id(self.store.move_item(self.mailbox_id, self._item_id(server_id),
                                                        self._folder_id(folder_id)))

    # -- state blobs -------------------------------------------------------

    def get_state(self, folder_path: str, name: str) -> bytes | None:
        try:
            with self._call():
                return self.store.get_state(self.mailbox_id, folder_path, name)
        except ItemNotFound:
            return None

    def put_state(self, folder_path: str, name: str, data: bytes) -> None:
        with self._call():
            self.store.put_state(self.mailbox_id, folder_path, name, data)

    def delete_state(self, folder_path: str, name: str) -> None:
        with self._call():
            self.store.delete_state(self.mailbox_id, folder_path, name)

    # -- direct push -------------------------------------------------------

    def listen(self) -> ChangeListener:
        return self.hub.listen(self.mailbox_id)

    # -- sending and availability ------------------------------------------

    def send_mail(self, mime: bytes, *, save_in_sent: bool) -> None:
        """Through the mailbox's submission, as OWA's Send button (plugins.owa.submission)."""
        from plugins.owa.submission import (
            MessageTooLargeError,
            NoRecipientsError,
            SendQuotaExceededError,
            submit,
        )

        if self.service is None:
            raise BackendError("this mailbox access has no service to submit through")
        try:
            with self._call():
                submit(self.service, self.mailbox_id, mime, save_in_sent=save_in_sent)
        except MailboxFull as exc:
            if isinstance(exc.__cause__, SendQuotaExceededError):
                raise SendQuotaExceeded(str(exc.__cause__)) from exc.__cause__
            raise
        except MessageTooLargeError as exc:
            raise MessageTooLarge(str(exc)) from exc
        except NoRecipientsError as exc:
            raise NoRecipients(str(exc)) from exc

    def free_busy(self, smtp_address: str, start: datetime, end: datetime) -> list[BusyPeriod] | None:
        """Single appointments of that mailbox's Calendar folder (the store is one server's)."""
        from plugins.activesync.items.values import parse_datetime

        try:
            with self._call():
                other = self.store.find_mailbox(smtp_address)
                calendar = self.store.default_folder(other.id, FolderType.CALENDAR).id
                entries = self._every_item(other.id, calendar)
        except (NoSuchMailbox, FolderNotFound):
            return None
        periods = []
        for entry in entries:
            props = entry.properties
            try:
                begins = parse_datetime(str(props["start"]))
                ends = parse_datetime(str(props["end"]))
            except (KeyError, ValueError):
                continue
            if ends <= start or begins >= end:
                continue
            periods.append(BusyPeriod(begins, ends, int(props.get("busy_status", 2) or 0)))
        return periods
