"""The SMTP virtual server's metabase properties, ``[/LM/SMTPSVC/n]``, and their effective values.

IIS 6 keeps SMTP settings in the metabase beside the web service's; the lab
reads them from registry.ini keys named by the same metabase paths. Defaults
are what IIS setup writes for the Default SMTP Virtual Server (the schema's
own defaults differ: MaxMessageSize 33554432, MaxRecipients 100).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from host.metabase import Binding, ConversionError, Property, parse_bindings
from host.regfile import RegType

SMTPSVC = "/LM/SMTPSVC"
INSTANCE_KEYS = f"{SMTPSVC}/*"
DEFAULT_BINDING = "127.0.0.1:2525:"
# RFC 1035 2.3.1 labels, dot-separated; IIS refuses anything else in the FQDN box.
_FQDN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def parse_smtp_bindings(entries: list[str]) -> list[Binding]:
    """``ip:port:`` entries; SMTP has no host headers, and a virtual server needs a binding."""
    bindings = parse_bindings(entries)
    if not bindings:
        raise ConversionError(f'an SMTP virtual server needs at least one binding, e.g. "{DEFAULT_BINDING}"')
    for binding in bindings:
        if binding.host_header:
            raise ConversionError(f'"{binding}": SMTP bindings have no host header; write "{binding.ip}:{binding.port}:"')
    return bindings


def parse_fqdn(text: str) -> str:
    text = text.strip().rstrip(".")
    if text and not _FQDN.match(text):
        raise ConversionError(f'"{text}" is not a fully qualified domain name, e.g. "exchange01.contoso.com"')
    return text


def registry_properties() -> list[Property]:
    where = (INSTANCE_KEYS,)
    dword, multi, sz = RegType.REG_DWORD, RegType.REG_MULTI_SZ, RegType.REG_SZ
    return [
        Property("ServerBindings", multi, where, parse_smtp_bindings([DEFAULT_BINDING]),
                 "SMTP bindings of the virtual server, each ip:port: (port 25 on a real server).",
                 inherits=False, convert=parse_smtp_bindings),
        Property("ServerAutoStart", dword, where, True,
                 "1 = the SMTP virtual server starts with the service; 0 = stopped, mail is not accepted.",
                 inherits=False, convert=bool),
        Property("MaxMessageSize", dword, where, 2097152,
                 "Largest message accepted, in bytes, also announced as SIZE in the EHLO reply; "
                 "larger mail gets 552 5.3.4. 0 = no limit."),
        Property("MaxRecipients", dword, where, 64000,
                 "Most recipients per message; further RCPT commands get 452 4.5.3. 0 = no limit."),
        Property("FullyQualifiedDomainName", sz, where, "",
                 "The name in the banner, EHLO reply and Received: headers; empty = the computer name "
                 "in the directory's default DNS domain (exchange01.contoso.com).", convert=parse_fqdn),
    ]


@dataclass(frozen=True)
class VirtualServerSettings:
    """The effective settings of one SMTP virtual server, read once per connection."""

    instance: int
    bindings: tuple[Binding, ...]
    started: bool
    max_message_size: int | None  # bytes; None = no limit
    max_recipients: int | None
    fqdn: str


def instances(config) -> list[int]:
    """Instance 1 (the Default SMTP Virtual Server) and every other numbered key in registry.ini."""
    numbers = {1}
    for key in config.registry.subkeys(SMTPSVC):
        last = key.path.rstrip("/").rsplit("/", 1)[-1]
        if last.isdigit():
            numbers.add(int(last))
    return sorted(numbers)


def virtual_server(config, instance: int, default_fqdn: str) -> VirtualServerSettings:
    path = f"{SMTPSVC}/{instance}"

    def value(name: str):
        return config.registry_value(path, name)

    return VirtualServerSettings(
        instance=instance,
        bindings=tuple(value("ServerBindings")),
        started=bool(value("ServerAutoStart")),
        max_message_size=value("MaxMessageSize") or None,
        max_recipients=value("MaxRecipients") or None,
        fqdn=value("FullyQualifiedDomainName") or default_fqdn,
    )


def default_fqdn(computer_name: str, directory) -> str:
    """``EXCHANGE01`` in ``contoso.com``: what the Delivery tab's FQDN box shows by default."""
    domains = directory.domains()
    suffix = f".{domains[0][1]}" if domains else ""
    return f"{computer_name.lower()}{suffix}"


def virtual_servers(service) -> list[VirtualServerSettings]:
    fqdn = default_fqdn(service.computer_name, service.directory)
    return [virtual_server(service.config, n, fqdn) for n in instances(service.config)]
