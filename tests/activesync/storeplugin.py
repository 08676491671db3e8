"""A throwaway plugin that opens the SQLite mailbox store, until the owa plugin ships its own."""
from __future__ import annotations

from host import hookimpl
from plugins.owa.sqlitestore import SQLiteMailboxStore


@hookimpl(trylast=True)
def open_mailbox_store(service):
    return SQLiteMailboxStore(service.data_dir / "mailstore.db")
