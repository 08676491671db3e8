"""The SQLite mailbox store's schema, as ordered migrations applied on open.

The SQL lives here as Python strings, not ``.sql`` files, so it ships inside
the package without package-data configuration. Append a migration to change
the schema; never edit one that has shipped, because databases already
migrated past it will not run it again.

Mailbox sizes change in the same transaction as the item rows, so the quota
counter can never disagree with the items after a crash.
"""
from __future__ import annotations

import sqlite3

from plugins.owa.mailbox import SYNC_STATE_CLASS, StoreError

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        f"""
        CREATE TABLE store (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            scan_id INTEGER NOT NULL DEFAULT 1,
            issue_warning_kb INTEGER,
            prohibit_send_kb INTEGER,
            prohibit_send_receive_kb INTEGER
        );
        INSERT INTO store (id) VALUES (1);

        CREATE TABLE mailboxes (
            id TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            smtp_address TEXT NOT NULL UNIQUE COLLATE NOCASE,
            use_store_quotas INTEGER NOT NULL DEFAULT 1,
            issue_warning_kb INTEGER,
            prohibit_send_kb INTEGER,
            prohibit_send_receive_kb INTEGER,
            change_number INTEGER NOT NULL DEFAULT 0,
            size INTEGER NOT NULL DEFAULT 0
        );

        -- role: 'root' (the mailbox root, non-IPM) or 'ipm_subtree' ("Top of
        -- Information Store"); both are internal and never returned.
        CREATE TABLE folders (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            mailbox_id TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES folders (id) ON DELETE CASCADE,
            role TEXT,
            display_name TEXT NOT NULL,
            folder_type INTEGER NOT NULL,
            hidden INTEGER NOT NULL,
            special INTEGER NOT NULL,
            change_number INTEGER NOT NULL,
            created_cn INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX folders_by_name ON folders (parent_id, display_name COLLATE NOCASE);
        CREATE INDEX folders_by_change ON folders (mailbox_id, change_number);

        CREATE TABLE folder_tombstones (
            mailbox_id TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
            folder_id INTEGER NOT NULL,
            change_number INTEGER NOT NULL,
            created_cn INTEGER NOT NULL
        );
        CREATE INDEX folder_tombstones_by_change ON folder_tombstones (mailbox_id, change_number);

        -- The MIME (or sync state blob) apart from the item row, so listings
        -- and change scans never page through message bodies.
        CREATE TABLE bodies (
            id INTEGER PRIMARY KEY,
            mime BLOB NOT NULL
        );

        -- created_cn: the change number at which the item arrived in its
        -- folder; it tells an add from a change after a sync mark.
        -- mailbox_id copies the folder's, for per-mailbox queries; the folder's
        -- foreign key already ties the item to the mailbox.
        CREATE TABLE items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            mailbox_id TEXT NOT NULL,
            folder_id INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
            body_id INTEGER NOT NULL REFERENCES bodies (id),
            message_class TEXT NOT NULL,
            subject TEXT NOT NULL,
            sender TEXT NOT NULL,
            to_recipients TEXT NOT NULL,
            cc_recipients TEXT NOT NULL,
            date_sent TEXT,
            date_received TEXT NOT NULL,
            read INTEGER NOT NULL,
            flag_status INTEGER NOT NULL,
            importance INTEGER NOT NULL,
            has_attachments INTEGER NOT NULL,
            size INTEGER NOT NULL,
            properties TEXT NOT NULL,
            change_number INTEGER NOT NULL,
            created_cn INTEGER NOT NULL,
            scan_stamp INTEGER NOT NULL
        );
        CREATE INDEX items_by_change ON items (folder_id, change_number, created_cn);
        CREATE INDEX items_by_date ON items (folder_id, date_received DESC, id DESC);
        CREATE INDEX items_by_body ON items (body_id);
        CREATE INDEX items_by_state_name ON items (folder_id, subject)
            WHERE message_class = '{SYNC_STATE_CLASS}';

        CREATE TABLE item_tombstones (
            folder_id INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL,
            change_number INTEGER NOT NULL,
            created_cn INTEGER NOT NULL
        );
        CREATE INDEX item_tombstones_by_change ON item_tombstones (folder_id, change_number);

        -- A move inserts the new row before deleting the old one, so a body
        -- goes only when no item refers to it any more.
        --
        -- mailboxes.size: the code adds what it inserts, once per batch (a
        -- per-row insert trigger halves bulk import speed); triggers take off
        -- what is deleted, so folder deletes cascading to items are counted.
        CREATE TRIGGER items_release_body AFTER DELETE ON items
        WHEN NOT EXISTS (SELECT 1 FROM items WHERE body_id = OLD.body_id)
        BEGIN
            DELETE FROM bodies WHERE id = OLD.body_id;
        END;
        CREATE TRIGGER items_size_delete AFTER DELETE ON items
        BEGIN
            UPDATE mailboxes SET size = size - OLD.size WHERE id = OLD.mailbox_id;
        END;
        CREATE TRIGGER items_size_update AFTER UPDATE OF size ON items
        BEGIN
            UPDATE mailboxes SET size = size - OLD.size + NEW.size WHERE id = NEW.mailbox_id;
        END;
        """,
    ),
)


def statements(script: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies whole.

    ``executescript`` would commit on its own; running statements one by one
    keeps each migration inside the transaction that also bumps the version.
    """
    found: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:60]!r}")
    return found


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the newest schema; returns the version it is at.

    Each migration runs under BEGIN IMMEDIATE and re-reads the version once it
    holds the lock, so a CLI process and the host opening the same new
    database at once migrate it exactly once.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    newest = MIGRATIONS[-1][0]
    for version, script in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = _version(conn)
            if current > newest:
                raise StoreError(
                    f"The mailbox store database is at schema version {current}, newer "
                    f"than this code knows ({newest}). Upgrade easlab before opening it."
                )
            if current < version:
                for statement in statements(script):
                    conn.execute(statement)
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return _version(conn)


def _version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return row[0] or 0
