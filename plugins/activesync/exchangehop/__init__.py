"""MASSYNC's hop to the mailbox: HTTP with NTLM to ``ExchangeVDir`` on the user's home server.

Exchange 2003's ActiveSync was always a front end ("MASSync ist immer
Frontend"): even on one server it read and wrote the mailbox over HTTP,
WebDAV on the OWA vdir, with Integrated Windows authentication as the
device's user. In the Exchange 2003 persona :func:`open_hop` gives the
command layer that path, so every failure of the path (a renamed vdir,
Integrated authentication switched off, SSL or forms-based logon required
there, a user without an address in the vdir's domain, an unresolvable or
unreachable home server, a full mailbox) reaches the device the way it
reached a phone in 2005: as the answer the hop really got.

Modules: :mod:`.client` (NTLM connections and their pool), :mod:`.mailboxurl`
(home server, vdir, mailbox segment), :mod:`.davxml` (WebDAV bodies and
answers), :mod:`.access` (the ``MailboxAccess``), :mod:`.replication` and
:mod:`.ledger` (changes since a mark: replication and its collblobs),
:mod:`.listener` (SUBSCRIBE/POLL for direct push).
"""
from __future__ import annotations

import base64
import binascii
import threading
import weakref

from plugins.activesync.exchangehop.access import ExchangeHopAccess
from plugins.activesync.exchangehop.client import Credentials, HopError, HopPool, HopSession
from plugins.activesync.exchangehop.ledger import Ledgers
from plugins.activesync.exchangehop.listener import stop_all
from plugins.activesync.exchangehop.mailboxurl import locate_home_server, mailbox_address, mailbox_path

__all__ = ["ExchangeHopAccess", "HopError", "open_hop", "pool_of", "close_pool", "stop_all"]

# What the mailbox server's W3C log shows in cs(User-Agent) for MASSYNC's own requests.
# The lab's choice: Exchange 2003's real string is unverified.
USER_AGENT = "Microsoft-Server-ActiveSync/{build} (MASSYNC mailbox access)"

_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ledgers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def pool_of(service) -> HopPool:
    """The service's pool of hop connections (one per running host)."""
    with _guard:
        pool = _pools.get(service)
        if pool is None:
            pool = _pools[service] = HopPool()
        return pool


def close_pool(service) -> None:
    """Close the idle hop connections (the host is shutting down)."""
    with _guard:
        pool = _pools.pop(service, None)
    if pool is not None:
        pool.close()


def _ledgers_of(service) -> Ledgers:
    with _guard:
        found = _ledgers.get(service)
        if found is None:
            found = _ledgers[service] = Ledgers()
        return found


def basic_password(environ) -> str | None:
    """The password the device sent with Basic authentication; None for any other logon.

    Exchange 2003's MASSYNC could hop as the user only with the password in
    hand: an NTLM logon on the ActiveSync vdir leaves no password behind (and
    NTLM credentials cannot be passed on), a client certificate none either.
    """
    scheme, _, token = (environ.get("HTTP_AUTHORIZATION") or "").strip().partition(" ")
    if scheme.casefold() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("latin-1")
    user, sep, password = text.partition(":")
    return password if sep else None


def open_hop(persona, service, user, environ) -> ExchangeHopAccess:
    """The hop for one device request: read the registry, resolve the home server, set up the session.

    :raises HopError: the home server's name does not resolve.
    """
    config = environ.get("host.config") or service.config
    server = locate_home_server(config, service.directory, user, request_site=environ.get("INSTANCE_ID"))
    address = mailbox_address(user, config)
    session = HopSession(server.target, Credentials(user.logon_name, basic_password(environ)), pool_of(service),
                         user_agent=USER_AGENT.format(build=persona.server_version), server=server.name,
                         mailbox=address)
    mailbox_key = f"{server.target.ip}:{server.target.port}/{address.casefold()}"
    return ExchangeHopAccess(service, session, mailbox_path(config, user), _ledgers_of(service), mailbox_key)
