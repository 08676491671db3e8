"""The lab DNS over real UDP/TCP sockets on loopback: answers, failures, reload without restart."""
from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from autodiscover_lab import ZONES, dns_blocks, free_dns_port, lab_pm

from host.config import ConfigError
from host.regfile import RegType
from host.service import WebService
from host.testing import make_test_host, registry_text
from plugins.labdns.plugin import dns_server
from plugins.labdns.resolver import DnsUnavailable, LabResolver, LookupRefused, NameNotFound, NoRecord, ServiceLocation

pytestmark = pytest.mark.realserver
DNS_IP = "127.0.0.253"
A_RECORDS = ["mail 127.0.0.1", "autodiscover 127.0.0.1"]
SRV_RECORDS = ["_autodiscover._tcp 0 0 443 mail.contoso.com"]
NO_BINDINGS = registry_text([("/LM/W3SVC/1", "ServerBindings", RegType.REG_MULTI_SZ, []),
                             ("/LM/W3SVC/1", "SecureBindings", RegType.REG_MULTI_SZ, [])])


class DnsHost:
    """A started host (no web bindings) whose only listener is the lab DNS."""

    def __init__(self, folder, a=A_RECORDS, srv=SRV_RECORDS) -> None:
        self.port = free_dns_port(DNS_IP)
        self.registry = folder / "registry.ini"
        self.lines: list[str] = []
        self.write(a, srv)
        self.service = WebService(self.registry, folder / "data", pm=lab_pm(), announce=self.lines.append, threads=2)
        self.service.start()

    def write(self, a, srv, port: int | None = None) -> None:
        listen = f"{DNS_IP}:{port or self.port}"
        self.registry.write_text(NO_BINDINGS + dns_blocks(listen, a, srv), encoding="utf-8")

    def query(self, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        ask = dns.query.tcp if tcp else dns.query.udp
        return ask(query, DNS_IP, port=self.port, timeout=2)


@pytest.fixture
def dns_host(tmp_path):
    host = DnsHost(tmp_path)
    try:
        yield host
    finally:
        host.service.stop()


def test_a_and_srv_records_are_answered_authoritatively(dns_host):
    resolver = LabResolver(dns_host.service.config, timeout=2)
    assert resolver.address == (DNS_IP, dns_host.port)
    assert resolver.resolve_a("mail.contoso.com") == ["127.0.0.1"]
    assert resolver.resolve_a("AutoDiscover.Contoso.COM") == ["127.0.0.1"]
    assert resolver.resolve_srv("_autodiscover._tcp.contoso.com") == [ServiceLocation(0, 0, 443, "mail.contoso.com")]
    reply = dns_host.query("mail.contoso.com", "A")
    assert reply.flags & dns.flags.AA and not reply.flags & dns.flags.RA
    assert dns_host.query("mail.contoso.com", "A", tcp=True).answer[0][0].address == "127.0.0.1"


def test_a_missing_name_is_nxdomain_with_the_zone_soa(dns_host):
    reply = dns_host.query("nothere.contoso.com", "A")
    assert reply.rcode() == dns.rcode.NXDOMAIN and not reply.answer
    assert reply.authority[0].rdtype == dns.rdatatype.SOA and reply.authority[0].name.to_text() == "contoso.com."
    with pytest.raises(NameNotFound, match="nothere.contoso.com does not exist.*NXDOMAIN"):
        LabResolver((DNS_IP, dns_host.port), timeout=2).resolve_a("nothere.contoso.com")


def test_a_name_without_the_record_type_is_no_data(dns_host):
    resolver = LabResolver((DNS_IP, dns_host.port), timeout=2)
    with pytest.raises(NoRecord, match="contoso.com exists but has no A record"):
        resolver.resolve_a("contoso.com")
    with pytest.raises(NoRecord):
        resolver.resolve_srv("mail.contoso.com")
    # an empty non-terminal exists too (RFC 1034): _tcp.contoso.com owns nothing but has a child
    assert dns_host.query("_tcp.contoso.com", "A").rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize("name", ["www.example.com", "com", "notcontoso.com"])
def test_names_outside_the_lab_zones_are_refused_never_forwarded(dns_host, name):
    reply = dns_host.query(name, "A")
    assert reply.rcode() == dns.rcode.REFUSED and not reply.answer
    with pytest.raises(LookupRefused, match="never asks outside DNS servers"):
        LabResolver((DNS_IP, dns_host.port), timeout=2).resolve_a(name)


def test_a_zone_change_is_served_without_a_restart(dns_host):
    resolver = LabResolver((DNS_IP, dns_host.port), timeout=2)
    dns_host.write(["mail 127.0.0.2", "owa 127.0.0.3"], [])
    assert dns_host.service.reload()
    assert resolver.resolve_a("mail.contoso.com") == ["127.0.0.2"]
    assert resolver.resolve_a("owa.contoso.com") == ["127.0.0.3"]
    with pytest.raises(NameNotFound):
        resolver.resolve_a("autodiscover.contoso.com")
    with pytest.raises(NameNotFound):  # the SRV record went, and its name with it
        resolver.resolve_srv("_autodiscover._tcp.contoso.com")
    assert sum("Lab DNS listening" in line for line in dns_host.lines) == 1  # the server was not restarted


def test_a_new_listen_address_moves_the_server(dns_host):
    old = dns_host.port
    new = free_dns_port(DNS_IP)
    dns_host.write(A_RECORDS, SRV_RECORDS, port=new)
    assert dns_host.service.reload()
    assert dns_server(dns_host.service).listening == (DNS_IP, new)
    assert LabResolver(dns_host.service.config, timeout=2).resolve_a("mail.contoso.com") == ["127.0.0.1"]
    with pytest.raises(DnsUnavailable):
        LabResolver((DNS_IP, old), timeout=0.5).resolve_a("mail.contoso.com")


def test_an_invalid_record_keeps_the_last_good_zone(dns_host):
    text = dns_host.registry.read_text(encoding="utf-8").replace('"mail 127.0.0.1"', '"mail 127.0.0.300"')
    dns_host.registry.write_text(text, encoding="utf-8")
    assert not dns_host.service.reload()
    assert LabResolver((DNS_IP, dns_host.port), timeout=2).resolve_a("mail.contoso.com") == ["127.0.0.1"]


@pytest.mark.parametrize("value, expected", [
    ('"A"=multi:"mail 127.0.0.300"', "not an IPv4 address"),
    ('"A"=multi:"mail.contoso.com. 127.0.0.1"', "relative to the zone"),
    ('"SRV"=multi:"_autodiscover._tcp 0 0 mail.contoso.com"', "<priority> <weight> <port>"),
])
def test_bad_records_are_config_errors_naming_the_line(tmp_path, value, expected):
    text = registry_text() + f"\n[{ZONES}\\contoso.com]\n{value}\n"
    with pytest.raises(ConfigError) as info:
        make_test_host(tmp_path, text=text, pm=lab_pm())
    assert expected in str(info.value) and "registry.ini:" in str(info.value)


def test_the_listen_address_must_be_loopback(tmp_path):
    text = registry_text() + '\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\DNS\\Parameters]\n' \
                             '"ListenAddress"="192.0.2.1:53"\n'
    with pytest.raises(ConfigError, match="loopback"):
        make_test_host(tmp_path, text=text, pm=lab_pm())


def test_a_taken_port_is_event_408_and_the_host_still_starts(tmp_path):
    port = free_dns_port(DNS_IP)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind((DNS_IP, port))
        (tmp_path / "registry.ini").write_text(NO_BINDINGS + dns_blocks(f"{DNS_IP}:{port}", A_RECORDS, []),
                                               encoding="utf-8")
        lines: list[str] = []
        service = WebService(tmp_path / "registry.ini", tmp_path / "data", pm=lab_pm(), announce=lines.append)
        try:
            service.start()
            [event] = service.eventlog.query(source="DNS", event_id=408)
            assert f"{DNS_IP} port {port}" in event.text and "ListenAddress" in event.text
            assert any("Cannot serve the lab DNS" in line for line in lines)
        finally:
            service.stop()


def test_stopping_the_host_closes_the_dns_sockets(tmp_path):
    host = DnsHost(tmp_path)
    assert dns_server(host.service).listening == (DNS_IP, host.port)
    host.service.stop()
    assert dns_server(host.service) is None
    assert not [t for t in threading.enumerate() if t.name.startswith("labdns-")]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind((DNS_IP, host.port))  # free again
    with pytest.raises(DnsUnavailable):
        LabResolver((DNS_IP, host.port), timeout=0.5).resolve_a("mail.contoso.com")
