"""After a step failed: name the setting behind the failure, with the file:line it came from.

This is what the real ExRCA cannot do and the lab's can, because it reads
the host's registry.ini, certificate store and event log. Every function
here starts from what the failed request really returned (an IIS
status.substatus, the certificate the handshake presented, an event MASSYNC
wrote) and only then looks the responsible setting up. None of them decides
whether a step passes.
"""
from __future__ import annotations

import re
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from device.profiles import Published
from host.config import HostConfig, Site
from host.eventlog import Event
from host.w3clog import parse_w3c
from host.metabase import ACCESS_FLAGS, ACCESS_SSL_FLAGS, AUTH_FLAGS
from plugins.activesync.plugin import MASSYNC_PARAMETERS
from plugins.activesync.transport import EVENT_MAILBOX_ERROR
from plugins.labdns.zones import ZONES_KEY

from .lab import Lab
from .report import Cause

MASSYNC_SOURCE = "Server ActiveSync"
# How MASSYNC's event 3005 quotes the back end's answer: "HTTP status code: [403]" (as Exchange
# 2003's event did), or "HTTP 404" / "status 403.4".
_BACKEND_STATUS = re.compile(r"(?:HTTP status code: \[|HTTP |status )(\d{3})(?:\.(\d{1,2}))?", re.IGNORECASE)
_IIS_STATUS = re.compile(r"HTTP Error (\d{3})(?:\.(\d{1,2}))?")

# IIS status.substatus -> the vdir property that decides it, and why.
_VDIR_PROPERTY = {
    (403, 4): ("AccessSSLFlags", "AccessSSL (8) requires SSL on this vdir"),
    (403, 5): ("AccessSSLFlags", "AccessSSL128 (256) requires 128-bit SSL on this vdir"),
    (403, 7): ("AccessSSLFlags", "AccessSSLRequireCert (64) makes the vdir require a client certificate; "
                                 "devices without one get 403.7. Clear bits 32/64 (\"Ignore client certificates\")"),
    (403, 12): ("AccessSSLFlags", "AccessSSLMapCert (128) maps client certificates, and this one maps to no user"),
    (403, 16): ("AccessSSLFlags", "the vdir asks for client certificates and the one sent is not trusted"),
    (403, 17): ("AccessSSLFlags", "the vdir asks for client certificates and the one sent has expired"),
    (401, 2): ("AuthFlags", "the vdir offers no authentication method the client can use; EAS devices send "
                            "Basic (AuthBasic = 2)"),
    (403, 1): ("AccessFlags", "the script map needs Script (512) or Execute (4) permission"),
    (404, 2): ("ScriptMaps", "the script map names an ISAPI extension no plugin provides"),
}
_FLAG_TABLES = {"AccessSSLFlags": ACCESS_SSL_FLAGS, "AuthFlags": AUTH_FLAGS, "AccessFlags": ACCESS_FLAGS}


def iis_status(body: bytes) -> tuple[int, int] | None:
    """The status.substatus an IIS 6 error page names ("HTTP Error 403.7 - Forbidden")."""
    found = _IIS_STATUS.search(body.decode("utf-8", "replace"))
    return (int(found.group(1)), int(found.group(2) or 0)) if found else None


def flags_text(name: str, value) -> str:
    """``0x48 (AccessSSL, AccessSSLRequireCert)`` for a flags property, else the value as written."""
    table = _FLAG_TABLES.get(name)
    if table is None or not isinstance(value, int):
        return str(value) if value not in ("", None, []) else "(not set)"
    names = [flag for flag, bit in table.items() if value & bit]
    return f"0x{value:X} ({', '.join(names) or 'none'})"


def site_serving(config: HostConfig, published: Published, secure: bool = True) -> Site | None:
    """The site whose binding received the connection (its IP, or All Unassigned, and port)."""
    for site in config.sites.values():
        for binding in site.secure_bindings if secure else site.bindings:
            if binding.port == published.lab_port and binding.ip in (published.ip, ""):
                return site
    return None


