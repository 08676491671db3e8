"""The lab DNS plugin's hooks: its registry values, and the DNS server's life with the host's.

The server listens from ``host_startup`` to ``host_shutdown`` only, so a CLI
command that builds a service opens no socket; a changed registry.ini reaches
the running server through ``config_applied`` without a restart.
"""
from __future__ import annotations

import weakref

from host import hookimpl
from host.metabase import Property
from host.regfile import RegType
from plugins.labdns.server import LabDnsServer
from plugins.labdns.zones import (
    DEFAULT_LISTEN_ADDRESS,
    DNS_PARAMETERS,
    ZONES_KEY,
    parse_a_records,
    parse_listen_address,
    parse_srv_records,
    read_settings,
)

_running: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def dns_server(service) -> LabDnsServer | None:
    """The lab DNS server of a started service (None before ``start()`` and after ``stop()``)."""
    return _running.get(service)


@hookimpl
def register_registry_properties():
    multi = RegType.REG_MULTI_SZ
    zones = (ZONES_KEY + "\\*",)
    return [
        Property("ListenAddress", RegType.REG_SZ, (DNS_PARAMETERS,), DEFAULT_LISTEN_ADDRESS,
                 "ip:port the lab DNS server answers on (UDP and TCP), a loopback address; devices and the "
                 "connectivity analyzer ask it, and only it, for lab names.", convert=parse_listen_address),
        Property("A", multi, zones, [], "A records of the zone, each \"<node> <IPv4 address>\" as dnscmd "
                 "/RecordAdd takes them; the node is relative to the zone, \"@\" is the zone itself.",
                 convert=parse_a_records),
        Property("SRV", multi, zones, [], "SRV records of the zone, each \"<node> <priority> <weight> <port> "
                 "<target host>\", e.g. \"_autodiscover._tcp 0 0 443 mail.contoso.com\".", convert=parse_srv_records),
    ]


@hookimpl
def server_certificate_names(service) -> list[str]:
    """The names of the lab zones' A records, so a device reaching mail.contoso.com finds it in the certificate."""
    return sorted({owner for zone in read_settings(service.config).zones for owner, _ in zone.a})


@hookimpl
def host_startup(service) -> None:
    server = LabDnsServer(read_settings(service.config), service.eventlog, service.announce)
    _running[service] = server
    server.start()


@hookimpl
def config_applied(service, previous, current) -> None:
    server = _running.get(service)
    if server is not None:
        server.apply(read_settings(current))


@hookimpl
def host_shutdown(service) -> None:
    server = _running.pop(service, None)
    if server is not None:
        server.stop()
