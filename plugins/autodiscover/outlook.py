"""The Outlook provider (MS-OXDSCLI 2.2.4): the mailbox server and Outlook Web Access for a user.

The Outlook schema has no ActiveSync element; what an Exchange 2003 mailbox
offers Outlook is the mailbox server (protocol ``EXCH``) and Outlook Web
Access (protocol ``WEB``, the /Exchange vdir's published URLs). Element order
is MS-OXDSCLI's: ``User`` (``DisplayName``, ``LegacyDN``,
``AutoDiscoverSMTPAddress``) then ``Account`` (``AccountType``, ``Action``,
``Protocol``...); ``WEB`` lists ``External`` before ``Internal`` as the
MS-OXDSCLI 4.4 example does. Redirects follow MS-OXDSCLI 4.2; an unknown
address is error 500 (MS-OXDSCLI 2.2.4.1.1.3.2).
"""
from __future__ import annotations

import datetime as dt

from lxml import etree

from host.directory import User
from plugins.autodiscover.pox import OUTLOOK_RESPONSE_NS as NS
from plugins.autodiscover.pox import add_timed_error, response_root, serialize
from plugins.autodiscover.publishing import PublishedUrls
from plugins.autodiscover.recipients import Elsewhere, Mailbox, Recipient

# Exchange 2003 Setup's first administrative group; legacyExchangeDN values hang below it.
ADMINISTRATIVE_GROUP = "First Administrative Group"
ADDRESS_NOT_FOUND = 500
# OWAUrl AuthenticationMethod values (MS-OXDSCLI, OWAUrl element), keyed by the lab's scheme names.
AUTHENTICATION_METHODS = {"Basic": "Basic", "Integrated Windows authentication": "WindowsIntegrated",
                          "Forms-based authentication": "Fba"}


def legacy_dn(user: User) -> str:
    """The user's legacyExchangeDN; the lab names the organisation after the user's NetBIOS domain."""
    return f"/o={user.domain}/ou={ADMINISTRATIVE_GROUP}/cn=Recipients/cn={user.sam_account_name}"


def server_dn(organisation: str, server: str) -> str:
    return f"/o={organisation}/ou={ADMINISTRATIVE_GROUP}/cn=Configuration/cn=Servers/cn={server.upper()}"


def _sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{name}", **attributes)
    element.text = text
    return element


def outlook_response(recipient: Recipient, requested: str, *, server_fqdn: str, owa: PublishedUrls | None,
                     owa_methods: list[str], computer_name: str, now: dt.datetime) -> bytes:
    """The answer for ``recipient``.

    :param server_fqdn: the user's home server's DNS name.
    :param owa: the Exchange vdir's published URLs, None when no vdir serves the mailboxes.
    :param owa_methods: the lab's names of the authentication schemes that vdir offers.
    """
    root, response = response_root(NS)
    if isinstance(recipient, Elsewhere):
        account = _sub(response, "Account")
        if recipient.url:
            _sub(account, "Action", "redirectUrl")
            _sub(account, "RedirectUrl", recipient.url)
        else:
            _sub(account, "Action", "redirectAddr")
            _sub(account, "RedirectAddr", recipient.address)
    elif isinstance(recipient, Mailbox):
        user = recipient.user
        element = _sub(response, "User")
        _sub(element, "DisplayName", user.display_name)
        _sub(element, "LegacyDN", legacy_dn(user))
        _sub(element, "AutoDiscoverSMTPAddress", user.primary_smtp)
        account = _sub(response, "Account")
        _sub(account, "AccountType", "email")
        _sub(account, "Action", "settings")
        exch = _sub(account, "Protocol")
        _sub(exch, "Type", "EXCH")
        _sub(exch, "Server", server_fqdn)
        _sub(exch, "ServerDN", server_dn(user.domain, user.home_server))
        if owa is not None:
            web = _sub(account, "Protocol")
            _sub(web, "Type", "WEB")
            methods = ", ".join(AUTHENTICATION_METHODS[m] for m in owa_methods if m in AUTHENTICATION_METHODS)
            for place, url in (("External", owa.external), ("Internal", owa.internal)):
                if url:
                    _sub(_sub(web, place), "OWAUrl", url, AuthenticationMethod=methods)
    else:
        add_timed_error(response, NS, ADDRESS_NOT_FOUND, "The e-mail address cannot be found.",
                        f"No user in the lab directory has the SMTP address {requested} (python -m host user list).",
                        computer_name, now)
    return serialize(root)
