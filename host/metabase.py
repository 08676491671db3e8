"""The table of known registry.ini properties: IIS 6 metabase properties and registry values.

One row per property: where it may appear, its registry type, default, a
small pure converter and a help text. ``config check`` validates the file
against this table, ``vdir show`` explains effective values with it, and
plugins add rows through the ``register_registry_properties`` hook.

The flag names and bit values are those of IIS 6 (``iiscnfg.h``), so that
``AuthFlags`` or ``AccessSSLFlags`` read here mean the same on a real server.
"""
from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from host.hookspecs import hookimpl
from host.regfile import RegType
from host.w3clog import DEFAULT_EXT_FILE_FLAGS

# Key kinds a property can live on. Metabase keys are classified by their path:
SERVICE = "service"  # /LM/W3SVC: defaults for every site
SITE = "site"  # /LM/W3SVC/1: a web site (IIsWebServer)
VDIR = "vdir"  # /LM/W3SVC/1/ROOT and below: IIsWebVirtualDir / IIsWebDirectory
FILTERS = "filters"  # /LM/W3SVC/Filters: the ISAPI filter list
FILTER = "filter"  # /LM/W3SVC/Filters/UrlScan: one ISAPI filter
WEB_KEYS = (SERVICE, SITE, VDIR)
KEY_KINDS = (SERVICE, SITE, VDIR, FILTERS, FILTER)


class ConversionError(ValueError):
    """A value of the right registry type whose content is wrong; the text says what is expected."""


@dataclass(frozen=True)
class Property:
    """One row of the property table.

    :param name: the metabase or registry value name, spelled as on Windows.
    :param type: the registry type a value must have.
    :param where: key kinds (``SITE``, ``VDIR``...) or one registry key path.
    :param default: the effective value when no key sets it.
    :param inherits: whether a value flows down the metabase key tree.
    :param convert: turns the stored value into what the host uses; raises
        :class:`ConversionError` with a sentence on bad content.
    :param flags: named bits of a flag dword, for messages and ``adsutil``.
    """

    name: str
    type: RegType
    where: tuple[str, ...]
    default: Any
    help: str
    inherits: bool = True
    convert: Callable[[Any], Any] | None = None
    flags: dict[str, int] = field(default_factory=dict)
    hint: str = ""

    def applies_to(self, kind: str, key_path: str) -> bool:
        """Whether this property may be set on a key of ``kind`` at ``key_path``.

        ``where`` holds key kinds or key paths; a path may use ``*`` (``/LM/SMTPSVC/*``).
        """
        if kind in self.where:
            return True
        folded = key_path.casefold()
        return any(fnmatch.fnmatchcase(folded, w.casefold()) for w in self.where if w not in KEY_KINDS)

    def describe(self, value: Any) -> str:
        """The value as ``vdir show`` prints it: flags spelled out, like IIS Manager."""
        if isinstance(value, bool):
            return "1" if value else "0"
        if self.flags and isinstance(value, int):
            names = [n for n, bit in self.flags.items() if bit and value & bit == bit]
            return f"{value} ({' | '.join(names) if names else 'none'})"
        if isinstance(value, list):
            return "; ".join(str(v) for v in value) if value else "(empty)"
        return f'"{value}"' if isinstance(value, str) else str(value)


class PropertyTable:
    """All known properties, looked up by name and key kind."""

    def __init__(self, rows: Iterable[Property]) -> None:
        self._rows: dict[str, list[Property]] = {}
        for row in rows:
            self._rows.setdefault(row.name.casefold(), []).append(row)

    def __iter__(self):
        for rows in self._rows.values():
            yield from rows

    def find(self, name: str, kind: str, key_path: str) -> Property | None:
        """The row for ``name`` on a key of ``kind``; None when unknown there."""
        for row in self._rows.get(name.casefold(), ()):
            if row.applies_to(kind, key_path):
                return row
        return None

    def named(self, name: str) -> list[Property]:
        """Every row called ``name`` (a name can live on several key kinds)."""
        return list(self._rows.get(name.casefold(), ()))

    def registry_keys(self) -> set[str]:
        """The casefolded registry key paths some row names explicitly."""
        return {w.casefold() for row in self for w in row.where if w not in KEY_KINDS}


