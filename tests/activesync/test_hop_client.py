"""The hop's HTTP client and its bookkeeping: NTLM per connection, the pool, no Basic, no redirects.

The network tests talk to a real host on a free loopback port; the pool and
ledger tests need no network.
"""
from __future__ import annotations

import socket
import threading

import pytest

from host.regfile import RegType
from plugins.activesync.exchangehop import davxml
from plugins.activesync.exchangehop.client import (
    Credentials, HopConnection, HopError, HopPool, HopSession, Target,
)
from plugins.activesync.exchangehop.ledger import KEEP, Ledger

from .conftest import w3c_rows

DWORD, SZ = RegType.REG_DWORD, RegType.REG_SZ
EXCHANGE = "/LM/W3SVC/1/ROOT/Exchange"
PROPFIND = davxml.propfind([davxml.DISPLAYNAME])


def _session(lab, pool: HopPool | None = None, password: str | None = "P@ssw0rd") -> HopSession:
    return HopSession(Target("127.0.0.1", lab.port, f"exchange01:{lab.port}"), Credentials("CONTOSO\\alice", password),
                      pool or HopPool(), user_agent="hop-test/1.0", server="EXCHANGE01", mailbox="alice@contoso.com")


def _propfind(session: HopSession):
    return session.request("PROPFIND", "/Exchange/alice/", headers={"Depth": "0", "Content-Type": "text/xml"},
                           body=PROPFIND)


def _hop_lines(lab) -> list[dict[str, str]]:
    return [r for r in w3c_rows(lab.service) if r["cs(User-Agent)"] == "hop-test/1.0"]


@pytest.mark.realserver
def test_ntlm_logs_on_once_per_keep_alive_connection(real_eas):
    lab = real_eas("Exchange 2003 SP2")
    pool = HopPool()
    session = _session(lab, pool)
    assert [_propfind(session).status for _ in range(3)] == [207, 207, 207]
    assert pool.idle_count() == 1
    lines = _hop_lines(lab)
    assert [(r["sc-status"], r["cs-username"]) for r in lines] == [
        ("401", "-"), ("207", "CONTOSO\\alice"), ("207", "CONTOSO\\alice"), ("207", "CONTOSO\\alice")]
    assert session.calls == 3


@pytest.mark.realserver
def test_a_connection_the_server_closed_while_idle_is_not_reused(real_eas):
    lab = real_eas("Exchange 2003 SP2")
    pool = HopPool()
    session = _session(lab, pool)
    assert _propfind(session).status == 207
    [idle] = pool._idle[session.key]
    idle.http.sock.shutdown(socket.SHUT_RDWR)  # as if the server had dropped it
    assert _propfind(session).status == 207
    assert [r["sc-status"] for r in _hop_lines(lab)] == ["401", "207", "401", "207"]  # a new logon, no error


@pytest.mark.realserver
def test_basic_is_never_tried_and_redirects_are_not_followed(real_eas):
    lab = real_eas("Exchange 2003 SP2", (EXCHANGE, "AuthFlags", DWORD, 2))
    answer = _propfind(_session(lab))
    challenges = answer.all_headers("WWW-Authenticate")
    assert answer.status == 401 and challenges and all(v.startswith("Basic") for v in challenges)
    assert len(_hop_lines(lab)) == 1

    moved = real_eas("Exchange 2003 SP2", (EXCHANGE, "HttpRedirect", SZ, "http://elsewhere.contoso.com/owa"))
    answer = _propfind(_session(moved))
    assert answer.status in (301, 302) and "elsewhere.contoso.com" in answer.header("Location")
    assert len(_hop_lines(moved)) <= 2  # the logon legs at most; nothing went to the Location


@pytest.mark.realserver
def test_without_a_password_the_request_goes_without_credentials(real_eas):
    lab = real_eas("Exchange 2003 SP2")
    assert _propfind(_session(lab, password=None)).status == 401
    assert [(r["sc-status"], r["sc-substatus"]) for r in _hop_lines(lab)] == [("401", "2")]


@pytest.mark.realserver
def test_connection_refused_is_a_hop_error_without_a_status(real_eas):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session = HopSession(Target("127.0.0.1", port, "exchange02"), Credentials("CONTOSO\\alice", "x"), HopPool(),
                         user_agent="hop-test/1.0", server="EXCHANGE02", mailbox="alice@contoso.com")
    with pytest.raises(HopError) as caught:
        _propfind(session)
    assert caught.value.status is None and "refused" in str(caught.value) and "[EXCHANGE02]" in str(caught.value)