# --- DNS and TCP ---------------------------------------------------------------------


def dns_causes(lab: Lab, name: str) -> list[Cause]:
    """The lab zone that should hold ``name`` and its A records."""
    config = lab.config
    zones = [key.path.rsplit("\\", 1)[1] for key in config.registry.subkeys(ZONES_KEY)]
    owning = sorted((z for z in zones if name.lower() == z.lower() or name.lower().endswith("." + z.lower())),
                    key=len, reverse=True)
    if not owning:
        return [Cause("(zone)", ZONES_KEY, "none", "default",
                      f"no lab DNS zone holds {name}; the lab DNS refuses names outside its zones")]
    zone = owning[0]
    setting = config.registry_setting(f"{ZONES_KEY}\\{zone}", "A")
    node = name[: -len(zone)].rstrip(".") or "@"
    records = ", ".join(f'"{owner} {ip}"' for owner, ip in setting.value) or "(none)"
    return [Cause("A", f"{ZONES_KEY}\\{zone}", records, str(setting.origin),
                  f'the zone {zone} has no A record for "{node}"; devices cannot find {name}')]


def binding_causes(lab: Lab, published: Published) -> list[Cause]:
    """The secure bindings of every site: none of them listens where the firewall sent the connection."""
    causes = []
    for site in lab.config.sites.values():
        setting = site.key.setting("SecureBindings")
        shown = ", ".join(f'"{b}"' for b in setting.value) or "(none)"
        causes.append(Cause("SecureBindings", site.path, shown, str(setting.origin),
                            f"the lab firewall sends port {published.port} of {published.ip} to "
                            f"{published.ip}:{published.lab_port}, where no site listens"))
    return causes


# --- the certificate -------------------------------------------------------------------


def certificate_causes(lab: Lab, published: Published, der: bytes | None) -> list[Cause]:
    """The site's SSLCertHash and the certificate it chose."""
    site = site_serving(lab.config, published)
    if site is None:
        return []
    setting = site.key.setting("SSLCertHash")
    if der is None:
        presented = "no certificate was presented"
    else:
        cert = x509.load_der_x509_certificate(der)
        thumb = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - IIS names certificates by SHA-1
        issued = lab.pki.find(thumb)
        names = ", ".join(issued.names) if issued else "?"
        presented = (f"the site presents certificate {thumb} ({cert.subject.rfc4514_string()}, names {names}; "
                     f"issued by {cert.issuer.rfc4514_string()}; valid {_day(cert.not_valid_before_utc)} to "
                     f"{_day(cert.not_valid_after_utc)})")
    chosen = "chosen by SSLCertHash" if setting.value else "SSLCertHash is not set: the host's own certificate"
    return [Cause("SSLCertHash", site.path, setting.value or "(not set)", str(setting.origin),
                  f"{presented}; {chosen}. Pick another with \"python -m host cert list\" and "
                  f"\"adsutil set W3SVC/{site.id}/SSLCertHash <thumbprint>\"")]


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


# --- HTTP ----------------------------------------------------------------------------------


def http_causes(lab: Lab, published: Published, url_path: str, status: int, body: bytes) -> list[Cause]:
    """The vdir property behind an IIS error page the request got back."""
    site = site_serving(lab.config, published)
    code = iis_status(body) or (status, 0)
    if site is None:
        return []
    resolved = site.resolve(url_path)
    if resolved is None:
        return []
    vdir = resolved[0]
    if code == (404, 0) and vdir.url_path == "/":
        name = url_path.strip("/").split("/")[0]
        return [Cause("(virtual directory)", f"{site.path}/ROOT/{name}", "missing", "default",
                      f"the site has no vdir {name}; the request reached [{vdir.path}]")]
    known = _VDIR_PROPERTY.get(code)
    if known is None:
        return []
    prop, why = known
    return [vdir_cause(vdir, prop, f"HTTP {code[0]}.{code[1]}: {why}")]