# --- converters ---------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """One ``ServerBindings``/``SecureBindings`` entry: ``ip:port:hostheader``."""

    ip: str  # "" means all unassigned addresses, as in IIS
    port: int
    host_header: str

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}:{self.host_header}"

    @property
    def listen_ip(self) -> str:
        return self.ip or "0.0.0.0"


def parse_bindings(entries: list[str]) -> list[Binding]:
    """``["127.0.0.1:8080:", ":80:www.contoso.com"]`` to bindings; IPv6 in brackets."""
    bindings = []
    for entry in entries:
        text = entry.strip()
        if text.startswith("["):
            end = text.find("]")
            if end < 0:
                raise ConversionError(f'"{entry}": unclosed "[" around an IPv6 address')
            ip, rest = text[1:end], text[end + 1 :]
            if not rest.startswith(":"):
                raise ConversionError(f'"{entry}": expected ":" after the IPv6 address')
            parts = [ip, *rest[1:].split(":", 1)]
        else:
            parts = text.split(":", 2)
        if len(parts) < 2:
            raise ConversionError(f'"{entry}": expected ip:port:hostheader, e.g. "127.0.0.1:8080:"')
        ip, port_text = parts[0], parts[1]
        host = parts[2] if len(parts) > 2 else ""
        if ip:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ConversionError(f'"{entry}": "{ip}" is not an IP address') from None
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConversionError(f'"{entry}": port "{port_text}" is not a number from 1 to 65535')
        bindings.append(Binding(ip, int(port_text), host.strip()))
    return bindings


@dataclass(frozen=True)
class ScriptMap:
    """One ``ScriptMaps`` entry: ``extension,executable,flags[,verbs]``.

    ``*`` as the extension is an IIS 6 wildcard application map: every
    request of the vdir goes to the executable (as ``massync.dll`` on EAS).
    """

    extension: str  # ".asp" or "*"
    executable: str  # the path as written
    flags: int  # 1 = script engine (runs with Script permission), 4 = check that the file exists
    verbs: tuple[str, ...]  # empty = all verbs

    SCRIPT_ENGINE = 1
    CHECK_PATH_INFO = 4

    @property
    def handler_name(self) -> str:
        """The ISAPI DLL's file name, which names the handler plugin."""
        return self.executable.replace("/", "\\").rsplit("\\", 1)[-1].strip('"').casefold()

    def allows(self, verb: str) -> bool:
        return not self.verbs or verb.upper() in self.verbs

    def __str__(self) -> str:
        verbs = "," + ",".join(self.verbs) if self.verbs else ""
        return f"{self.extension},{self.executable},{self.flags}{verbs}"


def parse_script_maps(entries: list[str]) -> list[ScriptMap]:
    maps = []
    for entry in entries:
        parts = [p.strip() for p in entry.split(",")]
        if len(parts) < 3:
            raise ConversionError(
                f'"{entry}": expected extension,executable,flags[,verbs], '
                'e.g. "*,C:\\Program Files\\Exchsrvr\\bin\\massync.dll,1"'
            )
        ext, exe, flags_text, *verbs = parts
        if ext != "*" and not ext.startswith("."):
            raise ConversionError(f'"{entry}": extension "{ext}" must start with "." or be "*"')
        if not flags_text.isdigit():
            raise ConversionError(f'"{entry}": flags "{flags_text}" must be a number (1 = script engine, 4 = check file exists)')
        maps.append(ScriptMap(ext.casefold(), exe, int(flags_text), tuple(v.upper() for v in verbs if v)))
    return maps


@dataclass(frozen=True)
class HttpRedirect:
    """``HttpRedirect``: ``target[, EXACT_DESTINATION][, CHILD_ONLY][, PERMANENT|TEMPORARY]``."""

    target: str
    exact_destination: bool
    child_only: bool
    permanent: bool


