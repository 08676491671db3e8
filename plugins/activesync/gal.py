"""The Global Address List as MASSYNC reads it from the directory (Search GAL, ResolveRecipients, Find).

Exchange looked users up in Active Directory with ambiguous name resolution
(ANR): a query matches when it begins the display name, a word of it, the
given name, the surname, the alias (mailNickname) or an SMTP address. The
lab directory keeps no givenName/sn, so the first and last word of the
display name stand in for them. Each lookup counts toward ``LdapC``/``LdapL``
of the ``&Log=`` field.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from lxml import etree

from plugins.activesync.wbxml import element


@dataclass(frozen=True)
class GalEntry:
    display_name: str
    email_address: str
    alias: str
    first_name: str
    last_name: str
    addresses: tuple[str, ...]  # every SMTP address, primary first

    def matches(self, query: str) -> bool:
        """ANR: the query begins one of the names or addresses, case-insensitively."""
        wanted = query.strip().casefold()
        if not wanted:
            return False
        candidates = [self.display_name, *self.display_name.split(), self.first_name, self.last_name, self.alias]
        candidates += [a for address in self.addresses for a in (address, address.partition("@")[0])]
        return any(c.casefold().startswith(wanted) for c in candidates if c)

    def is_exactly(self, query: str) -> bool:
        """An address, alias or display name given in full: the recipient is resolved, not ambiguous."""
        wanted = query.strip().casefold()
        return wanted in {a.casefold() for a in self.addresses} or wanted in (
            self.alias.casefold(), self.display_name.casefold())


def _entry(user) -> GalEntry:
    words = user.display_name.split()
    first = words[0] if words else ""
    last = words[-1] if len(words) > 1 else ""
    return GalEntry(user.display_name, user.primary_smtp, user.sam_account_name, first, last,
                    tuple(user.smtp_addresses()))


def entries(ctx) -> list[GalEntry]:
    """Every mail-enabled, enabled user, by display name (the order Exchange's GAL used)."""
    began = time.perf_counter()
    users = ctx.service.directory.users()
    ctx.usage.ldap_calls += 1
    ctx.usage.ldap_ms += int((time.perf_counter() - began) * 1000)
    found = [_entry(u) for u in users if u.account_enabled and u.proxy_addresses]
    return sorted(found, key=lambda e: e.display_name.casefold())


def search(ctx, query: str) -> list[GalEntry]:
    return [e for e in entries(ctx) if e.matches(query)]


def properties(entry: GalEntry, page: str = "Gal") -> list[etree._Element]:
    """MS-ASCMD 2.2.3.139.3 / MS-ASWBXML Gal page, in code page order; absent values are left out.

    The directory has no phone, office, title or company, so those never appear.
    """
    out = [element(f"{page}:DisplayName", entry.display_name)]
    if entry.alias:
        out.append(element(f"{page}:Alias", entry.alias))
    if entry.first_name:
        out.append(element(f"{page}:FirstName", entry.first_name))
    if entry.last_name:
        out.append(element(f"{page}:LastName", entry.last_name))
    out.append(element(f"{page}:EmailAddress", entry.email_address))
    return out


def no_picture(page: str = "Gal") -> etree._Element:
    """A requested picture the directory does not have: Status 173, NoPicture (MS-ASCMD 2.2.2)."""
    return element(f"{page}:Picture", None, element(f"{page}:Status", "173"))
