"""MASSYNC benchmark: a seeded mailbox, real HTTP on 127.0.0.1, one device and then many.

    python bench/eas_bench.py [--persona "Exchange 2016"] [--messages 1000 10000]
                              [--pings 200] [--deliveries 50] [--seconds 3]

For each mailbox size: OPTIONS, Provision, FolderSync, the initial Sync of
the Inbox with WindowSize 100 and 512 (time and bytes), the no-change Sync
(latency percentiles and requests/s, one device, then 4 in parallel); then
N held Pings (the host's RSS before and after, the latency of other
requests meanwhile) and the time from a delivery to the Ping answer
(median, p99). Deliveries go straight into the store (the SMTP listener is
not part of this bench). Targets for the 2016 persona (issue 5): no-change
Sync under 20 ms at 10k, independent of size; initial Sync of 10k under
25 s; delivery to Ping answer p99 under 1 s.

Each held Ping takes one listener thread, so the host runs with
``pings + 16`` threads; waitress also caps open connections at 100 per
listener, so more than about 90 held Pings need that limit raised in
host/listeners.py first (see plugins/activesync/README.md). Every loop is
bounded; the host stops at the end. Run from the project root.
"""
from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from host.regfile import RegType  # noqa: E402
from host.service import WebService  # noqa: E402
from host.testing import registry_text  # noqa: E402
from plugins.activesync.plugin import EXCHANGE_SETUP, push_hub  # noqa: E402
from plugins.owa.mailbox import FolderType, NewItem  # noqa: E402
from plugins.owa.mailboxes import ensure_mailbox  # noqa: E402
from tests.activesync.easclient import EasClient, HttpWire  # noqa: E402