def parse_http_redirect(text: str) -> HttpRedirect | None:
    if not text.strip():
        return None
    target, *options = [p.strip() for p in text.split(",")]
    known = {"EXACT_DESTINATION", "CHILD_ONLY", "PERMANENT", "TEMPORARY"}
    bad = [o for o in options if o.upper() not in known]
    if bad:
        raise ConversionError(f'unknown HttpRedirect option "{bad[0]}"; expected one of {", ".join(sorted(known))}')
    upper = {o.upper() for o in options}
    return HttpRedirect(target, "EXACT_DESTINATION" in upper, "CHILD_ONLY" in upper, "PERMANENT" in upper)


def parse_comma_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def parse_thumbprint(value: Any) -> str:
    """``SSLCertHash`` as IIS shows it (hex, any case, spaces allowed) or as REG_BINARY."""
    text = value.hex() if isinstance(value, bytes) else str(value)
    text = text.replace(" ", "").upper()
    if text and (len(text) != 40 or any(c not in "0123456789ABCDEF" for c in text)):
        raise ConversionError(f'"{value}" is not a SHA-1 thumbprint (40 hex digits); see "python -m host cert list"')
    return text


def parse_metabase_path(text: str) -> str:
    if text and not text.startswith("/"):
        raise ConversionError(f'"{text}" must start with "/"')
    return text


def parse_ip_security(entries: list[str]) -> list[tuple[str, Any]]:
    """``IPSecurity`` in a readable form: ``GrantByDefault``/``DenyByDefault`` then ``Grant|Deny <ip or network>``."""
    rules: list[tuple[str, Any]] = []
    for entry in entries:
        words = entry.split()
        if len(words) == 1 and words[0].casefold() in ("grantbydefault", "denybydefault"):
            rules.append(("default", words[0].casefold() == "grantbydefault"))
            continue
        if len(words) != 2 or words[0].casefold() not in ("grant", "deny"):
            raise ConversionError(f'"{entry}": expected "GrantByDefault", "DenyByDefault", "Grant <ip/net>" or "Deny <ip/net>"')
        try:
            net = ipaddress.ip_network(words[1], strict=False)
        except ValueError:
            raise ConversionError(f'"{entry}": "{words[1]}" is not an IP address or network') from None
        rules.append((words[0].casefold(), net))
    return rules


# --- the host's own rows -------------------------------------------------------

AUTH_FLAGS = {"AuthAnonymous": 1, "AuthBasic": 2, "AuthNTLM": 4, "AuthMD5": 16, "AuthPassport": 64}
ACCESS_FLAGS = {
    "AccessRead": 1,
    "AccessWrite": 2,
    "AccessExecute": 4,
    "AccessSource": 16,
    "AccessScript": 512,
    "AccessNoRemoteWrite": 1024,
    "AccessNoRemoteRead": 4096,
    "AccessNoRemoteExecute": 8192,
    "AccessNoRemoteScript": 16384,
    "AccessNoPhysicalDir": 32768,
}
ACCESS_SSL_FLAGS = {
    "AccessSSL": 8,
    "AccessSSLNegotiateCert": 32,
    "AccessSSLRequireCert": 64,
    "AccessSSLMapCert": 128,
    "AccessSSL128": 256,
}
SZ, DWORD, MULTI_SZ, EXPAND_SZ = RegType.REG_SZ, RegType.REG_DWORD, RegType.REG_MULTI_SZ, RegType.REG_EXPAND_SZ
FLAG_HINT = "flags are hex, e.g. dword:00000006 for AuthBasic | AuthNTLM."

HTTP_PARAMETERS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\HTTP\Parameters"
COMPUTER_NAME_KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName"
URLSCAN_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\UrlScan"


def _bool(value: int) -> bool:
    return bool(value)


