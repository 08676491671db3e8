"""The categorizer: who a recipient address is, as Exchange 2003's SMTP categorizer asked AD.

An address resolves by the proxy addresses of directory users (any of them,
primary or secondary), never by the mailbox store's own record, so a user
whose proxy addresses an admin changed is found (or lost) exactly as the
directory says. An address in one of the lab's domains that no user holds is
unknown (5.1.1); any other domain is remote.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from host.directory import Directory, User


class RouteKind(enum.Enum):
    LOCAL = "local"  # a directory user: the store driver delivers to the mailbox
    REMOTE = "remote"  # another organisation: the Pickup folder (submission) or relay denied (SMTP)
    UNKNOWN = "unknown"  # one of our domains, but no user has the address


@dataclass(frozen=True)
class Route:
    address: str
    kind: RouteKind
    user: User | None = None


def accepted_domains(directory: Directory) -> set[str]:
    """The domains the lab is authoritative for: its AD domains and every user's SMTP domains
    (Exchange's recipient policies generated those addresses, so they are local too)."""
    domains = {dns.casefold() for _, dns in directory.domains()}
    for user in directory.users():
        domains.update(address.rpartition("@")[2].casefold() for address in user.smtp_addresses())
    return domains


def categorize(directory: Directory, address: str) -> Route:
    address = address.strip().strip("<>")
    user = directory.find_by_smtp(address)
    if user is not None:
        return Route(address, RouteKind.LOCAL, user)
    domain = address.rpartition("@")[2].casefold()
    if domain in accepted_domains(directory):
        return Route(address, RouteKind.UNKNOWN)
    return Route(address, RouteKind.REMOTE)
