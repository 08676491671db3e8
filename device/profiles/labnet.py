"""How a simulated phone (or the connectivity analyzer) reaches the lab: its DNS and its firewall.

Names are resolved by the lab DNS only (:class:`LabResolver`), so a missing
record fails as on a phone. The lab cannot bind the well-known ports 80 and
443 without privileges, so a port-forwarding firewall stands between device
and host: a URL without a port reaches, on the address DNS gave, the port of
the site binding that listens there (``SecureBindings`` for https,
``ServerBindings`` for http). A URL with a port is used as written. Nothing
here looks at whether the binding is "right": if no site listens on that
address, the connection fails for real.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from plugins.labdns.resolver import LabResolver

WELL_KNOWN = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Published:
    """Where a URL's host and port really lead."""

    host: str
    ip: str
    port: int  # the port the URL names (443)
    lab_port: int  # the port really connected to (8443)


@dataclass
class LabNetwork:
    """The lab DNS plus the firewall's port map (well-known port -> lab port, per address)."""

    resolver: LabResolver
    ports: dict[tuple[str, int], int] = field(default_factory=dict)  # (ip, 443) -> 8443
    fallback: dict[int, int] = field(default_factory=dict)  # 443 -> 8443 for addresses no site binds

    @classmethod
    def from_config(cls, config, dns: tuple[str, int] | None = None, *, timeout: float = 3.0) -> LabNetwork:
        """The network a host configuration publishes; ``dns`` overrides the lab DNS address."""
        network = cls(LabResolver(dns if dns is not None else config, timeout=timeout))
        for site in config.sites.values():
            for scheme, bindings in (("https", site.secure_bindings), ("http", site.bindings)):
                well_known = WELL_KNOWN[scheme]
                for binding in bindings:
                    network.ports.setdefault((binding.ip, well_known), binding.port)
                    network.fallback.setdefault(well_known, binding.port)
        return network

    def port_map(self) -> dict[int, int]:
        """The map :func:`plugins.autodiscover.discovery.discover` takes (one for every address)."""
        return dict(self.fallback)

    def lab_port(self, ip: str, port: int) -> int:
        """The port a connection to ``ip:port`` really reaches (all-unassigned bindings count)."""
        return self.ports.get((ip, port)) or self.ports.get(("", port)) or self.fallback.get(port, port)

    def publish(self, url: str) -> Published:
        """Resolve the URL's host in the lab DNS and apply the firewall.

        :raises plugins.labdns.resolver.LabLookupError: the name does not resolve.
        """
        parts = urlsplit(url)
        host = parts.hostname or ""
        ip = self.resolver.resolve_a(host)[0]
        port = parts.port or WELL_KNOWN.get(parts.scheme.lower(), 443)
        lab_port = port if parts.port else self.lab_port(ip, port)
        return Published(host, ip, port, lab_port)