def _rows() -> list[Property]:
    web = WEB_KEYS
    return [
        # sites and bindings
        Property("ServerComment", SZ, (SITE,), "", "The site's description, shown in IIS Manager.", inherits=False),
        Property("ServerBindings", MULTI_SZ, (SITE,), [], "HTTP bindings, each ip:port:hostheader. Empty ip = all unassigned addresses.",
                 inherits=False, convert=parse_bindings),
        Property("SecureBindings", MULTI_SZ, (SITE,), [], "HTTPS bindings, each ip:port: (IIS 6 has no host headers on SSL).",
                 inherits=False, convert=parse_bindings),
        Property("SSLCertHash", SZ, (SITE,), "", "Thumbprint of the site's server certificate in the lab store; empty = the "
                 "certificate the host issued for this machine on first run.", inherits=False, convert=parse_thumbprint),
        Property("ServerAutoStart", DWORD, (SITE,), True, "1 = the site starts with the service; 0 = stopped, its bindings do not listen.",
                 inherits=False, convert=_bool),
        Property("ConnectionTimeout", DWORD, web[:2], 120, "Seconds an idle keep-alive connection is kept open."),
        # content and handlers
        Property("Path", SZ, (VDIR,), "", "Physical path of a virtual directory; the lab's C:\\ drive is the vdirs/ folder.",
                 inherits=False),
        Property("AccessFlags", DWORD, web, 1, "What requests may do: read files, run scripts, run executables.",
                 flags=ACCESS_FLAGS, hint=FLAG_HINT.replace("0006 for AuthBasic | AuthNTLM", "0201 for AccessRead | AccessScript")),
        Property("ScriptMaps", MULTI_SZ, web, [], "Extension-to-handler map: extension,executable,flags[,verbs]; "
                 "\"*\" is a wildcard application map.", convert=parse_script_maps),
        Property("DefaultDoc", SZ, web, ["Default.htm", "Default.asp", "index.htm", "iisstart.htm"],
                 "Documents tried for a directory URL, in order.", convert=parse_comma_list),
        Property("EnableDefaultDoc", DWORD, web, True, "1 = serve DefaultDoc for directory URLs.", convert=_bool),
        Property("EnableDirBrowsing", DWORD, web, False, "1 = list a directory without a default document; 0 = 403.14.", convert=_bool),
        Property("HttpRedirect", SZ, web, None, "Redirect: target[, EXACT_DESTINATION][, CHILD_ONLY][, PERMANENT|TEMPORARY].",
                 convert=parse_http_redirect),
        Property("AppRoot", SZ, (VDIR,), "", "Metabase path of the application this key starts.", inherits=False),
        Property("AppFriendlyName", SZ, (VDIR,), "", "The application's name in IIS Manager.", inherits=False),
        Property("AppIsolated", DWORD, (VDIR,), 2, "0 in-process, 1 isolated, 2 pooled (IIS 5 compatibility).", inherits=False),
        Property("AppPoolId", SZ, web, "DefaultAppPool", "Application pool serving this application."),
        Property("MaxRequestEntityAllowed", DWORD, web, 0xFFFFFFFF, "Largest request body in bytes; above it 413."),
        Property("UploadReadAheadSize", DWORD, web, 49152, "Bytes of a request body read before the handler runs; a "
                 "client-certificate renegotiation needs the whole body within it, else 413."),
        Property("IPSecurity", MULTI_SZ, web, [], "IP address restrictions: GrantByDefault|DenyByDefault, then "
                 "\"Grant <ip/net>\" or \"Deny <ip/net>\" (403.6).", convert=parse_ip_security),
        # security
        Property("AuthFlags", DWORD, web, 1, "Authentication methods offered.", flags=AUTH_FLAGS, hint=FLAG_HINT),
        Property("AccessSSLFlags", DWORD, web, 0, "SSL requirements and client certificates.", flags=ACCESS_SSL_FLAGS,
                 hint="flags are hex, e.g. dword:00000008 for AccessSSL."),
        Property("AnonymousUserName", SZ, web, "", "Account anonymous requests run as; empty = IUSR_<computer name>."),
        Property("DefaultLogonDomain", SZ, web, "", "Domain for Basic logons without one; empty = the directory's default domain."),
        Property("Realm", SZ, web, "", "Realm in the Basic challenge; empty = the request's host name."),
        # logging
        Property("LogType", DWORD, web[:2], 1, "1 = logging enabled, 0 = disabled.", convert=_bool),
        Property("LogPluginClsid", SZ, web[:2], "{FF160663-DE82-11CF-BC0A-00AA006111E0}", "Log format; this CLSID is W3C Extended."),
        Property("LogFileDirectory", EXPAND_SZ, web[:2], r"%WinDir%\System32\LogFiles",
                 "Log folder; %WinDir%\\System32\\LogFiles is the data directory's LogFiles folder."),
        Property("LogFilePeriod", DWORD, web[:2], 1, "0 = by size, 1 = daily, 2 = weekly, 3 = monthly, 4 = hourly."),
        Property("LogFileTruncateSize", DWORD, web[:2], 20971520, "Bytes per file when LogFilePeriod is 0."),
        Property("LogExtFileFlags", DWORD, web[:2], DEFAULT_EXT_FILE_FLAGS, "W3C fields to write (IIS 6 bit mask).",
                 hint="see docs/registry.md for the bits."),
        Property("LogFileLocaltimeRollover", DWORD, web[:2], False, "1 = roll log files over at local midnight.", convert=_bool),
        # ISAPI filters
        Property("FilterLoadOrder", SZ, (FILTERS,), [], "ISAPI filters loaded, in order (e.g. \"UrlScan\").", inherits=False,
                 convert=parse_comma_list),
        Property("FilterPath", SZ, (FILTER,), "", "The filter DLL.", inherits=False),
        Property("FilterDescription", SZ, (FILTER,), "", "The filter's description.", inherits=False),
        Property("FilterEnabled", DWORD, (FILTER,), True, "0 = loaded but disabled.", inherits=False, convert=_bool),
        # the machine
        Property("ComputerName", SZ, (COMPUTER_NAME_KEY,), "EXCHANGE01", "The lab server's NetBIOS name (homeMDB names it)."),
        # HTTP.sys limits
        Property("MaxFieldLength", DWORD, (HTTP_PARAMETERS,), 16384, "Longest request header line, in bytes (400 above)."),
        Property("MaxRequestBytes", DWORD, (HTTP_PARAMETERS,), 16384, "Largest request line plus headers, in bytes (400 above)."),
        Property("UrlSegmentMaxLength", DWORD, (HTTP_PARAMETERS,), 260, "Longest URL path segment in characters (400 above)."),
        Property("UrlSegmentMaxCount", DWORD, (HTTP_PARAMETERS,), 255, "Most URL path segments (400 above)."),
        # URLScan (its UrlScan.ini [Options] and list sections, as values of one key)
        *_urlscan_rows(),
    ]


