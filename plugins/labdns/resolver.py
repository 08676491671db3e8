"""A stub resolver that asks the lab DNS server and nothing else (dnspython).

Device profiles and the connectivity analyzer resolve lab names through this,
so a name the zone lacks fails as it fails on a phone: the server says
NXDOMAIN, or the name exists without the record asked for. The resolver
never reads /etc/resolv.conf and has no other server to fall back to.

    resolver = LabResolver(service.config)        # or LabResolver(("127.0.0.253", 5300))
    resolver.resolve_a("mail.contoso.com")        # ["127.0.0.1"]
    resolver.resolve_srv("_autodiscover._tcp.contoso.com")
"""
from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rcode
import dns.resolver

from plugins.labdns.zones import DNS_PARAMETERS


class LabLookupError(Exception):
    """A lookup that did not give an answer; ``str()`` is the sentence a report shows.

    :param name: the name asked for.
    :param record_type: "A" or "SRV".
    """

    def __init__(self, name: str, record_type: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.record_type = record_type


class NameNotFound(LabLookupError):
    """NXDOMAIN: the zone has no such name."""


class NoRecord(LabLookupError):
    """NOERROR without an answer: the name exists, but not with this record type."""


class LookupRefused(LabLookupError):
    """REFUSED: the name is in none of the lab's zones, and the lab DNS asks no one else."""


class DnsUnavailable(LabLookupError):
    """No usable answer from the lab DNS server at all (not running, wrong address, server failure)."""


@dataclass(frozen=True)
class ServiceLocation:
    """One SRV answer: where a service runs (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str  # without the trailing dot; "." = not available here


class LabResolver:
    """Resolve names through the lab DNS server only.

    :param server: a :class:`host.config.HostConfig` (its ``ListenAddress``)
        or an ``(ip, port)`` pair.
    :param timeout: seconds for the whole lookup, retries included.
    """

    def __init__(self, server, *, timeout: float = 3.0) -> None:
        if isinstance(server, tuple):
            ip, port = server
        else:
            ip, port = server.registry_value(DNS_PARAMETERS, "ListenAddress")
        self.address = (ip, int(port))
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [ip]
        self._resolver.port = int(port)
        self._resolver.lifetime = timeout
        self._resolver.timeout = min(timeout, 1.0)

    def __repr__(self) -> str:
        return f"LabResolver({self.address[0]}:{self.address[1]})"

    def resolve_a(self, name: str) -> list[str]:
        """The IPv4 addresses of ``name``, in the server's order.

        :raises LabLookupError: one of its subclasses, saying why there is none.
        """
        return [record.address for record in self._query(name, "A")]

    def resolve_srv(self, name: str) -> list[ServiceLocation]:
        """The SRV records of ``name``, lowest priority first, then highest weight (RFC 2782 order
        without the random pick, so a report is reproducible).

        :raises LabLookupError: one of its subclasses, saying why there is none.
        """
        found = [ServiceLocation(r.priority, r.weight, r.port, r.target.to_text(omit_final_dot=True) or ".")
                 for r in self._query(name, "SRV")]
        return sorted(found, key=lambda s: (s.priority, -s.weight))

    def _query(self, name: str, record_type: str):
        server = f"the lab DNS server {self.address[0]}:{self.address[1]}"
        try:
            qname = dns.name.from_text(name)
            return self._resolver.resolve(qname, record_type, search=False)
        except dns.resolver.NXDOMAIN:
            raise NameNotFound(name, record_type, f"{name} does not exist: {server} answered NXDOMAIN "
                                                  "(no such name in its zone)") from None
        except dns.resolver.NoAnswer:
            raise NoRecord(name, record_type, f"{name} exists but has no {record_type} record "
                                              f"({server} answered with no data)") from None
        except dns.resolver.NoNameservers as exc:
            answers = [error[4] for error in exc.kwargs.get("errors", []) if len(error) > 4]
            if any(a is not None and a.rcode() == dns.rcode.REFUSED for a in answers):
                raise LookupRefused(name, record_type, f"{server} refused to resolve {name}: it answers only for "
                                                       "the lab's zones and never asks outside DNS servers") from None
            raise DnsUnavailable(name, record_type, f"{server} failed to resolve {name}: {exc}") from None
        except dns.exception.Timeout:
            raise DnsUnavailable(name, record_type, f"no answer from {server} for {name} within "
                                                    f"{self._resolver.lifetime:g} s; is the host running, and is "
                                                    "ListenAddress right?") from None
        except (dns.name.EmptyLabel, dns.name.LabelTooLong, dns.name.NameTooLong) as exc:
            raise NameNotFound(name, record_type, f'"{name}" is not a valid DNS name: {exc}') from None
