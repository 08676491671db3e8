r"""The lab's DNS zones as the registry holds them, and the DNS server's listen address.

Windows' DNS Server keeps one key per zone under
``HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\DNS Server\Zones`` (the
records themselves live in a zone file or in AD). The lab keeps the records in
the zone's key too, one multi-string per record type, each entry written as
the arguments ``dnscmd /RecordAdd <zone> <node> <type> <data>`` takes, with
the node relative to the zone (``@`` is the zone itself)::

    [HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\DNS Server\Zones\contoso.com]
    "A"=multi:"mail 127.0.0.1","autodiscover 127.0.0.1"
    "SRV"=multi:"_autodiscover._tcp 0 0 443 mail.contoso.com"

A zone is a snapshot: a reload builds new ones and the server swaps them in
whole, so a query never sees half of an edit.
"""
from __future__ import annotations

import ipaddress
import re
import zlib
from dataclasses import dataclass
from typing import NamedTuple

from host.metabase import COMPUTER_NAME_KEY, ConversionError

ZONES_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\DNS Server\Zones"
DNS_PARAMETERS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\DNS\Parameters"


class ListenAddress(NamedTuple):
    """Where the lab DNS server listens; printed as registry.ini spells it."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


DEFAULT_LISTEN_ADDRESS = ListenAddress("127.0.0.253", 5300)
TTL = 3600  # Windows DNS Server's default TTL for new records: one hour

# A node name: dot-separated labels of letters, digits, "-" and "_" ("_autodiscover._tcp").
_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def _check_name(text: str, what: str) -> str:
    labels = text.split(".")
    if len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ConversionError(f'"{text}" is not a valid {what}: labels of letters, digits, "-" and "_", '
                              "at most 63 characters each, separated by dots")
    return text.lower()


def _node(text: str) -> str:
    """A node name relative to its zone; "" for the zone itself (``@``)."""
    if text == "@":
        return ""
    if text.endswith("."):
        raise ConversionError(f'"{text}": write the node relative to the zone ("mail", not "mail.contoso.com."); '
                              '"@" is the zone itself')
    return _check_name(text, "node name")


def _number(text: str, what: str, entry: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise ConversionError(f'"{entry}": {what} "{text}" must be a number from 0 to 65535')
    return int(text)


def parse_a_records(entries: list[str]) -> list[tuple[str, str]]:
    """``"mail 127.0.0.1"`` entries to (node, IPv4 address) pairs."""
    records = []
    for entry in entries:
        words = entry.split()
        if len(words) != 2:
            raise ConversionError(f'"{entry}": expected "<node> <IPv4 address>", e.g. "mail 127.0.0.1"')
        try:
            address = ipaddress.IPv4Address(words[1])
        except ValueError:
            raise ConversionError(f'"{entry}": "{words[1]}" is not an IPv4 address') from None
        records.append((_node(words[0]), str(address)))
    return records


def parse_srv_records(entries: list[str]) -> list[tuple[str, int, int, int, str]]:
    """``"_autodiscover._tcp 0 0 443 mail.contoso.com"`` entries to (node, priority, weight, port, target).

    The target is a full host name as dnscmd takes it; "." means the service
    is decidedly not available at this domain (RFC 2782).
    """
    records = []
    for entry in entries:
        words = entry.split()
        if len(words) != 5:
            raise ConversionError(f'"{entry}": expected "<node> <priority> <weight> <port> <target host>", '
                                  'e.g. "_autodiscover._tcp 0 0 443 mail.contoso.com"')
        node, priority, weight, port, target = words
        target = target.rstrip(".") if target != "." else "."
        records.append((_node(node), _number(priority, "priority", entry), _number(weight, "weight", entry),
                        _number(port, "port", entry), target if target == "." else _check_name(target, "target host")))
    return records


def parse_listen_address(text: str) -> ListenAddress:
    """``"127.0.0.253:5300"``: the lab DNS answers on loopback only, it is not a DNS server for anyone else."""
    ip, sep, port = text.strip().rpartition(":")
    if not sep:
        raise ConversionError(f'"{text}": expected ip:port, e.g. "127.0.0.253:5300"')
    ip = ip.strip("[]")
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise ConversionError(f'"{text}": "{ip}" is not an IP address') from None
    if not address.is_loopback:
        raise ConversionError(f'"{text}": the lab DNS listens on a loopback address only (127.0.0.0/8 or ::1)')
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConversionError(f'"{text}": port "{port}" is not a number from 1 to 65535')
    return ListenAddress(str(address), int(port))


@dataclass(frozen=True)
class SrvRecord:
    """One SRV record, absolute names without the trailing dot."""

    name: str
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Zone:
    """One primary zone: its name, records, and the SOA the server answers with."""

    name: str
    a: tuple[tuple[str, str], ...]  # (absolute name, IPv4 address)
    srv: tuple[SrvRecord, ...]
    primary_server: str  # SOA MNAME, and the zone's NS record

    def contains(self, name: str) -> bool:
        """Whether ``name`` is the zone or below it (this server is authoritative for it)."""
        return name == self.name or name.endswith("." + self.name)

    def addresses(self, name: str) -> list[str]:
        return [address for owner, address in self.a if owner == name]

    def services(self, name: str) -> list[SrvRecord]:
        return [record for record in self.srv if record.name == name]

    def exists(self, name: str) -> bool:
        """RFC 1034 4.3.2: a name exists if it owns records or has names below it (an empty non-terminal)."""
        owners = [owner for owner, _ in self.a] + [record.name for record in self.srv]
        return name == self.name or any(owner == name or owner.endswith("." + name) for owner in owners)

    @property
    def serial(self) -> int:
        """The SOA serial: changes whenever the zone's records do, as a secondary would need."""
        return zlib.crc32(repr((self.a, self.srv)).encode())


@dataclass(frozen=True)
class LabDnsSettings:
    """What the lab DNS server serves, read from one configuration snapshot."""

    listen: ListenAddress
    zones: tuple[Zone, ...]

    def zone_for(self, name: str) -> Zone | None:
        """The most specific zone holding ``name`` (a child zone wins over its parent)."""
        holding = [zone for zone in self.zones if zone.contains(name)]
        return max(holding, key=lambda zone: len(zone.name)) if holding else None


def absolute(node: str, zone: str) -> str:
    return f"{node}.{zone}" if node else zone


def read_settings(config) -> LabDnsSettings:
    """The listen address and every zone key of ``config`` (a :class:`host.config.HostConfig`)."""
    computer = config.registry_value(COMPUTER_NAME_KEY, "ComputerName").lower()
    zones = []
    for key in config.registry.subkeys(ZONES_KEY):
        name = key.path.rsplit("\\", 1)[-1].lower().rstrip(".")
        a = tuple((absolute(node, name), address) for node, address in config.registry_value(key.path, "A"))
        srv = tuple(SrvRecord(absolute(node, name), priority, weight, port, target)
                    for node, priority, weight, port, target in config.registry_value(key.path, "SRV"))
        zones.append(Zone(name, a, srv, f"{computer}.{name}"))
    return LabDnsSettings(config.registry_value(DNS_PARAMETERS, "ListenAddress"), tuple(zones))