def _urlscan_rows() -> list[Property]:
    def opt(name: str, default: int, text: str) -> Property:
        return Property(name, DWORD, (URLSCAN_KEY,), default, text)

    def lst(name: str, text: str) -> Property:
        return Property(name, MULTI_SZ, (URLSCAN_KEY,), [], text)

    return [
        opt("UseAllowVerbs", 1, "1 = only AllowVerbs pass; 0 = DenyVerbs are refused."),
        opt("UseAllowExtensions", 0, "1 = only AllowExtensions pass; 0 = DenyExtensions are refused."),
        opt("NormalizeUrlBeforeScan", 1, "1 = decode the URL before the checks."),
        opt("VerifyNormalization", 1, "1 = refuse URLs that change when decoded twice (e.g. %252e)."),
        opt("AllowHighBitCharacters", 0, "0 = refuse URLs with non-ASCII characters (Exchange needs 1)."),
        opt("AllowDotInPath", 0, "0 = refuse a dot in a path segment other than the last."),
        opt("AllowLateScanning", 0, "1 = run after other filters (no effect in the lab)."),
        opt("MaxAllowedContentLength", 30000000, "Largest Content-Length, bytes."),
        opt("MaxUrl", 260, "Longest URL path, bytes."),
        opt("MaxQueryString", 4096, "Longest query string, bytes."),
        lst("AllowVerbs", "Verbs allowed when UseAllowVerbs=1."),
        lst("DenyVerbs", "Verbs refused when UseAllowVerbs=0."),
        lst("DenyHeaders", "Request headers that make URLScan refuse, e.g. \"Translate:\"."),
        lst("AllowExtensions", "File extensions allowed when UseAllowExtensions=1 (\".\" = none)."),
        lst("DenyExtensions", "File extensions refused when UseAllowExtensions=0."),
        lst("DenyUrlSequences", "Character sequences refused anywhere in the URL."),
    ]


@hookimpl
def register_registry_properties() -> list[Property]:
    return _rows()
