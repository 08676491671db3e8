"""The default mailbox store: one SQLite database for every mailbox of a server.

Durability: WAL with ``synchronous=FULL``. A kill -9 loses nothing that was
committed even with NORMAL, but NORMAL may lose the last commits on power
loss, and an SMTP delivery already acknowledged with 250 must survive that
too (Exchange guaranteed it with its transaction logs). FULL costs one fsync
per commit; ``add_items`` batches when that matters.

Concurrency: one connection per thread (never shared), explicit
transactions. Writers take ``BEGIN IMMEDIATE``, so SQLite's own lock
serializes them across threads *and* processes (the CLI and the host), and a
quota check and the write it guards sit in one locked transaction. Readers
read a WAL snapshot inside ``BEGIN``, so a change list and its high-water
mark always agree, and never block writers.

Commit callbacks run in the process that wrote: a delivery made by another
process does not wake callbacks here.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from plugins.owa.mailbox import (
    ACTIVESYNC_FOLDER,
    DEFAULT_FOLDERS,
    SYNC_STATE_CLASS,
    USER_FOLDER_TYPES,
    CommitCallback,
    FlagStatus,
    Folder,
    FolderExists,
    FolderType,
    HierarchyChanges,
    Importance,
    InvalidFolderMove,
    Item,
    ItemChanges,
    Mailbox,
    MailboxExists,
    MailboxStore,
    NewItem,
    NoSuchFolder,
    NoSuchItem,
    NoSuchMailbox,
    QuotaExceededError,
    Quotas,
    QuotaState,
    SpecialFolderError,
    StoreError,
)
from plugins.owa.schema import migrate

log = logging.getLogger(__name__)

_FOLDER_SELECT = """
    SELECT f.id, f.mailbox_id, CASE WHEN p.role IS NULL THEN f.parent_id END AS parent_id,
           f.display_name, f.folder_type, f.hidden, f.special, f.change_number
    FROM folders f LEFT JOIN folders p ON p.id = f.parent_id
"""
_ITEM_COLUMNS = """
    id, mailbox_id, folder_id, message_class, subject, sender, to_recipients, cc_recipients,
    date_sent, date_received, read, flag_status, importance, has_attachments, size,
    properties, change_number, scan_stamp
"""
_MAILBOX_COLUMNS = """
    id, display_name, smtp_address, use_store_quotas, issue_warning_kb, prohibit_send_kb,
    prohibit_send_receive_kb, change_number
