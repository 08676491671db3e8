"""The lab DNS server: an authoritative-only server (dnslib) for the lab's zones, on UDP and TCP.

It answers the way an authoritative server without recursion answers
(RFC 1034 4.3.2, RFC 2308): records it holds with the AA bit; NXDOMAIN for a
name its zone does not have; NOERROR with no answer ("no data") for a name
that exists without the type asked for, with the zone's SOA in both cases so a
resolver can cache the negative answer; REFUSED for every name outside its
zones, because it never forwards to or recurses through an outside server.

Zones are swapped in whole on a reload (:meth:`LabDnsServer.apply`); only a
changed listen address rebinds the sockets.
"""
from __future__ import annotations

import socketserver
import threading
from typing import Callable

from dnslib import NS, QTYPE, RCODE, RR, SOA, SRV, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from host.eventlog import EventLog, Level
from plugins.labdns.zones import DNS_PARAMETERS, TTL, LabDnsSettings, ListenAddress, Zone

EVENT_SOURCE = "DNS"
# Windows DNS Server's events: 2 started, 3 shut down, 408 could not open a socket.
EVENT_STARTED, EVENT_STOPPED, EVENT_SOCKET_FAILED = 2, 3, 408
OPCODE_QUERY = 0
# SOA timers as Windows DNS Server sets them on a new zone (refresh 15 min,
# retry 10 min, expire 1 day, minimum TTL 1 hour).
SOA_TIMERS = (900, 600, 86400, 3600)


class ZoneResolver(BaseResolver):
    """Answers from the current zone snapshot; :attr:`settings` is replaced whole on a reload."""

    def __init__(self, settings: LabDnsSettings) -> None:
        self.settings = settings

    def resolve(self, request: DNSRecord, handler) -> DNSRecord:
        reply = request.reply(ra=0, aa=1)
        if request.header.opcode != OPCODE_QUERY or len(request.questions) != 1:
            reply.header.aa = 0
            reply.header.rcode = RCODE.NOTIMP if request.header.opcode != OPCODE_QUERY else RCODE.FORMERR
            return reply
        question = request.q
        name = str(question.qname).rstrip(".").lower()
        settings = self.settings
        zone = settings.zone_for(name)
        if zone is None:
            reply.header.aa = 0
            reply.header.rcode = RCODE.REFUSED
            return reply
        for record in _answers(zone, name, question.qtype):
            reply.add_answer(record)
        if not reply.rr:
            reply.add_auth(_soa(zone))
            if not zone.exists(name):
                reply.header.rcode = RCODE.NXDOMAIN
        return reply


def _answers(zone: Zone, name: str, qtype: int) -> list[RR]:
    wanted = {QTYPE.A, QTYPE.SRV, QTYPE.SOA, QTYPE.NS} if qtype == QTYPE.ANY else {qtype}
    records: list[RR] = []
    if QTYPE.A in wanted:
        records += [RR(name, QTYPE.A, rdata=A(address), ttl=TTL) for address in zone.addresses(name)]
    if QTYPE.SRV in wanted:
        records += [RR(name, QTYPE.SRV, rdata=SRV(r.priority, r.weight, r.port, r.target), ttl=TTL)
                    for r in zone.services(name)]
    if name == zone.name and QTYPE.SOA in wanted:
        records.append(_soa(zone))
    if name == zone.name and QTYPE.NS in wanted:
        records.append(RR(name, QTYPE.NS, rdata=NS(zone.primary_server), ttl=TTL))
    return records


def _soa(zone: Zone) -> RR:
    return RR(zone.name, QTYPE.SOA, ttl=SOA_TIMERS[3],
              rdata=SOA(zone.primary_server, f"hostmaster.{zone.name}", (zone.serial, *SOA_TIMERS)))


class _QuietLogger:
    """dnslib prints every query by default; the lab's DNS server logs nothing per query, as Windows'."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args: None


class _UdpServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    # No SO_REUSEADDR: on Linux it would let two servers share a UDP port
    # silently; a taken address must fail as it does for Windows' DNS (408).
    allow_reuse_address = False
    daemon_threads = True


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


class LabDnsServer:
    """The DNS service of one running host: both sockets, the zones, start and stop.

    :param settings: the listen address and zones to serve.
    :param eventlog: where start, stop and socket failures are written.
    :param announce: called with the "Lab DNS listening on ..." line.
    """

    def __init__(self, settings: LabDnsSettings, eventlog: EventLog, announce: Callable[[str], None]) -> None:
        self.resolver = ZoneResolver(settings)
        self._eventlog = eventlog
        self._announce = announce
        self._servers: list[DNSServer] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def listening(self) -> ListenAddress | None:
        """The address the sockets are bound to, None while not serving."""
        return self.resolver.settings.listen if self._servers else None

    def start(self) -> None:
        """Bind UDP and TCP on the listen address; a taken address is event 408, and the host runs on."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        ip, port = self.resolver.settings.listen
        try:
            for server_class in (_UdpServer, _TcpServer):
                self._servers.append(DNSServer(self.resolver, address=ip, port=port, logger=_QuietLogger(),
                                               server=server_class))
        except OSError as exc:
            self._close()
            self._eventlog.write(EVENT_SOURCE, EVENT_SOCKET_FAILED, Level.ERROR,
                                 f"The DNS server could not open a socket for address {ip} port {port}: {exc}. "
                                 f"Check ListenAddress under [{DNS_PARAMETERS}] in registry.ini; another "
                                 "program may be using the port.")
            self._announce(f"Cannot serve the lab DNS on {self.resolver.settings.listen}: {exc}")
            return
        for server in self._servers:
            thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.2},
                                      name=f"labdns-{self.resolver.settings.listen}", daemon=True)
            thread.start()
            self._threads.append(thread)
        zones = ", ".join(zone.name for zone in self.resolver.settings.zones) or "none"
        self._eventlog.write(EVENT_SOURCE, EVENT_STARTED, Level.INFORMATION,
                             f"The DNS server has started on {ip} port {port} (UDP and TCP). Zones: {zones}.")
        self._announce(f"Lab DNS listening on {self.resolver.settings.listen} (zones: {zones})")

    def apply(self, settings: LabDnsSettings) -> None:
        """Serve a new configuration: zones change at once; a new listen address rebinds."""
        with self._lock:
            moved = settings.listen != self.resolver.settings.listen
            if moved:
                self._stop()
            self.resolver.settings = settings
            if not self._servers:  # moved, or the last bind failed: a fixed port takes effect now
                self._start()

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if not self._servers:
            return
        for server in self._servers:
            server.server.shutdown()
        self._close()
        ip, port = self.resolver.settings.listen
        self._eventlog.write(EVENT_SOURCE, EVENT_STOPPED, Level.INFORMATION,
                             f"The DNS server has shut down ({ip} port {port}).")

    def _close(self) -> None:
        for server in self._servers:
            server.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()
