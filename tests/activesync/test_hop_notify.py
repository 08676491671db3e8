"""MASSYNC's NOTIFY port: UDP datagrams from the mailbox server wake the Ping that subscribed."""
from __future__ import annotations

import socket

import pytest

from plugins.activesync.exchangehop.notify import NotifyReceiver, Waiter, parse_notify


@pytest.fixture
def receiver():
    found = NotifyReceiver("127.0.0.1")
    yield found
    found.close()


def _send(receiver: NotifyReceiver, text: str, source: str = "127.0.0.1") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(text.encode("ascii"), receiver.address)


def test_a_notify_names_its_subscriptions():
    datagram = b"NOTIFY httpu://127.0.0.1:5000/MASSYNC HTTP/1.1\r\nSubscription-id: 15,16\r\n\r\n"
    assert parse_notify(datagram) == ["15", "16"]
    assert parse_notify(b"GET / HTTP/1.1\r\nSubscription-id: 15\r\n\r\n") == []
    assert parse_notify(b"\xff\xfe") == []


def test_a_notify_wakes_the_waiter_of_its_subscription_only(receiver):
    mine, other = Waiter(), Waiter()
    receiver.register("127.0.0.1", "7", mine)
    receiver.register("127.0.0.1", "8", other)
    _send(receiver, f"NOTIFY {receiver.call_back} HTTP/1.1\r\nSubscription-id: 7\r\n\r\n")
    assert mine.event.wait(5) and mine.take() == {"7"}
    assert not other.event.is_set()


def test_a_notify_from_another_server_does_not_count(receiver):
    waiter = Waiter()
    receiver.register("127.0.0.1", "7", waiter)
    _send(receiver, f"NOTIFY {receiver.call_back} HTTP/1.1\r\nSubscription-id: 7\r\n\r\n", source="127.0.0.2")
    assert not waiter.event.wait(0.5)


def test_a_notify_that_overtakes_the_subscribe_answer_is_kept(receiver):
    _send(receiver, f"NOTIFY {receiver.call_back} HTTP/1.1\r\nSubscription-id: 9\r\n\r\n")
    waiter = Waiter()
    for _ in range(50):  # bounded: the datagram reaches the receiver's thread
        receiver.register("127.0.0.1", "9", waiter)
        if waiter.event.wait(0.1):
            break
        receiver.unregister("127.0.0.1", "9")
    assert waiter.take() == {"9"}
