"""MASSYNC benchmark: a seeded mailbox, a real ``python -m host serve``, one device and then many.

    python bench/eas_bench.py [--persona "Exchange 2016"] [--messages 1000 10000]
                              [--pings 1000] [--deliveries 50] [--seconds 3]

The host runs in its own process as a trainee starts it (``serve`` with its
default worker pools), so the bench's clients (up to a thousand threads)
do not share the host's interpreter lock. For each mailbox size: OPTIONS,
Provision, FolderSync, the initial Sync of the Inbox with WindowSize 100
and 512 (time and bytes), the no-change Sync (latency percentiles and
requests/s, one device, then 4 in parallel); then N users, one device
each, holding a Ping (the host's RSS before and after, the latency of other
requests while the Pings arrive and once all are held), the time from an
SMTP delivery to alice's Ping answer (median, p99), and one delivery to all
N users at once (when their Pings answered, other requests meanwhile). Targets (issue 5), Exchange 2016 persona:
no-change Sync under 20 ms at 10k, independent of size; initial Sync of
10k under 25 s; delivery to Ping answer p99 under 1 s; the 2003 persona
within 3x of those. Every loop is bounded; the host stops at the end. Run
from the project root.
"""
from __future__ import annotations

import argparse
import http.client
import smtplib
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
from plugins.activesync.plugin import EXCHANGE_SETUP  # noqa: E402
from plugins.owa.mailbox import FolderType, NewItem  # noqa: E402
from plugins.owa.mailboxes import ensure_mailbox  # noqa: E402
from tests.activesync.easclient import EasClient, HttpWire  # noqa: E402
from tests.realhost import RealHost  # noqa: E402

