"""Mailbox server benchmarks: SMTP delivery, changed-since queries, seeding, PROPFIND.

- delivery rate over real SMTP (smtplib to the lab's SMTP virtual server on
  127.0.0.1, one connection per round), messages/s, median of rounds;
- ``changes_since`` with 10 changes after the mark in folders of 1k, 10k
  and 100k items: it must stay flat, so the 100k/1k ratio should be near 1;
- ``mailbox seed`` speed (generated MIME through the store's bulk path);
- PROPFIND (Depth 1) of a 10k-item folder through /exchange, once the WebDAV
  handler (davex.dll) is registered.

    python3 bench/store_bench.py [--quick]

The host loads the installed plugins (entry points); ``EASLAB_PLUGINS``
restricts them as for ``python -m host``.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import random
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from email import policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import spnego  # noqa: E402
from lxml import etree  # noqa: E402

from host.plugins import collect, make_plugin_manager  # noqa: E402
from host.regfile import RegType  # noqa: E402
from host.service import WebService  # noqa: E402
from host.testing import registry_text  # noqa: E402
from plugins.owa.mailbox import FolderType, NewItem  # noqa: E402
from plugins.owa.mailboxes import ensure_mailbox  # noqa: E402
from plugins.owa.seed import EXTERNAL_PEOPLE, Person, SeedPlan, seed_mailbox  # noqa: E402
from plugins.owa.sqlitestore import SQLiteMailboxStore  # noqa: E402

WEBDAV_HANDLER = "davex.dll"
MAILBOX = "CONTOSO\\bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_host(workdir: Path) -> tuple[WebService, dict[str, int]]:
    ports = {"http": free_port(), "https": free_port(), "smtp": free_port()}
    text = registry_text([("/LM/SMTPSVC/1", "ServerBindings", RegType.REG_MULTI_SZ, [f"127.0.0.1:{ports['smtp']}:"])])
    text = (text.replace('"127.0.0.1:8080:"', f'"127.0.0.1:{ports["http"]}:"')
            .replace('"127.0.0.1:8443:"', f'"127.0.0.1:{ports["https"]}:"'))
    (workdir / "registry.ini").write_text(text, encoding="utf-8")
    pm = make_plugin_manager()
    service = WebService(workdir / "registry.ini", workdir / "data", pm=pm, announce=lambda line: None)
    service.start()
    return service, ports


# --- delivery over SMTP -----------------------------------------------------------


def delivery_rate(port: int, rounds: int, per_round: int) -> list[float]:
    """Messages/s for each round of ``per_round`` messages on one SMTP connection."""
    rates = []
    for r in range(rounds):
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            for n in range(per_round):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "bench@fabrikam.com", "alice@contoso.com", f"bench {r}/{n}"
                msg.set_content("A line of text.\n" * 40)
                client.sendmail("bench@fabrikam.com", ["alice@contoso.com"], msg.as_bytes(policy=policy.SMTP))
        rates.append(per_round / (time.perf_counter() - started))
    return rates


# --- changed-since ----------------------------------------------------------------


def bulk_items(count: int) -> list[NewItem]:
    body = b"From: bob@contoso.com\r\nSubject: bench\r\n\r\n" + b"x" * 400
    return [NewItem(subject=f"bench {n}", sender="bob@contoso.com", mime=body) for n in range(count)]


def changes_since_times(sizes: list[int], runs: int) -> dict[int, float]:
    """Median seconds of ``changes_since`` with 10 changes (4 updates, 3 adds, 3 deletes) after the mark."""
    rng = random.Random(2003)
    medians = {}
    with tempfile.TemporaryDirectory() as tmp, SQLiteMailboxStore(Path(tmp) / "mailstore.db") as store:
        store.create_mailbox(MAILBOX, "Bench", "bench@contoso.com")
        folder = store.default_folder(MAILBOX, FolderType.INBOX).id
        held = 0
        for size in sizes:
            for start in range(held, size, 5000):
                store.add_items(MAILBOX, folder, bulk_items(min(5000, size - start)))
            held = size
            mark = store.get_mailbox(MAILBOX).change_number
            picked = rng.sample([i.id for i in store.list_items(MAILBOX, folder, limit=50)], 7)
            for item_id in picked[:4]:
                store.update_item(MAILBOX, item_id, read=True)
            store.add_items(MAILBOX, folder, bulk_items(3))
            store.delete_items(MAILBOX, picked[4:], hard=True)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                changes = store.changes_since(MAILBOX, folder, mark)
                times.append(time.perf_counter() - started)
            assert len(changes.added) + len(changes.changed) + len(changes.deleted) == 10
            medians[size] = statistics.median(times)
    return medians


# --- seeding ----------------------------------------------------------------------


def seed_time(count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, SQLiteMailboxStore(Path(tmp) / "mailstore.db") as store:
        store.create_mailbox(MAILBOX, "Bench", "bench@contoso.com")
        started = time.perf_counter()
        seed_mailbox(store, MAILBOX, Person("Bench", "bench@contoso.com"), list(EXTERNAL_PEOPLE),
                     SeedPlan(messages=count), seed=1, now=datetime.now(timezone.utc))
        return time.perf_counter() - started


# --- PROPFIND of a 10k-item folder ---------------------------------------------------

PROPFIND_BODY = (b'<?xml version="1.0"?><a:propfind xmlns:a="DAV:" xmlns:d="urn:schemas:httpmail:">'
                 b"<a:prop><d:subject/><d:read/><a:getcontentlength/></a:prop></a:propfind>")


def webdav_registered(pm) -> bool:
    """Whether a plugin answers to the script map name of Exchange's /exchange vdir."""
    return WEBDAV_HANDLER in {handler.name.casefold() for handler in collect(pm.hook.register_handlers())}


