"""A store killed with SIGKILL mid-delivery reopens consistent and keeps every commit.

A child process delivers, moves, deletes and writes sync state in a loop,
announcing each operation before it starts and again once it has committed.
The parent kills it at a random moment; after reopening, every announced
commit must be there, each transaction of the operation in flight must be
wholly there or wholly absent, and the counters must agree with the rows.
"""
from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from plugins.owa.mailbox import ACTIVESYNC_FOLDER, FolderType, NoSuchItem
from plugins.owa.sqlitestore import SQLiteMailboxStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

REPO = Path(__file__).resolve().parents[2]
ALICE = "CONTOSO\\alice"
STATE_PATH = f"{ACTIVESYNC_FOLDER}/PocketPC/DEVICE1"

# Operation n: deliver "msg n"; every 5th also hard-deletes "msg n-3", every
# 7th moves "msg n-2" to Deleted Items; every 4th rewrites the sync state.
CHILD = textwrap.dedent(
    """
    import sys
    from plugins.owa.mailbox import FolderType
    from plugins.owa.sqlitestore import SQLiteMailboxStore

    path, mailbox, state_path, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = SQLiteMailboxStore(path)
    trash = store.default_folder(mailbox, FolderType.DELETED_ITEMS).id
    ids = {}
    for n in range(start, start + 100_000):
        print("begin", n, flush=True)
        body = ("line %d\\r\\n" % n) * (1 + n % 50)
        mime = ("Subject: msg %d\\r\\nFrom: bob@contoso.com\\r\\n\\r\\n%s" % (n, body)).encode()
        ids[n] = store.deliver(mailbox, mime).id
        if n % 5 == 0 and n - 3 in ids:
            store.delete_items(mailbox, [ids.pop(n - 3)], hard=True)
        if n % 7 == 0 and n - 2 in ids:
            store.move_item(mailbox, ids.pop(n - 2), trash)
        if n % 4 == 0:
            store.put_state(mailbox, state_path, "SyncKey", b"%d" % n * 200)
        print("done", n, flush=True)
    """
)


def replay(
    start: int, done: int, state: int | None, in_flight_steps: int = 0
) -> tuple[dict[str, str], int | None]:
    """The child's rules replayed: each message's folder and the last sync state
    after operations start..done plus the first steps (transactions) of the next."""
    where: dict[int, str] = {}
    alive: set[int] = set()  # the child's ``ids``
    for n in range(start, done + 2):
        steps = [("deliver", n)]
        if n % 5 == 0 and n - 3 in alive:
            steps.append(("delete", n - 3))
        if n % 7 == 0 and n - 2 in alive:
            steps.append(("move", n - 2))
        if n % 4 == 0:
            steps.append(("state", n))
        if n == done + 1:
            steps = steps[:in_flight_steps]
        for verb, m in steps:
            if verb == "deliver":
                where[m] = "Inbox"
                alive.add(m)
            elif verb == "delete":
                del where[m]
                alive.discard(m)
            elif verb == "move":
                where[m] = "Deleted Items"
                alive.discard(m)
            else:
                state = m
    return {f"msg {n}": folder for n, folder in where.items()}, state


def number(subject: str) -> int:
    return int(subject.split()[1])


def run_child_and_kill(db: Path, start: int, rng: random.Random) -> tuple[int, int | None]:
    """Returns (last operation announced done, operation in flight or None)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), ALICE, STATE_PATH, str(start)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    kill_after = rng.randint(3, 40)
    done, in_flight = start - 1, None
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"child died on its own: {child.stderr.read()}")
            verb, n = line.split()
            if verb == "begin":
                in_flight = int(n)
            else:
                done, in_flight = int(n), None
                if done - start + 1 >= kill_after:
                    break
        time.sleep(rng.uniform(0, 0.02))  # land the kill anywhere in the next operation
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        for line in child.stdout.read().splitlines():  # what it managed to say before dying
            verb, n = line.split()
            if verb == "begin":
                in_flight = int(n)
            else:
                done, in_flight = int(n), None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        child.stdout.close()
        child.stderr.close()
    return done, in_flight


def assert_consistent(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute(
            "SELECT count(*) FROM items LEFT JOIN bodies ON bodies.id = items.body_id"
            " WHERE bodies.id IS NULL"
        ).fetchone()[0] == 0, "an item lost its MIME"
        assert conn.execute(
            "SELECT count(*) FROM bodies WHERE id NOT IN (SELECT body_id FROM items)"
        ).fetchone()[0] == 0, "a body outlived its item"
        assert conn.execute(
            "SELECT count(*) FROM items JOIN bodies ON bodies.id = items.body_id WHERE items.size !="
            " length(mime) + length(CAST(message_class AS BLOB)) + length(CAST(subject AS BLOB))"
            " + length(CAST(sender AS BLOB)) + length(CAST(to_recipients AS BLOB))"
            " + length(CAST(cc_recipients AS BLOB)) + length(CAST(properties AS BLOB))"
        ).fetchone()[0] == 0, "an item's size disagrees with its MIME and properties"
        size, total = conn.execute(
            "SELECT size, (SELECT coalesce(sum(size), 0) FROM items) FROM mailboxes"
        ).fetchone()
        assert size == total, "the quota counter disagrees with the items"
        highest = conn.execute(
            "SELECT max(change_number) FROM (SELECT change_number FROM items UNION ALL"
            " SELECT change_number FROM folders UNION ALL SELECT change_number FROM item_tombstones)"
        ).fetchone()[0]
        assert conn.execute("SELECT change_number FROM mailboxes").fetchone()[0] == highest
    conn.close()


def test_killed_delivery_loop_leaves_a_consistent_store_with_every_commit(tmp_path):
    db = tmp_path / "mailstore.db"
    with SQLiteMailboxStore(db) as store:
        store.create_mailbox(ALICE, "Alice Smith", "alice@contoso.com")
    seed = time.time_ns()
    rng = random.Random(seed)
    start, state = 1, None
    for _round in range(3):
        done, in_flight = run_child_and_kill(db, start, rng)
        assert_consistent(db)
        with SQLiteMailboxStore(db) as store:
            found: dict[str, str] = {}
            for folder_type in (FolderType.INBOX, FolderType.DELETED_ITEMS):
                folder = store.default_folder(ALICE, folder_type)
                listed = store.list_items(ALICE, folder.id, limit=100_000)
                assert len(listed) == store.count_items(ALICE, folder.id)
                found |= {i.subject: folder.display_name for i in listed if number(i.subject) >= start}
            try:
                blob = store.get_state(ALICE, STATE_PATH, "SyncKey")
                found_state = int(blob[: len(blob) // 200])
            except NoSuchItem:
                found_state = None
        outcomes = [replay(start, done, state)]
        if in_flight is not None:
            outcomes += [replay(start, done, state, steps) for steps in range(1, 5)]
        assert (found, found_state) in outcomes, f"seed {seed}: after op {done}, op {in_flight} in flight"
        state = found_state
        start = done + 2  # fresh numbers, so each round replays only its own rules
