"""Does ``changes_since`` stay flat as a folder grows? And how fast does the store take mail?

Ping and Sync ask for the changes of a folder after a mark many times a
minute; that must cost the number of changes, not the folder size. For
folders of 1k, 10k and 100k items this prints the median time of
``changes_since`` with 10 changes after the mark, the 100k/1k ratio (about
1 means flat), the bulk insertion rate (``add_items``, one transaction) and
the one-message-per-transaction delivery rate (MIME parsing and an fsync each).

    python3 bench/store_changes.py
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins.owa.mailbox import NewItem  # noqa: E402
from plugins.owa.sqlitestore import SQLiteMailboxStore  # noqa: E402

MAILBOX = "CONTOSO\\bench"


def bulk_items(count: int) -> list[NewItem]:
    body = b"From: bob@contoso.com\r\nSubject: bench\r\n\r\n" + b"x" * 400
    return [NewItem(subject=f"bench {n}", sender="bob@contoso.com", mime=body) for n in range(count)]


def median_changes_since(store: SQLiteMailboxStore, folder_id: int, rng: random.Random, runs: int) -> tuple[float, int]:
    """Make 10 changes (4 reads, 3 adds, 3 deletes) after a mark, then time the query."""
    mark = store.get_mailbox(MAILBOX).change_number
    ids = [i.id for i in store.list_items(MAILBOX, folder_id, limit=50)]
    picked = rng.sample(ids, 7)
    for item_id in picked[:4]:
        store.update_item(MAILBOX, item_id, read=True)
    store.add_items(MAILBOX, folder_id, bulk_items(3))
    store.delete_items(MAILBOX, picked[4:], hard=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        changes = store.changes_since(MAILBOX, folder_id, mark)
        times.append(time.perf_counter() - started)
    found = len(changes.added) + len(changes.changed) + len(changes.deleted)
    return statistics.median(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="changes_since calls per size")
    parser.add_argument("--deliveries", type=int, default=200, help="single deliveries to time")
    args = parser.parse_args()
    rng = random.Random(2003)
    with tempfile.TemporaryDirectory() as tmp, SQLiteMailboxStore(Path(tmp) / "mailstore.db") as store:
        store.create_mailbox(MAILBOX, "Bench", "bench@contoso.com")
        medians = {}
        print(f"{'items':>8} {'build s':>8} {'items/s':>9} {'changes_since median':>21} {'changes':>8}")
        for size in (1_000, 10_000, 100_000):
            folder = store.create_folder(MAILBOX, None, f"Bulk {size}")
            items = bulk_items(size)
            started = time.perf_counter()
            store.add_items(MAILBOX, folder.id, items)
            build = time.perf_counter() - started
            medians[size], found = median_changes_since(store, folder.id, rng, args.runs)
            print(f"{size:>8} {build:>8.2f} {size / build:>9,.0f} {medians[size] * 1e6:>18.1f} us {found:>8}")
        print(f"changes_since ratio 100k/1k: {medians[100_000] / medians[1_000]:.2f}")

        inbox = store.folder_by_path(MAILBOX, "Inbox").id
        mime = b"From: bob@contoso.com\r\nTo: bench@contoso.com\r\nSubject: hi\r\n\r\n" + b"y" * 400
        started = time.perf_counter()
        for _ in range(args.deliveries):
            store.deliver(MAILBOX, mime, folder_id=inbox)
        elapsed = time.perf_counter() - started
        print(f"deliver() one per transaction (synchronous=FULL): {args.deliveries / elapsed:,.0f} items/s")


if __name__ == "__main__":
    main()