def _ntlm_connection(port: int) -> http.client.HTTPConnection:
    """A keep-alive connection NTLM-authenticated as CONTOSO\\alice (IIS keeps NTLM per connection)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    client = spnego.client("CONTOSO\\alice", "P@ssw0rd", protocol="ntlm")
    token = client.step()
    for _ in range(2):
        conn.request("OPTIONS", "/exchange/alice/", headers={"Authorization": "NTLM " + base64.b64encode(token).decode()})
        response = conn.getresponse()
        response.read()
        challenge = response.getheader("WWW-Authenticate", "")
        if response.status != 401 or not challenge.startswith("NTLM "):
            break
        token = client.step(base64.b64decode(challenge[5:]))
    return conn


def propfind_10k_folder(service: WebService, http_port: int, rounds: int = 5) -> float | None:
    """Median seconds of a Depth: 1 PROPFIND of a 10,000-item folder over NTLM; None without davex.dll."""
    if not webdav_registered(service.pm):
        return None
    user = service.directory.find("CONTOSO\\alice")
    mailbox = ensure_mailbox(service, user)
    store = service.mailstore
    folder = store.create_folder(mailbox, store.default_folder(mailbox, FolderType.INBOX).id, "Bench 10k")
    seed_mailbox(store, mailbox, Person(user.display_name, user.primary_smtp), list(EXTERNAL_PEOPLE),
                 SeedPlan(messages=10000), seed=2, now=datetime.now(timezone.utc), mail_folder_id=folder.id)
    conn = _ntlm_connection(http_port)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        conn.request("PROPFIND", "/exchange/alice/Inbox/Bench%2010k/", body=PROPFIND_BODY,
                     headers={"Depth": "1", "Translate": "f", "Content-Type": "text/xml"})
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - started)
        responses = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
        assert response.status == 207 and len(responses.findall("{DAV:}response")) > 10000, len(responses)
    conn.close()
    return statistics.median(times)


# --- report -----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds (a smoke run)")
    args = parser.parse_args()
    rounds, per_round = (3, 50) if args.quick else (5, 200)
    sizes = [1000, 5000, 10000] if args.quick else [1000, 10000, 100000]
    with tempfile.TemporaryDirectory() as tmp:
        service, ports = start_host(Path(tmp))
        try:
            rates = delivery_rate(ports["smtp"], rounds, per_round)
            print(f"SMTP delivery: {statistics.median(rates):.0f} messages/s "
                  f"(median of {rounds} rounds of {per_round}; {min(rates):.0f}-{max(rates):.0f})")
            registered = webdav_registered(service.pm)
            propfind = propfind_10k_folder(service, ports["http"])
        finally:
            service.stop()
    medians = changes_since_times(sizes, runs=100 if args.quick else 300)
    for size, seconds in medians.items():
        print(f"changes_since, {size:>7,} items: {seconds * 1e6:8.0f} us")
    print(f"changes_since {sizes[-1]:,}/{sizes[0]:,} ratio: {medians[sizes[-1]] / medians[sizes[0]]:.2f} "
          "(about 1 = flat)")
    count = 2000 if args.quick else 10000
    print(f"mailbox seed --messages {count:,}: {seed_time(count):.1f} s")
    if propfind is None:
        why = "" if registered else f" ({WEBDAV_HANDLER} is not registered)"
        print(f"PROPFIND of a 10k-item folder: not yet measured{why}")
    else:
        print(f"PROPFIND of a 10k-item folder: {propfind * 1000:.0f} ms")


if __name__ == "__main__":
    main()
