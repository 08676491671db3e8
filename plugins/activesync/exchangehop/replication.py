"""What changed since a mark, asked the WebDAV replication way over the hop.

A replication SEARCH (``<R:repl><R:collblob>``) answers adds, changes and
deletions after the moment its collblob stands for, and a new collblob. The
command layer asks with a *mark*; :mod:`.ledger` says which collblob a mark
stands for:

* the collblob of that very mark: the answer is exact;
* else the collblob of the newest older mark: rows that did not change after
  the mark are left out (their change number says so); deletions cannot be
  dated and stay, so a device may hear of a deletion twice;
* else none (an empty collblob): the whole manifest, rows after the mark.

An answer with changes gets a new mark, the mailbox's change number at the
moment the server made its collblob: it lies between a reading of the
mailbox root's change number before the SEARCH and one after it, so when the
two agree (or the answer's newest row already carries the later one) the mark
is exact and recorded. Under a stream of writes that never settles within
:data:`EXACT_TRIES` the answer still counts, with a mark at or below its
collblob that is not recorded. An answer without changes keeps the caller's
mark: the server leaves items pending a virus scan out of every answer
(KB827615), and moving the mark past them would lose them for good.
"""
from __future__ import annotations

from plugins.activesync.backend import FolderNotFound, MailboxFull
from plugins.activesync.exchangehop import davxml, ledger
from plugins.activesync.exchangehop.davxml import CHANGE_NUMBER, REPL_UID, record_id, sql_name

EXACT_TRIES = 3  # attempts to read a collblob's change number between two equal readings


def _ledger(access, scope: str) -> ledger.Ledger:
    found = access.ledgers.get(access.mailbox_id, scope)
    if not found.loaded:
        found.merge(access.get_state(ledger.FOLDER, scope))
    return found


def changes_since(access, scope: str, url: str, traversal: str, mark: int, kind: str, *,
                  record_empty: bool = False) -> tuple[list[int], list[int], list[int], int]:
    """(added, changed, deleted store ids, new mark) after ``mark`` in ``url``'s ``traversal``.

    :param access: the request's ExchangeHopAccess.
    :param scope: the ledger's name for the collection (``Hierarchy``, ``Folder-7``).
    :param kind: ``f`` for folders (the hierarchy), ``i`` for items.
    :param record_empty: give the whole manifest a mark even without rows (a FolderSync's first mark).
    """
    book = _ledger(access, scope)
    found = book.lookup(mark) if mark > 0 else None
    base_mark, blob = found if found is not None else (0, "")
    select = f"SELECT {sql_name(REPL_UID)}, {sql_name(CHANGE_NUMBER)} FROM SCOPE('{traversal} traversal of \"{url}\"')"
    missing = FolderNotFound(f"{url} names no folder") if kind == "i" else None

    def fetch() -> davxml.Multistatus:
        return access.search(url, select, collblob=blob, missing=missing)[1]

    # A whole manifest nearly always has changes: read the change number around it at once.
    before = access.mailbox_change_number() if base_mark == 0 and (mark == 0 or record_empty) else None
    answer = fetch()
    changes = sorted_changes(answer, kind, base_mark, mark)
    if not any(changes) and not record_empty:
        return [], [], [], mark
    exact, floor, answer = _exact_mark(access, answer, fetch, before)
    changes = sorted_changes(answer, kind, base_mark, mark)
    if exact is None:
        return (*changes, max(floor, mark))
    if answer.collblob and book.record(exact, answer.collblob):
        try:
            access.put_state(ledger.FOLDER, scope, book.to_json())
        except MailboxFull:
            pass  # kept in this process; written with the next mark that fits
    return (*changes, exact)


def _exact_mark(access, answer: davxml.Multistatus, fetch,
                before: int | None) -> tuple[int | None, int, davxml.Multistatus]:
    """(the collblob's change number or None, a change number not above it, the answer it belongs to)."""
    after = access.mailbox_change_number()
    newest = max((r.value(CHANGE_NUMBER, 0) for r in answer.resources if r.changetype != "delete"), default=-1)
    if after in (newest, before):  # nothing moved the mailbox between the readings
        return after, after, answer
    floor = newest
    for _ in range(EXACT_TRIES):
        floor = access.mailbox_change_number()
        answer = fetch()
        if access.mailbox_change_number() == floor:
            return floor, floor, answer
    return None, floor, answer


def sorted_changes(answer: davxml.Multistatus, kind: str, base_mark: int,
                   mark: int) -> tuple[list[int], list[int], list[int]]:
    """Adds, changes and deletions of an answer; from an older collblob only rows changed after ``mark``."""
    added, changed, deleted = [], [], []
    for row in answer.resources:
        record = record_id(row.text(REPL_UID), kind)
        if record is None:
            continue
        if row.changetype == "delete":
            deleted.append(record)
        elif base_mark < mark and int(row.value(CHANGE_NUMBER, 0)) <= mark:
            continue
        elif row.changetype == "change":
            changed.append(record)
        else:
            added.append(record)
    return added, changed, deleted