"""


class _Write:
    """One write transaction: hands out change numbers and remembers which folders changed."""

    def __init__(self, conn: sqlite3.Connection, mailbox_id: str | None) -> None:
        self.conn = conn
        self.mailbox_id = mailbox_id
        self.first_change = self.change_number = 0
        self.folders: set[int] = set()
        if mailbox_id is not None:
            row = conn.execute(
                "SELECT change_number FROM mailboxes WHERE id = ?", (mailbox_id,)
            ).fetchone()
            if row is None:
                raise NoSuchMailbox(mailbox_id)
            self.first_change = self.change_number = row[0]

    def next_change(self, *folder_ids: int | None) -> int:
        self.change_number += 1
        self.folders.update(f for f in folder_ids if f is not None)
        return self.change_number

    @property
    def changed(self) -> bool:
        return self.change_number != self.first_change

    def flush(self) -> None:
        if self.changed:
            self.conn.execute(
                "UPDATE mailboxes SET change_number = ? WHERE id = ?",
                (self.change_number, self.mailbox_id),
            )


class SQLiteMailboxStore(MailboxStore):
    """A :class:`MailboxStore` in one SQLite file (e.g. ``data_dir / "mailstore.db"``)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self._path = os.fspath(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._writer = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._callbacks: list[CommitCallback] = []
        self._closed = False
        try:
            migrate(self._conn())
        except BaseException:
            self.close()
            raise

    # -- connections and transactions --------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not self._closed:
            return conn
        with self._lock:
            if self._closed:
                raise StoreError(f"The mailbox store {self._path} is closed.")
            # check_same_thread off only so close() may close every thread's connection.
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            self._connections.append(conn)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        self._local.conn = conn
        return conn

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    @contextmanager
    def _writing(self, mailbox_id: str | None) -> Iterator[_Write]:
        """One write transaction; the process's writers take turns on a lock before SQLite's.

        SQLite lets one writer in at a time and makes the others retry after
        sleeps of up to 100 ms (its busy handler). A thousand devices writing
        their sync state at once would spend seconds asleep that way; queued
        on a lock they follow each other at once. Other processes (the CLI)
        still meet at SQLite's lock.
        """
        conn = self._conn()
        with self._writer:
            conn.execute("BEGIN IMMEDIATE")
            try:
                write = _Write(conn, mailbox_id)
                yield write
                write.flush()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        if write.changed and write.mailbox_id is not None:
            self._notify(write.mailbox_id, frozenset(write.folders), write.change_number)

    def _notify(self, mailbox_id: str, folder_ids: frozenset[int], change_number: int) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(mailbox_id, folder_ids, change_number)
            except Exception:  # a listener's bug must not fail a committed write
                log.exception("on_commit callback %r failed", callback)

    def on_commit(self, callback: CommitCallback) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)

        def unregister() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unregister

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    # -- mailboxes ---------------------------------------------------------

    def create_mailbox(self, mailbox_id: str, display_name: str, smtp_address: str) -> Mailbox:
        with self._writing(None) as write:
            conn = write.conn
            if conn.execute("SELECT 1 FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone():
                raise MailboxExists(mailbox_id)
            owner = conn.execute(
                "SELECT id FROM mailboxes WHERE smtp_address = ?", (smtp_address,)
            ).fetchone()
            if owner is not None:
                raise MailboxExists(owner[0], smtp_address)
            conn.execute(
                "INSERT INTO mailboxes (id, display_name, smtp_address) VALUES (?, ?, ?)",
                (mailbox_id, display_name, smtp_address),
            )
            write.mailbox_id = mailbox_id
            root = self._insert_folder(write, None, "", FolderType.UNKNOWN, hidden=True, role="root")
            subtree = self._insert_folder(
                write, root, "Top of Information Store", FolderType.UNKNOWN,
                hidden=True, role="ipm_subtree",
            )
            for name, folder_type in DEFAULT_FOLDERS:
                self._insert_folder(write, subtree, name, folder_type, special=True)
            self._insert_folder(write, root, ACTIVESYNC_FOLDER, FolderType.UNKNOWN, hidden=True)
        return self.get_mailbox(mailbox_id)

    def get_mailbox(self, mailbox_id: str) -> Mailbox:
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?", (mailbox_id,)
            ).fetchone()
        if row is None:
            raise NoSuchMailbox(mailbox_id)
        return _mailbox(row)

    def find_mailbox(self, smtp_address: str) -> Mailbox:
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes WHERE smtp_address = ?", (smtp_address,)
            ).fetchone()
        if row is None:
            raise NoSuchMailbox(smtp_address)
        return _mailbox(row)

    def list_mailboxes(self) -> list[Mailbox]:
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes ORDER BY id").fetchall()
        return [_mailbox(row) for row in rows]

    # -- folders -----------------------------------------------------------

    def folders(self, mailbox_id: str, *, include_hidden: bool = False) -> list[Folder]:
        with self._reading() as conn:
            _require_mailbox(conn, mailbox_id)
            rows = conn.execute(
                f"""
                WITH RECURSIVE tree (id, depth) AS (
                    SELECT id, 0 FROM folders WHERE mailbox_id = ? AND role = 'root'
                    UNION ALL
                    SELECT f.id, tree.depth + 1 FROM folders f JOIN tree ON f.parent_id = tree.id
                )
                {_FOLDER_SELECT} JOIN tree ON tree.id = f.id
                WHERE f.role IS NULL AND (? OR f.hidden = 0)
                ORDER BY tree.depth, f.display_name COLLATE NOCASE
                """,
                (mailbox_id, include_hidden),
            ).fetchall()
        return [_folder(row) for row in rows]

    def get_folder(self, mailbox_id: str, folder_id: int) -> Folder:
        with self._reading() as conn:
            return _folder(_folder_row(conn, mailbox_id, folder_id))

    def default_folder(self, mailbox_id: str, folder_type: FolderType) -> Folder:
        with self._reading() as conn:
            return _folder(_default_folder_row(conn, mailbox_id, folder_type))

    def folder_by_path(self, mailbox_id: str, path: str) -> Folder:
        with self._reading() as conn:
            parent = _role_folder_id(conn, mailbox_id, "ipm_subtree")
            row = None
            for name in (part for part in path.split("/") if part):
                row = conn.execute(
                    f"{_FOLDER_SELECT} WHERE f.parent_id = ? AND f.display_name = ? COLLATE NOCASE"
                    " AND f.hidden = 0",
                    (parent, name),
                ).fetchone()
                if row is None:
                    raise NoSuchFolder(mailbox_id, path)
                parent = row["id"]
            if row is None:
                raise NoSuchFolder(mailbox_id, path)
            return _folder(row)

    def create_folder(
        self,
        mailbox_id: str,
        parent_id: int | None,
        display_name: str,
        folder_type: FolderType = FolderType.USER_MAIL,
    ) -> Folder:
        _check_folder_name(display_name)
        if FolderType(folder_type) not in USER_FOLDER_TYPES:
            raise ValueError(f"{FolderType(folder_type).name} is not a type a user can create.")
        with self._writing(mailbox_id) as write:
            parent = self._visible_parent(write.conn, mailbox_id, parent_id)
            _require_free_name(write.conn, mailbox_id, parent, display_name)
            folder_id = self._insert_folder(write, parent, display_name, FolderType(folder_type))
            if parent_id is not None:
                write.folders.add(parent_id)
        return self.get_folder(mailbox_id, folder_id)

    def rename_folder(self, mailbox_id: str, folder_id: int, display_name: str) -> Folder:
        _check_folder_name(display_name)
        with self._writing(mailbox_id) as write:
            _user_folder_row(write.conn, mailbox_id, folder_id, "rename")
            parent = _stored_parent(write.conn, folder_id)
            _require_free_name(write.conn, mailbox_id, parent, display_name, except_id=folder_id)
            write.conn.execute(
                "UPDATE folders SET display_name = ?, change_number = ? WHERE id = ?",
                (display_name, write.next_change(folder_id), folder_id),
            )
        return self.get_folder(mailbox_id, folder_id)

    def move_folder(self, mailbox_id: str, folder_id: int, parent_id: int | None) -> Folder:
        with self._writing(mailbox_id) as write:
            row = _user_folder_row(write.conn, mailbox_id, folder_id, "move")
            parent = self._visible_parent(write.conn, mailbox_id, parent_id)
            self._move_folder(write, folder_id, row["display_name"], parent)
        return self.get_folder(mailbox_id, folder_id)

    def delete_folder(self, mailbox_id: str, folder_id: int, *, hard: bool = False) -> None:
        with self._writing(mailbox_id) as write:
            conn = write.conn
            row = _user_folder_row(conn, mailbox_id, folder_id, "delete")
            deleted_items = _default_folder_row(conn, mailbox_id, FolderType.DELETED_ITEMS)["id"]
            if hard or folder_id in _subtree_ids(conn, deleted_items):
                self._remove_folder(write, folder_id)
                return
            name = row["display_name"]
            for attempt in range(2, 1000):  # bounded: a name free within 1000 tries
                if not _name_taken(conn, mailbox_id, deleted_items, name):
                    break
                name = f"{row['display_name']} ({attempt})"
            else:
                raise FolderExists(mailbox_id, row["display_name"])
            if name != row["display_name"]:
                conn.execute("UPDATE folders SET display_name = ? WHERE id = ?", (name, folder_id))
            self._move_folder(write, folder_id, name, deleted_items)

    def _visible_parent(self, conn: sqlite3.Connection, mailbox_id: str, parent_id: int | None) -> int:
        """The stored parent id for a public one: None is "Top of Information Store"."""
        if parent_id is None:
            return _role_folder_id(conn, mailbox_id, "ipm_subtree")
        if _folder_row(conn, mailbox_id, parent_id)["hidden"]:
            raise NoSuchFolder(mailbox_id, parent_id)
        return parent_id

    def _insert_folder(
        self,
        write: _Write,
        parent: int | None,
        name: str,
        folder_type: FolderType,
        *,
        hidden: bool = False,
        special: bool = False,
        role: str | None = None,
    ) -> int:
        change = write.next_change()
        folder_id = write.conn.execute(
            "INSERT INTO folders (mailbox_id, parent_id, role, display_name, folder_type, hidden,"
            " special, change_number, created_cn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (write.mailbox_id, parent, role, name, int(folder_type), hidden, special or hidden,
             change, change),
        ).lastrowid
        write.folders.add(folder_id)
        return folder_id

    def _move_folder(self, write: _Write, folder_id: int, name: str, parent: int) -> None:
        conn, mailbox_id = write.conn, write.mailbox_id
        assert mailbox_id is not None
        if parent == folder_id or parent in _subtree_ids(conn, folder_id):
            raise InvalidFolderMove(f"Cannot move folder {name!r} into itself or its subfolders.")
        if parent == _stored_parent(conn, folder_id):
            return
        _require_free_name(conn, mailbox_id, parent, name, except_id=folder_id)
        old_parent = _public_parent(conn, folder_id)
        conn.execute(
            "UPDATE folders SET parent_id = ?, change_number = ? WHERE id = ?",
            (parent, write.next_change(folder_id, old_parent), folder_id),
        )
        new_parent = _public_parent(conn, folder_id)
        if new_parent is not None:
            write.folders.add(new_parent)

    def _remove_folder(self, write: _Write, folder_id: int) -> None:
        """Hard delete: tombstones for the folder and every visible subfolder, then
        the rows; items and their tombstones go by cascade, sizes by trigger."""
        conn = write.conn
        parent = _public_parent(conn, folder_id)
        doomed = json.dumps([folder_id, *_subtree_ids(conn, folder_id)])
        for sub in conn.execute(
            "SELECT id, created_cn FROM folders WHERE id IN (SELECT value FROM json_each(?))"
            " AND hidden = 0",
            (doomed,),
        ).fetchall():
            conn.execute(
                "INSERT INTO folder_tombstones (mailbox_id, folder_id, change_number, created_cn)"
                " VALUES (?, ?, ?, ?)",
                (write.mailbox_id, sub["id"], write.next_change(sub["id"], parent), sub["created_cn"]),
            )
        conn.execute("DELETE FROM folders WHERE id = ?", (folder_id,))

    # -- items -------------------------------------------------------------

    def deliver(
        self,
        mailbox_id: str,
        mime: bytes,
        *,
        folder_id: int | None = None,
        date_received: datetime | None = None,
        scanned: bool = True,
    ) -> Item:
        item = NewItem.from_mime(mime, date_received=date_received)  # parse outside the lock
        if folder_id is None:
            folder_id = self.default_folder(mailbox_id, FolderType.INBOX).id
        return self.add_item(mailbox_id, folder_id, item, scanned=scanned)

    def add_item(
        self, mailbox_id: str, folder_id: int, item: NewItem, *, scanned: bool = True
    ) -> Item:
        [item_id] = self.add_items(mailbox_id, folder_id, [item], scanned=scanned)
        return self.get_item(mailbox_id, item_id)

    def add_items(
        self, mailbox_id: str, folder_id: int, items: Iterable[NewItem], *, scanned: bool = True
    ) -> list[int]:
        now = _db_time(datetime.now(timezone.utc))
        rows = [_item_values(item, now) for item in items]  # before taking the write lock
        with self._writing(mailbox_id) as write:
            _folder_row(write.conn, mailbox_id, folder_id)
            _check_quota(write.conn, mailbox_id, sum(row["size"] for row in rows))
            return self._insert_items(write, folder_id, rows, _scan_stamp(write.conn, scanned))

    def _insert_items(
        self, write: _Write, folder_id: int, rows: list[dict[str, Any]], scan_stamp: int
    ) -> list[int]:
        """Insert bodies and items with ids chosen up front, so a bulk import is
        two ``executemany`` calls. Safe: the write lock is held, and items'
        AUTOINCREMENT counter never goes below an id already handed out."""
        conn = write.conn
        body_base = conn.execute("SELECT coalesce(max(id), 0) FROM bodies").fetchone()[0]
        item_base = conn.execute(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'items'), 0)"
        ).fetchone()[0]
        conn.executemany(
            "INSERT INTO bodies (id, mime) VALUES (?, ?)",
            ((body_base + n, row["mime"]) for n, row in enumerate(rows, 1)),
        )
        conn.executemany(
            "INSERT INTO items (id, mailbox_id, folder_id, body_id, message_class, subject, sender,"
            " to_recipients, cc_recipients, date_sent, date_received, read, flag_status, importance,"
            " has_attachments, size, properties, change_number, created_cn, scan_stamp)"
            " VALUES (:id, :mailbox_id, :folder_id, :body_id, :message_class, :subject, :sender,"
            " :to, :cc, :date_sent, :date_received, :read, :flag_status, :importance,"
            " :has_attachments, :size, :properties, :change, :change, :scan_stamp)",
            (
                {**row, "id": item_base + n, "mailbox_id": write.mailbox_id, "folder_id": folder_id,
                 "body_id": body_base + n, "change": write.next_change(folder_id),
                 "scan_stamp": scan_stamp}
                for n, row in enumerate(rows, 1)
            ),
        )
        conn.execute(
            "UPDATE mailboxes SET size = size + ? WHERE id = ?",
            (sum(row["size"] for row in rows), write.mailbox_id),
        )
        return list(range(item_base + 1, item_base + len(rows) + 1))

    def get_item(self, mailbox_id: str, item_id: int) -> Item:
        with self._reading() as conn:
            return _item(_item_row(conn, mailbox_id, item_id))

    def get_mime(self, mailbox_id: str, item_id: int) -> bytes:
        with self._reading() as conn:
            _item_row(conn, mailbox_id, item_id)
            return conn.execute(
                "SELECT mime FROM bodies JOIN items ON items.body_id = bodies.id WHERE items.id = ?",
                (item_id,),
            ).fetchone()[0]

    def update_item(
        self,
        mailbox_id: str,
        item_id: int,
        *,
        read: bool | None = None,
        flag_status: FlagStatus | None = None,
        importance: Importance | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Item:
        with self._writing(mailbox_id) as write:
            conn = write.conn
            row = _item_row(conn, mailbox_id, item_id)
            changes: dict[str, Any] = {}
            if read is not None:
                changes["read"] = bool(read)
            if flag_status is not None:
                changes["flag_status"] = int(FlagStatus(flag_status))
            if importance is not None:
                changes["importance"] = int(Importance(importance))
            if properties is not None:
                changes["properties"] = _json(properties)
                changes["size"] = row["size"] - len(row["properties"].encode()) + len(
                    changes["properties"].encode()
                )
                _check_quota(conn, mailbox_id, changes["size"] - row["size"])
            if changes:
                changes["change_number"] = write.next_change(row["folder_id"])
                assignments = ", ".join(f"{column} = :{column}" for column in changes)
                conn.execute(f"UPDATE items SET {assignments} WHERE id = :id", {**changes, "id": item_id})
        return self.get_item(mailbox_id, item_id)

    def replace_item(self, mailbox_id: str, item_id: int, item: NewItem) -> Item:
        values = _item_values(item, _db_time(datetime.now(timezone.utc)))  # before taking the write lock
        with self._writing(mailbox_id) as write:
            conn = write.conn
            row = _item_row(conn, mailbox_id, item_id)
            if values["size"] > row["size"]:
                _check_quota(conn, mailbox_id, values["size"] - row["size"])
            # A body belongs to one item: copies get their own, a move hands it over.
            conn.execute("UPDATE bodies SET mime = ? WHERE id = ?", (values["mime"], row["body_id"]))
            conn.execute(
                "UPDATE items SET message_class = :message_class, subject = :subject, sender = :sender,"
                " to_recipients = :to, cc_recipients = :cc, date_sent = :date_sent, importance = :importance,"
                " has_attachments = :has_attachments, size = :size, properties = :properties,"
                " change_number = :change WHERE id = :id",
                {**values, "change": write.next_change(row["folder_id"]), "id": item_id},
            )
        return self.get_item(mailbox_id, item_id)

    def move_item(self, mailbox_id: str, item_id: int, folder_id: int) -> Item:
        with self._writing(mailbox_id) as write:
            row = _item_row(write.conn, mailbox_id, item_id)
            _folder_row(write.conn, mailbox_id, folder_id)
            new_id = self._move_item(write, row, folder_id)
        return self.get_item(mailbox_id, new_id)

    def copy_item(self, mailbox_id: str, item_id: int, folder_id: int) -> Item:
        with self._writing(mailbox_id) as write:
            conn = write.conn
            row = _item_row(conn, mailbox_id, item_id)
            _folder_row(conn, mailbox_id, folder_id)
            _check_quota(conn, mailbox_id, row["size"])
            body_id = conn.execute(
                "INSERT INTO bodies (mime) SELECT mime FROM bodies WHERE id ="
                " (SELECT body_id FROM items WHERE id = ?)",
                (item_id,),
            ).lastrowid
            new_id = self._clone_item(write, item_id, folder_id, body_id)
        return self.get_item(mailbox_id, new_id)

    def delete_items(self, mailbox_id: str, item_ids: Iterable[int], *, hard: bool = False) -> None:
        with self._writing(mailbox_id) as write:
            conn = write.conn
            deleted_items = _default_folder_row(conn, mailbox_id, FolderType.DELETED_ITEMS)["id"]
            purge_in = {deleted_items, *_subtree_ids(conn, deleted_items)}
            for item_id in dict.fromkeys(item_ids):
                row = _item_row(conn, mailbox_id, item_id)
                if hard or row["folder_id"] in purge_in:
                    self._remove_item(write, row)
                else:
                    self._move_item(write, row, deleted_items)

    def _move_item(self, write: _Write, row: sqlite3.Row, folder_id: int) -> int:
        """A tombstone in the source and a new item (new id) in the target, as
        Exchange gave a moved message a new entry id."""
        if row["folder_id"] == folder_id:
            return row["id"]
        self._tombstone(write, row)
        new_id = self._clone_item(write, row["id"], folder_id, row["body_id"])
        write.conn.execute("DELETE FROM items WHERE id = ?", (row["id"],))
        return new_id

    def _clone_item(self, write: _Write, item_id: int, folder_id: int, body_id: int) -> int:
        """Insert a copy of an item's row (the schema's triggers count only deletes)."""
        write.conn.execute(
            "UPDATE mailboxes SET size = size + (SELECT size FROM items WHERE id = ?) WHERE id = ?",
            (item_id, write.mailbox_id),
        )
        change = write.next_change(folder_id)
        return write.conn.execute(
            "INSERT INTO items (mailbox_id, folder_id, body_id, message_class, subject, sender,"
            " to_recipients, cc_recipients, date_sent, date_received, read, flag_status, importance,"
            " has_attachments, size, properties, change_number, created_cn, scan_stamp)"
            " SELECT mailbox_id, ?, ?, message_class, subject, sender, to_recipients, cc_recipients,"
            " date_sent, date_received, read, flag_status, importance, has_attachments, size,"
            " properties, ?, ?, scan_stamp FROM items WHERE id = ?",
            (folder_id, body_id, change, change, item_id),
        ).lastrowid

    def _remove_item(self, write: _Write, row: sqlite3.Row) -> None:
        self._tombstone(write, row)
        write.conn.execute("DELETE FROM items WHERE id = ?", (row["id"],))

    def _tombstone(self, write: _Write, row: sqlite3.Row) -> None:
        write.conn.execute(
            "INSERT INTO item_tombstones (folder_id, item_id, change_number, created_cn)"
            " VALUES (?, ?, ?, ?)",
            (row["folder_id"], row["id"], write.next_change(row["folder_id"]), row["created_cn"]),
        )

    def list_items(
        self,
        mailbox_id: str,
        folder_id: int,
        *,
        offset: int = 0,
        limit: int = 50,
        scanned_only: bool = False,
    ) -> list[Item]:
        with self._reading() as conn:
            _folder_row(conn, mailbox_id, folder_id)
            rows = conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM items WHERE folder_id = ?"
                " AND (NOT ? OR scan_stamp >= (SELECT scan_id FROM store))"
                " ORDER BY date_received DESC, id DESC LIMIT ? OFFSET ?",
                (folder_id, scanned_only, limit, offset),
            ).fetchall()
        return [_item(row) for row in rows]

    def count_items(self, mailbox_id: str, folder_id: int, *, scanned_only: bool = False) -> int:
        with self._reading() as conn:
            _folder_row(conn, mailbox_id, folder_id)
            return conn.execute(
                "SELECT count(*) FROM items WHERE folder_id = ?"
                " AND (NOT ? OR scan_stamp >= (SELECT scan_id FROM store))",
                (folder_id, scanned_only),
            ).fetchone()[0]

    # -- change tracking ---------------------------------------------------

    def changes_since(self, mailbox_id: str, folder_id: int, change_number: int) -> ItemChanges:
        with self._reading() as conn:
            _folder_row(conn, mailbox_id, folder_id)
            mark = _require_mailbox(conn, mailbox_id)["change_number"]
            current = conn.execute(
                "SELECT id, created_cn FROM items WHERE folder_id = ? AND change_number > ?"
                " ORDER BY change_number",
                (folder_id, change_number),
            ).fetchall()
            deleted = conn.execute(
                "SELECT item_id FROM item_tombstones WHERE folder_id = ? AND change_number > ?"
                " AND created_cn <= ? ORDER BY change_number",
                (folder_id, change_number, change_number),
            ).fetchall()
        return ItemChanges(
            added=tuple(r[0] for r in current if r[1] > change_number),
            changed=tuple(r[0] for r in current if r[1] <= change_number),
            deleted=tuple(r[0] for r in deleted),
            change_number=mark,
        )

    def hierarchy_changes_since(self, mailbox_id: str, change_number: int) -> HierarchyChanges:
        with self._reading() as conn:
            mark = _require_mailbox(conn, mailbox_id)["change_number"]
            current = conn.execute(
                "SELECT id, created_cn FROM folders WHERE mailbox_id = ? AND change_number > ?"
                " AND hidden = 0 ORDER BY change_number",
                (mailbox_id, change_number),
            ).fetchall()
            deleted = conn.execute(
                "SELECT folder_id FROM folder_tombstones WHERE mailbox_id = ? AND change_number > ?"
                " AND created_cn <= ? ORDER BY change_number",
                (mailbox_id, change_number, change_number),
            ).fetchall()
        return HierarchyChanges(
            added=tuple(r[0] for r in current if r[1] > change_number),
            changed=tuple(r[0] for r in current if r[1] <= change_number),
            deleted=tuple(r[0] for r in deleted),
            change_number=mark,
        )

    # -- sync state in hidden folders --------------------------------------

    def put_state(self, mailbox_id: str, folder_path: str, name: str, data: bytes) -> None:
        state = NewItem(message_class=SYNC_STATE_CLASS, subject=name, mime=data, read=True)
        values = _item_values(state, _db_time(datetime.now(timezone.utc)))
        with self._writing(mailbox_id) as write:
            conn = write.conn
            folder_id = self._state_folder(write, folder_path)
            old = _state_row(conn, folder_id, name)
            _check_quota(conn, mailbox_id, values["size"] - (old["size"] if old else 0))
            if old is None:
                self._insert_items(write, folder_id, [values], _scan_stamp(conn, True))
                return
            conn.execute("UPDATE bodies SET mime = ? WHERE id = ?", (data, old["body_id"]))
            conn.execute(
                "UPDATE items SET size = ?, date_received = ?, change_number = ? WHERE id = ?",
                (values["size"], values["date_received"], write.next_change(folder_id), old["id"]),
            )

    def get_state(self, mailbox_id: str, folder_path: str, name: str) -> bytes:
        with self._reading() as conn:
            folder_id = _find_state_folder(conn, mailbox_id, folder_path)
            row = _state_row(conn, folder_id, name) if folder_id is not None else None
            if row is None:
                raise NoSuchItem(mailbox_id, f"{folder_path}/{name}")
            return conn.execute("SELECT mime FROM bodies WHERE id = ?", (row["body_id"],)).fetchone()[0]

    def delete_state(self, mailbox_id: str, folder_path: str, name: str) -> None:
        with self._writing(mailbox_id) as write:
            folder_id = _find_state_folder(write.conn, mailbox_id, folder_path)
            row = _state_row(write.conn, folder_id, name) if folder_id is not None else None
            if row is not None:
                self._remove_item(write, row)

    def _state_folder(self, write: _Write, folder_path: str) -> int:
        """The hidden folder at ``folder_path`` under the mailbox root, created as needed."""
        conn, mailbox_id = write.conn, write.mailbox_id
        assert mailbox_id is not None
        parent = _role_folder_id(conn, mailbox_id, "root")
        for name in _path_parts(folder_path):
            row = _hidden_child(conn, parent, name)
            if row is None:
                _require_free_name(conn, mailbox_id, parent, name)
                parent = self._insert_folder(write, parent, name, FolderType.UNKNOWN, hidden=True)
            else:
                parent = row["id"]
        return parent

    # -- quotas ------------------------------------------------------------

    def store_quotas(self) -> Quotas:
        with self._reading() as conn:
            return _store_quotas(conn)

    def set_store_quotas(self, quotas: Quotas) -> None:
        with self._writing(None) as write:
            write.conn.execute(
                "UPDATE store SET issue_warning_kb = ?, prohibit_send_kb = ?, prohibit_send_receive_kb = ?",
                (quotas.issue_warning_kb, quotas.prohibit_send_kb, quotas.prohibit_send_receive_kb),
            )

    def set_mailbox_quotas(self, mailbox_id: str, quotas: Quotas | None) -> None:
        limits = quotas or Quotas()
        with self._writing(mailbox_id) as write:
            write.conn.execute(
                "UPDATE mailboxes SET use_store_quotas = ?, issue_warning_kb = ?, prohibit_send_kb = ?,"
                " prohibit_send_receive_kb = ? WHERE id = ?",
                (quotas is None, limits.issue_warning_kb, limits.prohibit_send_kb,
                 limits.prohibit_send_receive_kb, mailbox_id),
            )

    def effective_quotas(self, mailbox_id: str) -> Quotas:
        with self._reading() as conn:
            return _effective_quotas(conn, mailbox_id)

    def mailbox_size(self, mailbox_id: str) -> int:
        with self._reading() as conn:
            return _require_mailbox(conn, mailbox_id)["size"]

    def quota_state(self, mailbox_id: str) -> QuotaState:
        with self._reading() as conn:
            size = _require_mailbox(conn, mailbox_id)["size"]
            return _effective_quotas(conn, mailbox_id).state_for(size)

    # -- virus scanning ----------------------------------------------------

    def current_scan_id(self) -> int:
        with self._reading() as conn:
            return conn.execute("SELECT scan_id FROM store").fetchone()[0]

    def new_scan_id(self) -> int:
        with self._writing(None) as write:
            return write.conn.execute("UPDATE store SET scan_id = scan_id + 1 RETURNING scan_id").fetchone()[0]

    def mark_scanned(self, mailbox_id: str, item_ids: Iterable[int] | None = None) -> int:
        wanted = None if item_ids is None else json.dumps([int(i) for i in item_ids])
        with self._writing(mailbox_id) as write:
            return write.conn.execute(
                "UPDATE items SET scan_stamp = (SELECT scan_id FROM store)"
                " WHERE mailbox_id = ? AND scan_stamp < (SELECT scan_id FROM store)"
                " AND (? IS NULL OR id IN (SELECT value FROM json_each(?)))",
                (mailbox_id, wanted, wanted),
            ).rowcount


