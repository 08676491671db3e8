"""The Autodiscover plugin's hooks: the autodisc.dll handler and its registry values.

``InternalUrl`` and ``ExternalUrl`` live on vdir keys (any vdir: the
ActiveSync, Exchange and Autodiscover vdirs are the ones published);
``RedirectDomains`` names the SMTP domains another organisation serves.
"""
from __future__ import annotations

from host import hookimpl
from host.metabase import VDIR, Property
from host.regfile import RegType
from host.scriptmaps import Handler
from plugins.autodiscover.handler import make_app
from plugins.autodiscover.publishing import AUTODISCOVER, EXTERNAL_URL, INTERNAL_URL, parse_url
from plugins.autodiscover.recipients import AUTODISCOVER_KEY, parse_redirect_domains


@hookimpl
def register_handlers():
    return [Handler(AUTODISCOVER, make_app, "Autodiscover: POX (mobilesync, Outlook) and AutodiscoverV2 JSON")]


@hookimpl
def register_registry_properties():
    sz = RegType.REG_SZ
    return [
        Property(INTERNAL_URL, sz, (VDIR,), "", "The URL clients inside the network use for this vdir, as "
                 "Autodiscover publishes it; empty = https://<computer FQDN>:<first SecureBindings port>/<vdir>.",
                 inherits=False, convert=parse_url),
        Property(EXTERNAL_URL, sz, (VDIR,), "", "The URL clients outside the network use (Exchange's ExternalUrl); "
                 "mobile devices get it when set, else InternalUrl. Empty = not published externally.",
                 inherits=False, convert=parse_url),
        Property("RedirectDomains", RegType.REG_MULTI_SZ, (AUTODISCOVER_KEY,), [],
                 "SMTP domains served by another organisation, each \"<domain> <domain>\" (redirect to the same "
                 "name in that domain) or \"<domain> <https Autodiscover URL>\".", convert=parse_redirect_domains),
    ]