PASSWORD = "P@ssw0rd"  # the demo users' password, given to the bench's users too
VERSIONS = {"Exchange 2003 SP2": "2.5", "Exchange 2007 SP1": "12.1", "Exchange 2010 SP1": "14.1",
            "Exchange 2016": "16.1"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
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
    """``python -m host serve`` in a subprocess; the bench seeds alice's Inbox through the store beside it."""

    def __init__(self, workdir: Path, persona: str) -> None:
        text = registry_text([(EXCHANGE_SETUP, "EmulatedVersion", RegType.REG_SZ, persona)])
        self.real = RealHost(workdir, text)
        self.port = self.real.http_port
        # The same registry and data folder, never started: a second process on the store, as the CLI is.
        self.seeder = WebService(self.real.registry, self.real.data, announce=lambda line: None)
        self.store = self.seeder.mailstore
        self.mailbox = ensure_mailbox(self.seeder, self.seeder.directory.find("alice"))
        self.inbox = self.store.default_folder(self.mailbox, FolderType.INBOX).id
        self.real.start()

    @property
    def pid(self) -> int:
        return self.real.process.pid

    def seed(self, count: int) -> None:
        have = self.store.count_items(self.mailbox, self.inbox)
        base = datetime.now(timezone.utc) - timedelta(minutes=count)
        for start in range(have, count, 1000):
            batch = range(start, min(count, start + 1000))
            self.store.add_items(self.mailbox, self.inbox, [
                NewItem.from_mime(mime(n), date_received=base + timedelta(minutes=n)) for n in batch])

    def deliver(self, n: int, recipients: list[str] | None = None) -> None:
        """Over the host's SMTP virtual server, as mail arrives (to alice unless ``recipients``)."""
        with smtplib.SMTP("127.0.0.1", self.real.smtp_port, timeout=120) as smtp:
            smtp.sendmail("bob@contoso.com", recipients or ["alice@contoso.com"], mime(n))

    def add_users(self, count: int) -> list[str]:
        """``CONTOSO\\ping0`` ... in the directory (kept when there already), as an admin adds them."""
        logons = [f"CONTOSO\\ping{n}" for n in range(count)]
        for logon in logons:
            if self.seeder.directory.find(logon) is None:
                self.seeder.directory.add_user(logon, PASSWORD)
        return logons

    def device(self, version: str, name: str, user: str = "CONTOSO\\alice") -> EasClient:
        return EasClient(HttpWire("127.0.0.1", self.port, timeout=3600), version=version, device_id=name,
                         user=user, password=PASSWORD)

    def stop(self) -> None:
        self.real.stop(timeout=60)


def timed(fn):
    began = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - began


def prepared(host: Host, version: str, name: str, user: str = "CONTOSO\\alice") -> tuple[EasClient, str]:
    device = host.device(version, name, user)
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


def probe(host: Host, version: str, latencies: list[float], stop: threading.Event, seconds: float) -> None:
    """OPTIONS requests one after another (what every device sends first) until ``stop`` or ``seconds``."""
    device = host.device(version, "PROBE")
    deadline = time.monotonic() + seconds
    for _ in range(1_000_000):
        if stop.is_set() or time.monotonic() > deadline:
            return
        latencies.append(timed(device.options)[1])


def report_latencies(label: str, latencies: list[float]) -> None:
    if latencies:
        print(f"  {label}: {len(latencies)} requests, median {statistics.median(latencies) * 1000:.1f} ms"
              f"  p99 {percentile(latencies, 99) * 1000:.1f} ms  max {max(latencies) * 1000:.1f} ms")


def hold(device: EasClient, inbox: str, sent: threading.Semaphore, answers: list, stop: threading.Event) -> None:
    """One device's Ping; (status, when) lands in ``answers`` unless the bench is over."""
    sent.release()
    try:
        answer = device.ping(600, [(inbox, "Email")])
    except (OSError, http.client.HTTPException):  # the host stopped under us: done
        return
    if not stop.is_set():
        answers.append((answer.text("ping:Status"), time.perf_counter()))


def ping_all(holders: list[tuple[EasClient, str]], answers: list, stop: threading.Event) -> float:
    """Every holder sends its Ping at once; returns the seconds it took to send them."""
    sent = threading.Semaphore(0)
    began = time.perf_counter()
    for device, inbox in holders:
        threading.Thread(target=hold, args=(device, inbox, sent, answers, stop), daemon=True).start()
    for _ in holders:
        sent.acquire(timeout=60)
    return time.perf_counter() - began


def settle(host: Host, version: str, during: list[float], began: float) -> None:
    """Wait until every Ping of the burst has had its turn, then start a clean record of the probe.

    A Ping without a body from a device that never pinged is answered with
    status 3 as soon as it is admitted; sent after the burst, it waits for
    the Pings before it (plugins/activesync/admission.py).
    """
    late = host.device(version, "LATEPING")
    late.provision()
    sent = time.perf_counter()
    status = late.ping(None, None).text("ping:Status")
    print(f"  a Ping sent after the burst got its turn after {time.perf_counter() - sent:.1f} s (status {status});"
          f" all held {time.perf_counter() - began:.1f} s after the first Ping")
    del during[:]


def bench_ping(host: Host, version: str, pings: int, deliveries: int) -> None:
    """``pings`` users with one device each hold a Ping on their Inbox; alice's device watches hers."""
    print(f"\n== {pings} devices (one per user) holding a Ping ==")
    users = host.add_users(pings)
    before = rss_mb(host.pid)
    with ThreadPoolExecutor(8) as pool:  # bounded: provisioning 1,000 devices takes a while
        holders = list(pool.map(lambda n: prepared(host, version, f"PING{n}", users[n]), range(pings)))
    answers: list = []
    stop = threading.Event()
    during: list[float] = []
    prober = threading.Thread(target=probe, args=(host, version, during, stop, 3600), daemon=True)
    prober.start()
    time.sleep(0.5)
    began = time.perf_counter()
    took = ping_all(holders, answers, stop)
    time.sleep(2.0)  # the last requests reach their handlers
    establishing = during[:]
    del during[:len(establishing)]
    print(f"  {pings} Pings sent in {took:.1f} s; answered early: {len(answers)}"
          f"  host RSS {before:.0f} MB -> {rss_mb(host.pid):.0f} MB")
    report_latencies("other requests while the Pings arrive", establishing)
    settle(host, version, during, began)
    time.sleep(3.0)
    report_latencies(f"other requests with {pings - len(answers)} Pings held", list(during))

    watcher, inbox = prepared(host, version, "WATCHER")
    key = initial_sync(watcher, inbox, 512)[3]  # caught up before the first Ping
    pushed: list[float] = []
    for n in range(deliveries):  # one delivery per held Ping of the watcher
        answer: list = []
        ping = threading.Thread(target=lambda: answer.append(
            (watcher.ping(600, [(inbox, "Email")]), time.perf_counter())), daemon=True)
        ping.start()
        time.sleep(0.3)  # the Ping is held
        delivered = time.perf_counter()
        host.deliver(10_000_000 + n)
        ping.join(30)
        if answer and answer[0][0].text("ping:Status") == "2":
            pushed.append(answer[0][1] - delivered)
        key = watcher.sync(inbox, key, klass="Email").text("as:Collections/as:Collection/as:SyncKey") or key
    if pushed:
        print(f"  SMTP delivery -> Ping answer: median {statistics.median(pushed) * 1000:.0f} ms"
              f"  p99 {percentile(pushed, 99) * 1000:.0f} ms  ({len(pushed)} of {deliveries} deliveries)")

    del during[:]
    delivered = time.perf_counter()
    host.deliver(20_000_000, [f"{user.rpartition(chr(92))[2]}@contoso.com" for user in users])
    accepted = time.perf_counter() - delivered
    for _ in range(1200):  # bounded: up to 120 s for every held Ping to answer
        if len(answers) >= pings:
            break
        time.sleep(0.1)
    woken = [when - delivered for status, when in answers if status == "2"]
    if woken:
        print(f"  one delivery to all {pings} users (SMTP done after {accepted:.1f} s): {len(woken)} Pings"
              f" answered, median {statistics.median(woken):.1f} s, last {max(woken):.1f} s")
    report_latencies("other requests meanwhile", list(during))
    stop.set()
    prober.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persona", default="Exchange 2016", choices=list(VERSIONS))
    parser.add_argument("--messages", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--pings", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    version = VERSIONS[args.persona]
    with tempfile.TemporaryDirectory() as workdir:
        threading.stack_size(512 * 1024)  # the bench's own Ping threads only wait on a socket
        host = Host(Path(workdir), args.persona)
        try:
            print(f"{args.persona}, protocol {version}, python -m host serve (pid {host.pid})")
            for messages in sorted(args.messages):
                bench_size(host, version, messages, args.seconds)
            if args.pings:
                bench_ping(host, version, args.pings, args.deliveries)
        finally:
            host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
