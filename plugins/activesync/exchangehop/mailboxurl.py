"""Where the hop goes: the user's home server, the ``ExchangeVDir`` on it, and the mailbox segment.

Exchange 2003's MASSYNC did not discover any of this; it built
``http://<homeMDB server>/<ExchangeVDir>/<mailbox>/`` from the directory and
the registry on every request (PITFALLS 1, 2.2, 2.4, 2.10):

* **Home server.** The user's ``home_server`` names it. The registry's
  ``ComputerName`` is this host: the hop goes to this host's HTTP binding
  (the lab's stand-in for port 80) of the site that has the ``ExchangeVDir``,
  else of the site the device came in on. Any other name is looked up in the
  lab DNS only (``<name>.<the user's DNS domain>`` for a short name); a name
  the zone lacks is a name-resolution failure. Lab hosts play several
  servers on different loopback addresses with the same port numbers, so a
  remote server is reached on the port this host's HTTP binding uses.
* **ExchangeVDir** from ``MasSync\\Parameters``, read from the request's
  configuration snapshot, so a changed registry.ini applies at once.
* **Mailbox segment**: the left-hand side of the user's primary SMTP
  address, or, with ``SMTPProxy`` set, of the user's address in that domain
  (KB886346; the primary's when the user has none there). Nothing checks
  whether the vdir serves that address: the mailbox server's 404 says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from host.metabase import COMPUTER_NAME_KEY
from plugins.activesync.exchangehop.client import HopError, Target
from plugins.activesync.plugin import MASSYNC_PARAMETERS

HTTP_PORT = 80  # where Exchange 2003's hop went when this host has no HTTP binding at all
_SEGMENT_SAFE = "!$'()*,;=@~-._"  # what davex leaves unescaped in a path segment


@dataclass(frozen=True)
class MailboxServer:
    """The home server as the hop reaches it."""

    name: str  # as the directory names it (EXCHANGE01)
    target: Target


def exchange_vdir(config) -> str:
    """``ExchangeVDir`` without a trailing slash; the property converter made empty ``/Exchange``."""
    return "/" + config.registry_value(MASSYNC_PARAMETERS, "ExchangeVDir").strip("/")


def mailbox_address(user, config) -> str:
    """The SMTP address whose left-hand side names the mailbox under the vdir."""
    proxy_domain = (config.registry_value(MASSYNC_PARAMETERS, "SMTPProxy") or "").strip().lstrip("@").casefold()
    if proxy_domain:
        for address in user.smtp_addresses():
            if address.rpartition("@")[2].casefold() == proxy_domain:
                return address
    return user.primary_smtp


def mailbox_path(config, user) -> str:
    """``/Exchange/alice``: the quoted path of the mailbox root, without the trailing slash."""
    local_part = mailbox_address(user, config).rpartition("@")[0]
    return quote(exchange_vdir(config), safe="/") + "/" + quote(local_part, safe=_SEGMENT_SAFE)


def locate_home_server(config, directory, user, *, request_site: str | None = None,
                       resolver_factory=None) -> MailboxServer:
    """The user's home server as an address, port and Host header.

    :param request_site: INSTANCE_ID of the device's request (its site is preferred).
    :param resolver_factory: builds the lab DNS resolver from the configuration (a test seam).
    :raises HopError: the name does not resolve in the lab DNS.
    """
    computer = config.registry_value(COMPUTER_NAME_KEY, "ComputerName")
    name = user.home_server.strip() or computer
    binding = _local_http_binding(config, exchange_vdir(config), request_site)
    port = binding.port if binding is not None else HTTP_PORT
    if name.split(".")[0].casefold() == computer.casefold():
        ip = (binding.ip if binding is not None else "") or "127.0.0.1"
        host = binding.host_header if binding is not None and binding.host_header else computer.lower()
        return MailboxServer(name, Target(ip, port, _with_port(host, port)))
    fqdn = name if "." in name else f"{name.lower()}.{_dns_domain(directory, user)}"
    if resolver_factory is None:
        from plugins.labdns.resolver import LabResolver as resolver_factory
    from plugins.labdns.resolver import LabLookupError

    try:
        addresses = resolver_factory(config).resolve_a(fqdn)
    except LabLookupError as exc:
        raise HopError(None, "(name lookup)", f"http://{_with_port(fqdn, port)}/", name, user.primary_smtp,
                       f"the home server's name cannot be resolved: {exc}") from None
    return MailboxServer(name, Target(addresses[0], port, _with_port(fqdn, port)))


def _with_port(host: str, port: int) -> str:
    return host if port == HTTP_PORT else f"{host}:{port}"


def _dns_domain(directory, user) -> str:
    domains = directory.domains()
    for netbios, dns in domains:
        if netbios.casefold() == user.domain.casefold():
            return dns
    return domains[0][1] if domains else ""


def _local_http_binding(config, vdir: str, request_site: str | None):
    """An HTTP binding of this host: the site with the vdir first, the device's site next."""
    sites = [s for s in sorted(config.sites.values(), key=lambda s: (str(s.id) != str(request_site), s.id))
             if s.started and s.bindings]
    for site in sites:
        if vdir.casefold() in site.vdirs:
            return site.bindings[0]
    return sites[0].bindings[0] if sites else None