@pytest.mark.realserver
def test_many_threads_share_the_pool_safely_and_boundedly(real_eas):
    lab = real_eas("Exchange 2003 SP2")
    pool = HopPool(max_idle_per_user=2)
    statuses: list[int] = []
    guard = threading.Lock()

    def work():
        session = _session(lab, pool)
        for _ in range(3):
            status = _propfind(session).status
            with guard:
                statuses.append(status)

    workers = [threading.Thread(target=work) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert statuses == [207] * 18
    assert pool.idle_count() <= 2
    pool.close()
    assert pool.idle_count() == 0


# --- the pool without a network -------------------------------------------------------------


class _Fake(HopConnection):
    def __init__(self) -> None:
        super().__init__(Target("127.0.0.1", 9, "x"))
        self.closed = False

    def open(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True
        super().close()


def test_the_pool_keeps_a_few_idle_connections_per_user_and_a_bounded_number_of_users():
    now = [0.0]
    pool = HopPool(max_idle_per_user=2, max_users=2, idle_seconds=60, clock=lambda: now[0])
    a = [_Fake() for _ in range(3)]
    for conn in a:
        pool.release(("a",), conn)
    assert pool.idle_count(("a",)) == 2 and a[0].closed
    pool.release(("b",), _Fake())
    evicted = [c for c in a[1:]]
    pool.release(("c",), _Fake())  # a third user: the least recently used one goes
    assert pool.idle_count(("a",)) == 0 and all(c.closed for c in evicted)
    now[0] = 61
    assert pool.acquire(("c",)) is None  # idle too long: closed, not reused
    fresh = _Fake()
    pool.release(("c",), fresh)
    assert pool.acquire(("c",)) is fresh


# --- the collblob ledger ------------------------------------------------------------------------


def test_the_ledger_answers_exact_marks_then_the_newest_older_one():
    ledger = Ledger()
    assert ledger.lookup(10) is None
    assert ledger.record(10, "blob10") and not ledger.record(10, "other")
    ledger.record(20, "blob20")
    assert ledger.lookup(20) == (20, "blob20")
    assert ledger.lookup(15) == (10, "blob10")
    assert ledger.lookup(5) is None
    for mark in range(100, 100 + KEEP):
        ledger.record(mark, f"b{mark}")
    assert ledger.lookup(20) is None and ledger.lookup(100 + KEEP) == (99 + KEEP, f"b{99 + KEEP}")  # oldest go
    assert len(ledger._blobs) == KEEP


def test_a_persisted_ledger_survives_and_garbage_is_an_empty_one():
    ledger = Ledger()
    ledger.record(7, "seven")
    again = Ledger()
    again.merge(ledger.to_json())
    assert again.loaded and again.lookup(7) == (7, "seven")
    broken = Ledger()
    broken.merge(b"{not json")
    assert broken.loaded and broken.lookup(7) is None


def test_typed_values_come_back_as_python_values():
    body = (b'<?xml version="1.0"?><a:multistatus xmlns:a="DAV:" xmlns:b="urn:uuid:c2f41010-65b3-11d1-a29f-00aa00c14882/"'
            b' xmlns:c="urn:schemas:contacts:"><a:response><a:href>/x</a:href><a:propstat><a:prop>'
            b'<a:isfolder b:dt="boolean">1</a:isfolder><a:childcount b:dt="int">3</a:childcount>'
            b'<a:creationdate b:dt="dateTime.tz">2003-05-27T17:01:47.673Z</a:creationdate>'
            b'<c:children>["Ann", "Ben"]</c:children><c:nickname>[not json</c:nickname></a:prop>'
            b'<a:status>HTTP/1.1 200 OK</a:status></a:propstat><a:propstat><a:prop><a:getetag/></a:prop>'
            b'<a:status>HTTP/1.1 404 Not Found</a:status></a:propstat></a:response></a:multistatus>')
    [row] = davxml.parse_multistatus(body).resources
    assert row.value("{DAV:}isfolder") is True and row.value("{DAV:}childcount") == 3
    assert row.value("{DAV:}creationdate").year == 2003
    assert row.value("{urn:schemas:contacts:}children") == ["Ann", "Ben"]
    assert row.value("{urn:schemas:contacts:}nickname") == "[not json"
    assert row.failed == {"{DAV:}getetag": 404}
