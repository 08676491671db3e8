r"""Whose settings a request asks for: a mailbox here, or an address served by another organisation.

Exchange answers Autodiscover with settings only for mailboxes it holds. For
a recipient whose mailbox lives elsewhere (a mailbox moved to another forest
or to Exchange Online, whose target address is in that organisation's
domain) it sends the client on: to another address (``redirectAddr``; the
client starts discovery again for that address's domain) or, for Outlook, to
another Autodiscover URL (``redirectUrl``). MS-OXDSCLI 3.2.5.

The lab names the SMTP domains served elsewhere in
``HKLM\SOFTWARE\Microsoft\Exchange\Autodiscover``, value ``RedirectDomains``,
one entry per domain:

    "fabrikam.com fabrikam.mail.onmicrosoft.com"          redirect to the same name in that domain
    "litware.com https://autodiscover.litware.com/autodiscover/autodiscover.xml"

A user counts as served elsewhere when their *primary* SMTP address is in
such a domain, whatever address the client asked with; an address nobody in
the directory has is redirected when its own domain is listed.
"""
from __future__ import annotations

from dataclasses import dataclass

from host.directory import User
from host.metabase import ConversionError
from plugins.autodiscover.publishing import parse_url

AUTODISCOVER_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Exchange\Autodiscover"


@dataclass(frozen=True)
class DomainRedirect:
    """One RedirectDomains entry: ``domain`` is served by another organisation, found at ``target``."""

    domain: str
    address_domain: str = ""  # redirectAddr: the same local part in this domain
    url: str = ""  # redirectUrl: that organisation's Autodiscover


def parse_redirect_domains(entries: list[str]) -> list[DomainRedirect]:
    redirects: dict[str, DomainRedirect] = {}
    for entry in entries:
        words = entry.split()
        if len(words) != 2:
            raise ConversionError(f'"{entry}": expected "<SMTP domain> <domain or https URL>", e.g. '
                                  '"fabrikam.com fabrikam.mail.onmicrosoft.com"')
        domain, target = words[0].lower().lstrip("@"), words[1]
        if domain in redirects:
            raise ConversionError(f'"{entry}": {domain} is listed twice')
        if "://" in target:
            url = parse_url(target)
            if not url.lower().startswith("https://"):
                raise ConversionError(f'"{entry}": clients follow Autodiscover redirects to https URLs only')
            redirects[domain] = DomainRedirect(domain, url=url)
            continue
        target = target.lower().lstrip("@")
        if target == domain:
            raise ConversionError(f'"{entry}": a domain redirected to itself would send clients round in circles')
        redirects[domain] = DomainRedirect(domain, address_domain=target)
    return list(redirects.values())


def redirect_for(redirects: list[DomainRedirect], domain: str) -> DomainRedirect | None:
    """The RedirectDomains entry for ``domain`` (lower-case), if it has one."""
    return next((rule for rule in redirects if rule.domain == domain), None)


@dataclass(frozen=True)
class Mailbox:
    """The mailbox is here: answer with its settings."""

    user: User


@dataclass(frozen=True)
class Elsewhere:
    """The recipient is served by another organisation.

    :param address: the address to give the client (redirectAddr, or the
        mobilesync ``Redirect``, which can only carry an address).
    :param url: that organisation's Autodiscover URL, for Outlook's redirectUrl ("" when not known).
    """

    user: User | None
    address: str
    url: str
    rule: DomainRedirect


@dataclass(frozen=True)
class Unknown:
    """Nobody here has this address, and its domain is not redirected."""

    address: str


Recipient = Mailbox | Elsewhere | Unknown


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def resolve(address: str, directory, redirects: list[DomainRedirect]) -> Recipient:
    """Who ``address`` is, as Autodiscover must treat it."""
    user = directory.find_by_smtp(address) if "@" in address else None
    known = user.primary_smtp if user is not None else address
    rule = redirect_for(redirects, domain_of(known))
    if rule is not None:
        local = known.rpartition("@")[0]
        target = f"{local}@{rule.address_domain}" if rule.address_domain else known
        return Elsewhere(user, target, rule.url, rule)
    if user is None:
        return Unknown(address)
    return Mailbox(user)
