"""MASSYNC's UDP port for the store's ``NOTIFY`` datagrams (WebDAV notifications over HTTPU).

Exchange 2003 SP2's direct push did not hold a request open on the mailbox
server per device: MASSYNC subscribed to the pinged folders with
``SUBSCRIBE`` and a ``Call-Back: httpu://<front end>:<port>/<path>``, and
the store sent a UDP ``NOTIFY`` there when an event fired (Exchange SDK,
"NOTIFY Method", "Call-Back Header"). One :class:`NotifyReceiver` per host
process and local address plays that port: one socket, one thread asleep in
``recvfrom`` (woken by datagrams only, never by a timer), which wakes the
:class:`Waiter` of each subscription a datagram names.

A datagram counts only when it comes from the mailbox server the
subscription was made on (its IP address) and names that subscription: ids
are the server's, so two servers may hand out the same number. A NOTIFY
can overtake the SUBSCRIBE answer that told the id; the receiver remembers
datagrams for ids nobody waits for yet for :data:`EARLY_SECONDS`, and
registering such an id wakes its waiter at once.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
import weakref

CALL_BACK_PATH = "MASSYNC"
MAX_DATAGRAM = 4096
EARLY_SECONDS = 30.0
MAX_EARLY = 10_000  # remembered early datagrams (bounded memory if a server floods the port)

_receivers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # service -> {local ip: receiver}
_guard = threading.Lock()


class Waiter:
    """What one held Ping sleeps on: an event, and which of its subscriptions were notified."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._lock = threading.Lock()
        self._notified: set[str] = set()

    def notify(self, subscription_id: str) -> None:
        with self._lock:
            self._notified.add(subscription_id)
        self.event.set()

    def take(self) -> set[str]:
        """The subscriptions notified since the last take (and the event cleared)."""
        with self._lock:
            self.event.clear()
            notified, self._notified = self._notified, set()
        return notified


def parse_notify(datagram: bytes) -> list[str]:
    """The subscription ids a ``NOTIFY <uri> HTTP/1.1`` datagram names; [] for anything else."""
    try:
        text = datagram.decode("ascii")
    except UnicodeDecodeError:
        return []
    request_line, *lines = text.split("\r\n")
    if not request_line.startswith("NOTIFY ") or not request_line.endswith(" HTTP/1.1"):
        return []
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name.strip().casefold() == "subscription-id":
            return [part.strip() for part in value.split(",") if part.strip().isdigit()]
    return []


class NotifyReceiver:
    """The UDP socket on ``local_ip`` that NOTIFY datagrams come to, and the thread that reads it."""

    def __init__(self, local_ip: str) -> None:
        family = socket.AF_INET6 if ipaddress.ip_address(local_ip).version == 6 else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.bind((local_ip, 0))
        self.address = self._sock.getsockname()[:2]
        host = f"[{local_ip}]" if family == socket.AF_INET6 else local_ip
        self.call_back = f"httpu://{host}:{self.address[1]}/{CALL_BACK_PATH}"
        self._lock = threading.Lock()
        self._waiters: dict[tuple[str, str], Waiter] = {}
        self._early: dict[tuple[str, str], float] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"massync-notify-{local_ip}", daemon=True)
        self._thread.start()

    def register(self, server_ip: str, subscription_id: str, waiter: Waiter) -> None:
        key = (server_ip, subscription_id)
        with self._lock:
            self._waiters[key] = waiter
            early = self._early.pop(key, None)
        if early is not None and time.monotonic() - early < EARLY_SECONDS:
            waiter.notify(subscription_id)

    def unregister(self, server_ip: str, subscription_id: str) -> None:
        with self._lock:
            self._waiters.pop((server_ip, subscription_id), None)

    def _run(self) -> None:
        while not self._closed:
            try:
                datagram, sender = self._sock.recvfrom(MAX_DATAGRAM)
            except OSError:
                return  # closed
            for subscription_id in parse_notify(datagram):
                key = (sender[0], subscription_id)
                with self._lock:
                    waiter = self._waiters.get(key)
                    if waiter is None:
                        self._remember_early(key)
                if waiter is not None:
                    waiter.notify(subscription_id)

    def _remember_early(self, key: tuple[str, str]) -> None:
        now = time.monotonic()
        if len(self._early) >= MAX_EARLY:
            self._early = {k: t for k, t in self._early.items() if now - t < EARLY_SECONDS}
        if len(self._early) < MAX_EARLY:
            self._early[key] = now

    def close(self) -> None:
        """Stop the thread: a datagram to itself ends its ``recvfrom``, then the socket closes."""
        if self._closed:
            return
        self._closed = True
        try:
            with socket.socket(self._sock.family, socket.SOCK_DGRAM) as poke:
                poke.sendto(b"", self.address)
        except OSError:
            pass
        self._thread.join(5)
        self._sock.close()


def local_address_for(server_ip: str, server_port: int) -> str:
    """The address of this machine that the mailbox server reaches it at: the route's source address.

    A UDP ``connect`` sends nothing; it only picks the route, as the TCP
    connection of the hop would.
    """
    family = socket.AF_INET6 if ipaddress.ip_address(server_ip).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((server_ip, server_port))
        return probe.getsockname()[0]


def receiver_for(service, server_ip: str, server_port: int) -> NotifyReceiver:
    """The service's receiver on the local address facing ``server_ip`` (made on first use)."""
    local_ip = local_address_for(server_ip, server_port)
    with _guard:
        by_address = _receivers.setdefault(service, {})
        receiver = by_address.get(local_ip)
        if receiver is None:
            receiver = by_address[local_ip] = NotifyReceiver(local_ip)
        return receiver


def close_receivers(service) -> None:
    """Close the service's receivers (the host is stopping)."""
    with _guard:
        receivers = list(_receivers.pop(service, {}).values())
    for receiver in receivers:
        receiver.close()
