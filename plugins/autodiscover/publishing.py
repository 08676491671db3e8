"""The URLs Autodiscover publishes for a vdir: Exchange's InternalUrl and ExternalUrl.

Exchange 2007 and later keep, per virtual directory, the URL clients inside
(``InternalUrl``) and outside (``ExternalUrl``) the network use
(Set-ActiveSyncVirtualDirectory -ExternalUrl); the lab keeps both in the
vdir's metabase key. Setup fills InternalUrl with the server's FQDN and
leaves ExternalUrl empty; the lab's default does the same, from the site's
first SSL binding (``https://exchange01.contoso.com:8443/...``), or its first
HTTP binding when the site has no SSL binding. A wrong ExternalUrl is
therefore published as faithfully as a right one: devices follow it.

Which vdir: the one whose own ``ScriptMaps`` map every request (``*``) to the
handler in question, ``massync.dll`` for ActiveSync, as Exchange knows its
ActiveSync virtual directory wherever an admin put it; for Outlook Web Access
the ``davex.dll`` vdir whose Path is a store's mailbox folder (``...\\MBX``),
as DS2MB knows the Exchange vdir (not Public or Exadmin).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from host.metabase import ConversionError

INTERNAL_URL, EXTERNAL_URL = "InternalUrl", "ExternalUrl"
MASSYNC = "massync.dll"
DAVEX = "davex.dll"
AUTODISCOVER = "autodisc.dll"


def parse_url(text: str) -> str:
    """An absolute http(s) URL, or empty for "not set"."""
    text = text.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConversionError(f'"{text}" is not an absolute URL; expected e.g. '
                              '"https://mail.contoso.com/Microsoft-Server-ActiveSync"')
    try:
        parts.port
    except ValueError:
        raise ConversionError(f'"{text}": the port is not a number from 0 to 65535') from None
    return text


@dataclass(frozen=True)
class PublishedUrls:
    """A vdir's published URLs and where each came from (for reports and DebugData)."""

    vdir_path: str  # the metabase path, e.g. /LM/W3SVC/1/ROOT/Microsoft-Server-ActiveSync
    internal: str
    external: str  # "" when not set
    internal_origin: str  # "registry.ini:123 [...]" or "default (from SecureBindings)"
    external_origin: str

    @property
    def for_devices(self) -> str:
        """What a mobile device is told: the external URL when set, else the internal one."""
        return self.external or self.internal

    @property
    def for_devices_origin(self) -> str:
        return self.external_origin if self.external else self.internal_origin


def server_fqdn(computer_name: str, directory) -> str:
    """``EXCHANGE01`` in ``contoso.com``: the name Exchange setup puts into InternalUrl."""
    domains = directory.domains()
    return f"{computer_name.lower()}.{domains[0][1]}" if domains else computer_name.lower()


def vdirs_running(config, handler_name: str) -> list:
    """The vdirs (sites in order, then by URL) whose own ScriptMaps send every request to ``handler_name``."""
    found = []
    for site_id in sorted(config.sites):
        site = config.sites[site_id]
        if not site.started:
            continue
        for vdir in sorted(site.vdirs.values(), key=lambda v: v.url_path.casefold()):
            setting = vdir.setting("ScriptMaps")
            if setting.origin.key is None or setting.origin.key.casefold() != vdir.path.casefold():
                continue
            if any(m.extension == "*" and m.handler_name == handler_name for m in setting.value):
                found.append(vdir)
    return found


def published_urls(vdir, fqdn: str, document: str = "") -> PublishedUrls:
    """The URLs of ``vdir``; ``document`` is appended to a default URL (``/Autodiscover.xml``)."""
    internal, external = vdir.setting(INTERNAL_URL), vdir.setting(EXTERNAL_URL)
    default, default_origin = _default_url(vdir, fqdn, document)
    return PublishedUrls(
        vdir_path=vdir.path,
        internal=internal.value or default,
        external=external.value,
        internal_origin=str(internal.origin) if internal.value else default_origin,
        external_origin=str(external.origin),
    )


def _default_url(vdir, fqdn: str, document: str) -> tuple[str, str]:
    site = vdir.site
    path = vdir.url_path.rstrip("/") + document
    if site.secure_bindings:
        port = site.secure_bindings[0].port
        return f"https://{fqdn}{'' if port == 443 else f':{port}'}{path}", f"default (SecureBindings of [{site.path}])"
    if site.bindings:
        binding = site.bindings[0]
        host = binding.host_header or fqdn
        return (f"http://{host}{'' if binding.port == 80 else f':{binding.port}'}{path}",
                f"default (ServerBindings of [{site.path}]; the site has no SecureBindings)")
    return f"https://{fqdn}{path}", f"default ([{site.path}] has no bindings)"


def owa_vdir(config):
    """The Exchange (OWA) vdir: davex.dll over the mailboxes (``\\\\.\\BackOfficeStorage\\<domain>\\MBX``)."""
    mailboxes = (v for v in vdirs_running(config, DAVEX) if v.get("Path").rstrip("\\").upper().endswith("\\MBX"))
    return next(mailboxes, None)