# ---------------------------------------------------------------------------
# Row helpers (each takes a connection inside a caller's transaction)
# ---------------------------------------------------------------------------


def _require_mailbox(conn: sqlite3.Connection, mailbox_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone()
    if row is None:
        raise NoSuchMailbox(mailbox_id)
    return row


def _folder_row(conn: sqlite3.Connection, mailbox_id: str, folder_id: int) -> sqlite3.Row:
    row = conn.execute(
        f"{_FOLDER_SELECT} WHERE f.id = ? AND f.mailbox_id = ? AND f.role IS NULL",
        (folder_id, mailbox_id),
    ).fetchone()
    if row is None:
        _require_mailbox(conn, mailbox_id)
        raise NoSuchFolder(mailbox_id, folder_id)
    return row


def _user_folder_row(conn: sqlite3.Connection, mailbox_id: str, folder_id: int, action: str) -> sqlite3.Row:
    row = _folder_row(conn, mailbox_id, folder_id)
    if row["special"]:
        raise SpecialFolderError(mailbox_id, row["display_name"], action)
    return row


def _default_folder_row(conn: sqlite3.Connection, mailbox_id: str, folder_type: FolderType) -> sqlite3.Row:
    row = conn.execute(
        f"{_FOLDER_SELECT} WHERE f.mailbox_id = ? AND f.folder_type = ? AND f.special = 1"
        " AND f.hidden = 0",
        (mailbox_id, int(folder_type)),
    ).fetchone()
    if row is None:
        _require_mailbox(conn, mailbox_id)
        raise NoSuchFolder(mailbox_id, FolderType(folder_type).name)
    return row


def _role_folder_id(conn: sqlite3.Connection, mailbox_id: str, role: str) -> int:
    row = conn.execute(
        "SELECT id FROM folders WHERE mailbox_id = ? AND role = ?", (mailbox_id, role)
    ).fetchone()
    if row is None:
        raise NoSuchMailbox(mailbox_id)
    return row[0]


def _stored_parent(conn: sqlite3.Connection, folder_id: int) -> int:
    return conn.execute("SELECT parent_id FROM folders WHERE id = ?", (folder_id,)).fetchone()[0]


def _public_parent(conn: sqlite3.Connection, folder_id: int) -> int | None:
    """The parent as callers see it: None under "Top of Information Store" or the root."""
    return conn.execute(f"{_FOLDER_SELECT} WHERE f.id = ?", (folder_id,)).fetchone()["parent_id"]


def _subtree_ids(conn: sqlite3.Connection, folder_id: int) -> set[int]:
    """Every folder below ``folder_id`` (not itself)."""
    rows = conn.execute(
        "WITH RECURSIVE below (id) AS (SELECT id FROM folders WHERE parent_id = ?"
        " UNION ALL SELECT f.id FROM folders f JOIN below ON f.parent_id = below.id)"
        " SELECT id FROM below",
        (folder_id,),
    ).fetchall()
    return {r[0] for r in rows}


def _name_taken(
    conn: sqlite3.Connection, mailbox_id: str, parent: int, name: str, except_id: int | None = None
) -> bool:
    return conn.execute(
        "SELECT 1 FROM folders WHERE mailbox_id = ? AND parent_id = ? AND display_name = ?"
        " COLLATE NOCASE AND id IS NOT ?",
        (mailbox_id, parent, name, except_id),
    ).fetchone() is not None


def _require_free_name(
    conn: sqlite3.Connection, mailbox_id: str, parent: int, name: str, except_id: int | None = None
) -> None:
    if _name_taken(conn, mailbox_id, parent, name, except_id):
        raise FolderExists(mailbox_id, name)


def _check_folder_name(display_name: str) -> None:
    if not display_name.strip():
        raise ValueError("A folder needs a display name.")


def _path_parts(folder_path: str) -> list[str]:
    parts = [part for part in folder_path.split("/") if part]
    if not parts:
        raise ValueError("Sync state needs a folder path under the mailbox root.")
    return parts


def _hidden_child(conn: sqlite3.Connection, parent: int, name: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT id FROM folders WHERE parent_id = ? AND display_name = ? COLLATE NOCASE"
        " AND hidden = 1 AND role IS NULL",
        (parent, name),
    ).fetchone()


def _find_state_folder(conn: sqlite3.Connection, mailbox_id: str, folder_path: str) -> int | None:
    """The hidden folder at ``folder_path`` under the mailbox root, in one query.

    A Ping or a Sync reads several state blobs of one device; walking the
    path a level per query made that a dozen and a half statements.
    :raises NoSuchMailbox:
    """
    parts = _path_parts(folder_path)
    joins = "".join(
        f" JOIN folders f{level} ON f{level}.parent_id = f{level - 1}.id"
        f" AND f{level}.display_name = ? COLLATE NOCASE AND f{level}.hidden = 1 AND f{level}.role IS NULL"
        for level in range(1, len(parts) + 1))
    row = conn.execute(f"SELECT f{len(parts)}.id FROM folders f0{joins} WHERE f0.mailbox_id = ? AND f0.role = 'root'",
                       (*parts, mailbox_id)).fetchone()
    if row is None:
        _role_folder_id(conn, mailbox_id, "root")  # the mailbox itself may be gone
        return None
    return row[0]


def _state_row(conn: sqlite3.Connection, folder_id: int, name: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT id, folder_id, body_id, size, created_cn FROM items"
        " WHERE folder_id = ? AND subject = ? AND message_class = ?",
        (folder_id, name, SYNC_STATE_CLASS),
    ).fetchone()


def _item_row(conn: sqlite3.Connection, mailbox_id: str, item_id: int) -> sqlite3.Row:
    row = conn.execute(
        f"SELECT {_ITEM_COLUMNS}, body_id, created_cn FROM items WHERE id = ? AND mailbox_id = ?",
        (item_id, mailbox_id),
    ).fetchone()
    if row is None:
        _require_mailbox(conn, mailbox_id)
        raise NoSuchItem(mailbox_id, item_id)
    return row


def _store_quotas(conn: sqlite3.Connection) -> Quotas:
    row = conn.execute(
        "SELECT issue_warning_kb, prohibit_send_kb, prohibit_send_receive_kb FROM store"
    ).fetchone()
    return Quotas(*row)


def _effective_quotas(conn: sqlite3.Connection, mailbox_id: str) -> Quotas:
    row = _require_mailbox(conn, mailbox_id)
    if row["use_store_quotas"]:
        return _store_quotas(conn)
    return Quotas(row["issue_warning_kb"], row["prohibit_send_kb"], row["prohibit_send_receive_kb"])


def _check_quota(conn: sqlite3.Connection, mailbox_id: str, added: int) -> None:
    """Refuse a write that would leave the mailbox over ProhibitSendReceiveQuota.

    Runs inside the writer's BEGIN IMMEDIATE transaction, so the size it reads
    cannot change before the write lands.
    """
    size = _require_mailbox(conn, mailbox_id)["size"]
    limit = _effective_quotas(conn, mailbox_id).prohibit_send_receive_kb
    if limit is not None and size + added > limit * 1024:
        raise QuotaExceededError(mailbox_id, "ProhibitSendReceiveQuota", limit, size, size + added)


def _scan_stamp(conn: sqlite3.Connection, scanned: bool) -> int:
    return conn.execute("SELECT scan_id FROM store").fetchone()[0] if scanned else 0


# ---------------------------------------------------------------------------
# Conversions
# ---------------------------------------------------------------------------


def _json(properties: Mapping[str, Any]) -> str:
    return json.dumps(dict(properties), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _db_time(moment: datetime) -> str:
    """UTC ISO 8601 with fixed width, so text order is time order. Naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _item_values(item: NewItem, now: str) -> dict[str, Any]:
    """Column values of a new item; ``size`` is what it costs against quota."""
    properties = _json(item.properties) if item.properties else "{}"
    texts = (item.message_class, item.subject, item.sender, item.to, item.cc, properties)
    return {
        "mime": item.mime,
        "message_class": item.message_class,
        "subject": item.subject,
        "sender": item.sender,
        "to": item.to,
        "cc": item.cc,
        "date_sent": _db_time(item.date_sent) if item.date_sent else None,
        "date_received": _db_time(item.date_received) if item.date_received else now,
        "read": bool(item.read),
        "flag_status": int(item.flag_status),
        "importance": int(item.importance),
        "has_attachments": bool(item.has_attachments),
        "properties": properties,
        "size": len(item.mime) + sum(len(text.encode()) for text in texts),
    }


def _mailbox(row: sqlite3.Row) -> Mailbox:
    quotas = None
    if not row["use_store_quotas"]:
        quotas = Quotas(row["issue_warning_kb"], row["prohibit_send_kb"], row["prohibit_send_receive_kb"])
    return Mailbox(row["id"], row["display_name"], row["smtp_address"], quotas, row["change_number"])


def _folder(row: sqlite3.Row) -> Folder:
    return Folder(
        id=row["id"],
        mailbox_id=row["mailbox_id"],
        parent_id=row["parent_id"],
        display_name=row["display_name"],
        folder_type=FolderType(row["folder_type"]),
        hidden=bool(row["hidden"]),
        special=bool(row["special"]),
        change_number=row["change_number"],
    )


def _item(row: sqlite3.Row) -> Item:
    return Item(
        id=row["id"],
        mailbox_id=row["mailbox_id"],
        folder_id=row["folder_id"],
        message_class=row["message_class"],
        subject=row["subject"],
        sender=row["sender"],
        to=row["to_recipients"],
        cc=row["cc_recipients"],
        date_sent=datetime.fromisoformat(row["date_sent"]) if row["date_sent"] else None,
        date_received=datetime.fromisoformat(row["date_received"]),
        read=bool(row["read"]),
        flag_status=FlagStatus(row["flag_status"]),
        importance=Importance(row["importance"]),
        has_attachments=bool(row["has_attachments"]),
        size=row["size"],
        properties=json.loads(row["properties"]),
        change_number=row["change_number"],
        scan_stamp=row["scan_stamp"],
    )