def vdir_cause(vdir, prop: str, explanation: str) -> Cause:
    setting = vdir.setting(prop)
    value = setting.value
    shown = flags_text(prop, value) if not isinstance(value, list) else ", ".join(map(str, value)) or "(none)"
    return Cause(prop, vdir.path, shown, str(setting.origin), explanation)


# --- MASSYNC's back end -------------------------------------------------------------------


def massync_events(lab: Lab, since: datetime) -> list[Event]:
    """Server ActiveSync errors written since ``since``, oldest first."""
    return list(reversed(lab.eventlog.query(source=MASSYNC_SOURCE, level="Error", since=since, limit=5)))


def event_line(event: Event) -> str:
    """The event's first line, and for an unexpected error the exception at the end of its traceback."""
    lines = event.text.strip().splitlines()
    last = f" ... {lines[-1].strip()}" if len(lines) > 1 and lines[1].startswith("Traceback") else ""
    return f"Event {event.source} {event.event_id} at {event.time:%H:%M:%S}: {lines[0]}{last}"


def massync_causes(lab: Lab, events: list[Event]) -> list[Cause]:
    """For a mailbox access error (event 3005): MASSYNC's ExchangeVDir, and the setting of
    that vdir the event's back-end status points at. Other events name no setting."""
    events = [e for e in events if e.event_id == EVENT_MAILBOX_ERROR]
    if not events:
        return []
    config = lab.config
    setting = config.registry_setting(MASSYNC_PARAMETERS, "ExchangeVDir")
    vdir_name = (setting.value or "/Exchange").strip("/")
    status = _backend_status(lab, events, vdir_name)
    vdir = next((v for site in config.sites.values() for v in [config.vdir(f"{site.path}/ROOT/{vdir_name}")] if v),
                None)
    exists = f"[{vdir.path}] exists" if vdir is not None else f"no site has a vdir /{vdir_name}"
    causes = [Cause("ExchangeVDir", MASSYNC_PARAMETERS, setting.value, str(setting.origin),
                    f"MASSYNC reaches every mailbox over HTTP through /{vdir_name} on the home server; {exists}"
                    + (f"; the event quotes the back end's HTTP {status[0]}.{status[1]}" if status else ""))]
    if vdir is not None and status is not None:
        known = _VDIR_PROPERTY.get(status)
        if known is not None:
            causes.append(vdir_cause(vdir, known[0], f"MASSYNC's own request got {status[0]}.{status[1]}: {known[1]}"))
    return causes


def _backend_status(lab: Lab, events: list[Event], vdir_name: str) -> tuple[int, int] | None:
    """The back end's status.substatus: the event gives the status, the W3C log line of
    MASSYNC's own request (it went through the same site) the substatus."""
    found = next((m for e in events for m in [_BACKEND_STATUS.search(e.text)] if m), None)
    if found is None:
        return None
    status, substatus = int(found.group(1)), found.group(2)
    if substatus is None:
        prefix = f"/{vdir_name}".casefold()
        hops = [row for row in _w3c_rows(lab) if row.get("sc-status") == str(status)
                and row.get("cs-uri-stem", "").casefold().startswith(prefix)]
        substatus = hops[-1].get("sc-substatus", "0") if hops else "0"
    return status, int(substatus) if substatus.isdigit() else 0


def _w3c_rows(lab: Lab) -> list[dict[str, str]]:
    """The newest two W3C log files of every site (today's, and yesterday's around midnight)."""
    rows: list[dict[str, str]] = []
    for site in lab.config.sites.values():
        for path in sorted((lab.data_dir / "LogFiles" / site.name).glob("*.log"))[-2:]:
            rows += parse_w3c(path.read_text(encoding="utf-8", errors="replace"))
    return rows