VERSIONS = {"Exchange 2003 SP2": "2.5", "Exchange 2007 SP1": "12.1", "Exchange 2010 SP1": "14.1",
            "Exchange 2016": "16.1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def mime(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@contoso.com", "alice@contoso.com", f"Bench message {n}"
    msg.set_content(f"Message {n} of the benchmark mailbox.\n" + "Lorem ipsum dolor sit amet. " * 20)
    return msg.as_bytes()


class Host:
    def __init__(self, workdir: Path, persona: str, threads: int) -> None:
        self.port = free_port()
        text = registry_text([(EXCHANGE_SETUP, "EmulatedVersion", RegType.REG_SZ, persona),
                              ("/LM/W3SVC/1", "ServerBindings", RegType.REG_MULTI_SZ, [f"127.0.0.1:{self.port}:"]),
                              ("/LM/W3SVC/1", "SecureBindings", RegType.REG_MULTI_SZ, [])])
        (workdir / "registry.ini").write_text(text, encoding="utf-8")
        self.service = WebService(workdir / "registry.ini", workdir / "data", announce=lambda line: None,
                                  threads=16, max_threads=threads)
        self.service.start()
        self.store = self.service.mailstore
        self.user = self.service.directory.find("alice")
        self.mailbox = ensure_mailbox(self.service, self.user)
        self.inbox = self.store.default_folder(self.mailbox, FolderType.INBOX).id

    def seed(self, count: int) -> None:
        have = self.store.count_items(self.mailbox, self.inbox)
        base = datetime.now(timezone.utc) - timedelta(minutes=count)
        for start in range(have, count, 1000):
            batch = range(start, min(count, start + 1000))
            self.store.add_items(self.mailbox, self.inbox, [
                NewItem.from_mime(mime(n), date_received=base + timedelta(minutes=n)) for n in batch])

    def device(self, version: str, name: str) -> EasClient:
        return EasClient(HttpWire("127.0.0.1", self.port, timeout=3600), version=version, device_id=name)

    def stop(self) -> None:
        push_hub(self.service).shutdown()
        self.service.stop()


def timed(fn):
    began = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - began


def prepared(host: Host, version: str, name: str) -> tuple[EasClient, str]:
    device = host.device(version, name)
    device.provision()
    folders = device.folder_sync()
    return device, device.folder_id(folders, 2)


def initial_sync(device: EasClient, inbox: str, window: int) -> tuple[float, int, int, str]:
    """(seconds, bytes, items, final key) of a full initial Sync."""
    began, size, count = time.perf_counter(), 0, 0
    answer = device.sync(inbox, "0", klass="Email")
    key = answer.text("as:Collections/as:Collection/as:SyncKey")
    for _ in range(100_000 // window + 2):
        answer = device.sync(inbox, key, window=window, klass="Email")
        size += len(answer.body)
        count += len(answer.findall(".//as:Commands/as:Add"))
        key = answer.text("as:Collections/as:Collection/as:SyncKey") or key
        if answer.find(".//as:MoreAvailable") is None:
            break
    return time.perf_counter() - began, size, count, key


def no_change(device: EasClient, inbox: str, key: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(latencies) < 100_000:
        _, took = timed(lambda: device.sync(inbox, key, klass="Email"))
        latencies.append(took)
    return latencies


def report(label: str, latencies: list[float], seconds: float) -> None:
    print(f"  {label}: {len(latencies) / seconds:8.1f} req/s  median {statistics.median(latencies) * 1000:7.2f} ms"
          f"  p99 {percentile(latencies, 99) * 1000:7.2f} ms")


def bench_size(host: Host, version: str, messages: int, seconds: float) -> None:
    host.seed(messages)
    print(f"\n== mailbox with {host.store.count_items(host.mailbox, host.inbox)} messages ==")
    device = host.device(version, f"BENCH{messages}")
    for step, call in (("OPTIONS", device.options), ("Provision", device.provision),
                       ("FolderSync", lambda: device.folder_sync())):
        _, took = timed(call)
        print(f"  {step:<11} {took * 1000:8.1f} ms")
    inbox = device.folder_id(device.folder_sync(), 2)
    key = ""
    for window in (100, 512):
        took, size, count, key = initial_sync(device, inbox, window)
        print(f"  initial Sync WindowSize {window:>3}: {took:7.2f} s  {size / 1e6:7.2f} MB  {count} items")
    report("no-change Sync, 1 device ", no_change(device, inbox, key, seconds), seconds)
    devices = []
    for n in range(4):
        other, folder = prepared(host, version, f"PAR{messages}X{n}")
        devices.append((other, folder, initial_sync(other, folder, 512)[3]))
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda d: no_change(d[0], d[1], d[2], seconds), devices))
    report("no-change Sync, 4 devices", [x for run in runs for x in run], seconds)


def bench_ping(host: Host, version: str, pings: int, deliveries: int) -> None:
    print(f"\n== {pings} held Pings ==")
    before = rss_mb()
    holders = []
    for n in range(pings):
        device, inbox = prepared(host, version, f"PING{n}")
        holders.append((device, inbox))
    stop = threading.Event()
    answered: list[float] = []  # when the watcher's Ping answered status 2

    def watch(device: EasClient, inbox: str) -> None:
        key = device.sync(inbox, "0", klass="Email").text("as:Collections/as:Collection/as:SyncKey")
        for _ in range(1000):  # bounded: catch up before the first Ping
            answer = device.sync(inbox, key, window=512, klass="Email")
            key = answer.text("as:Collections/as:Collection/as:SyncKey") or key
            if answer.find(".//as:MoreAvailable") is None:
                break
        for _ in range(deliveries + 2):
            if stop.is_set():
                return
            try:
                if device.ping(600, [(inbox, "Email")]).text("ping:Status") != "2":
                    continue
                answered.append(time.perf_counter())
                answer = device.sync(inbox, key, klass="Email")
            except (OSError, http.client.HTTPException):  # the host stopped under us: done
                return
            key = answer.text("as:Collections/as:Collection/as:SyncKey") or key

    threads = [threading.Thread(target=watch, args=holders[0], daemon=True)]
    threads += [threading.Thread(target=lambda d=d, i=i: d.ping(600, [(i, "Email")]), daemon=True)
                for d, i in holders[1:]]
    for thread in threads:
        thread.start()
    for _ in range(600):  # bounded: up to 60 s for every Ping to be held
        if push_hub(host.service).held >= pings:
            break
        time.sleep(0.1)
    print(f"  held: {push_hub(host.service).held}  host RSS {before:.0f} MB -> {rss_mb():.0f} MB")
    probe = host.device(version, "PROBE")
    latencies = [timed(lambda: probe.options())[1] for _ in range(50)]
    print(f"  other requests meanwhile: median {statistics.median(latencies) * 1000:.1f} ms"
          f"  p99 {percentile(latencies, 99) * 1000:.1f} ms")
    pushed: list[float] = []
    for n in range(deliveries):
        count = len(answered)
        time.sleep(0.3)  # let the Ping be held again
        delivered = time.perf_counter()
        host.store.deliver(host.mailbox, mime(10_000_000 + n))
        for _ in range(100):  # bounded: 10 s
            if len(answered) > count:
                break
            time.sleep(0.005)
        if len(answered) > count:
            pushed.append(answered[count] - delivered)
    stop.set()
    push_hub(host.service).shutdown()  # held Pings answer now
    for thread in threads:
        thread.join(15)
    if pushed:
        print(f"  delivery -> Ping answer: median {statistics.median(pushed) * 1000:.0f} ms"
              f"  p99 {percentile(pushed, 99) * 1000:.0f} ms  ({len(pushed)} deliveries)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persona", default="Exchange 2016", choices=list(VERSIONS))
    parser.add_argument("--messages", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--pings", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    version = VERSIONS[args.persona]
    with tempfile.TemporaryDirectory() as workdir:
        threading.stack_size(1024 * 1024)  # as "serve" does: a held Ping keeps a thread
        host = Host(Path(workdir), args.persona, threads=args.pings + 64)
        try:
            print(f"{args.persona}, protocol {version}, up to {args.pings + 64} worker threads")
            for messages in sorted(args.messages):
                bench_size(host, version, messages, args.seconds)
            bench_ping(host, version, args.pings, args.deliveries)
        finally:
            host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
