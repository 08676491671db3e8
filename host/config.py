"""The host's configuration model: sites, vdirs and registry values from registry.ini.

:func:`load_config` reads the file with :mod:`host.regfile`, validates every
value against the property table of :mod:`host.metabase`, and builds the
metabase key tree in which properties inherit downwards as in IIS 6. Every
effective value keeps the file:line that supplied it (or says "default"), so
``vdir show`` can tell a trainee *why* a vdir behaves as it does.

A configuration is immutable once built: a reload builds a new one and the
service swaps it in whole, so a request never sees half of each.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from host.metabase import (
    FILTER,
    FILTERS,
    SERVICE,
    SITE,
    VDIR,
    Binding,
    ConversionError,
    Property,
    PropertyTable,
)
from host.regfile import Location, RegKey, Registry, RegType, RegValue, key_id

W3SVC = "/LM/W3SVC"
_TYPE_WORDS = {
    RegType.REG_SZ: "string",
    RegType.REG_EXPAND_SZ: "expand string",
    RegType.REG_DWORD: "dword",
    RegType.REG_QWORD: "qword",
    RegType.REG_MULTI_SZ: "multi-string",
    RegType.REG_BINARY: "binary",
    RegType.REG_NONE: "none",
}
# Types accepted where another is declared: regedit writes REG_EXPAND_SZ for
# paths, and IIS's SSLCertHash is REG_BINARY in a metabase export.
_COMPATIBLE = {
    RegType.REG_SZ: {RegType.REG_SZ, RegType.REG_EXPAND_SZ, RegType.REG_BINARY},
    RegType.REG_EXPAND_SZ: {RegType.REG_SZ, RegType.REG_EXPAND_SZ},
}


@dataclass(frozen=True)
class Origin:
    """Where an effective value came from: a key and file:line, or the default."""

    key: str | None = None
    location: Location | None = None

    def __str__(self) -> str:
        return f"{self.location} [{self.key}]" if self.location else "default"


@dataclass(frozen=True)
class Setting:
    name: str
    value: Any
    origin: Origin


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in registry.ini; errors stop ``serve``, warnings do not."""

    severity: str  # "error" | "warning"
    message: str
    location: Location | None = None
    key: str | None = None
    name: str | None = None
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        key = f"[{self.key}] " if self.key else ""
        name = f"{self.name}: " if self.name else ""
        hint = f"\nHint: {self.hint}" if self.hint else ""
        return f"{where}{key}{name}{self.message}{hint}"


class ConfigError(Exception):
    """registry.ini has errors; ``str()`` lists every one with its file:line."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def key_kind(path: str) -> str | None:
    """Classify a metabase key path; None for registry keys and unknown metabase keys."""
    parts = path.strip("/").split("/")
    if not path.startswith("/") or len(parts) < 2 or parts[0].casefold() != "lm":
        return None
    if parts[1].casefold() != "w3svc":
        return None
    if len(parts) == 2:
        return SERVICE
    if parts[2].casefold() == "filters":
        return FILTERS if len(parts) == 3 else FILTER if len(parts) == 4 else None
    if not parts[2].isdigit():
        return None
    if len(parts) == 3:
        return SITE
    return VDIR if parts[3].casefold() == "root" else None


class WebKey:
    """A metabase key of the web service tree; properties inherit from its parent."""

    def __init__(self, path: str, kind: str, parent: WebKey | None, table: PropertyTable,
                 own: dict[str, Setting], location: Location | None) -> None:
        self.path = path
        self.kind = kind
        self.parent = parent
        self.location = location
        self._table = table
        self._own = own
        self._effective: dict[str, Setting] = {}

    def setting(self, name: str) -> Setting:
        """The effective value of ``name`` on this key and where it came from.

        A configuration never changes once built, so each answer is cached:
        requests ask for the same dozen properties over and over.
        """
        cached = self._effective.get(name)
        if cached is None:
            cached = self._effective[name] = self._resolve(name)
        return cached

    def _resolve(self, name: str) -> Setting:
        prop = self._table.find(name, self.kind, self.path)
        if prop is None:
            raise KeyError(f"{name} is not a property of {self.kind} keys")
        key: WebKey | None = self
        while key is not None:
            own = key._own.get(prop.name.casefold())
            if own is not None:
                return own
            if not prop.inherits:
                break
            key = key.parent
        return Setting(prop.name, prop.default, Origin())

    def get(self, name: str) -> Any:
        return self.setting(name).value

    def settings(self) -> list[tuple[Property, Setting]]:
        """Every property that applies here, with its effective value."""
        return [(p, self.setting(p.name)) for p in self._table if p.applies_to(self.kind, self.path)]


class VirtualDirectory(WebKey):
    """A key under ``/LM/W3SVC/<n>/ROOT``: a virtual directory when it has a ``Path``
    (IIsWebVirtualDir), else settings for a directory inside one (IIsWebDirectory)."""

    def __init__(self, *args: Any, site: Site, url_path: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site
        self.url_path = url_path
        self.is_virtual = "path" in self._own or url_path == "/"

    @property
    def key_type(self) -> str:
        return "IIsWebVirtualDir" if self.is_virtual else "IIsWebDirectory"

    @property
    def application(self) -> VirtualDirectory:
        """The nearest virtual directory at or above this key (the one whose Path counts)."""
        key: WebKey | None = self
        while isinstance(key, VirtualDirectory):
            if key.is_virtual:
                return key
            key = key.parent
        raise LookupError(f"{self.path} has no virtual directory above it")

    def __repr__(self) -> str:
        return f"<VirtualDirectory {self.path}>"


@dataclass
class Site:
    """A web site: ``/LM/W3SVC/<id>`` with its bindings and vdir tree."""

    id: int
    key: WebKey
    vdirs: dict[str, VirtualDirectory] = field(default_factory=dict)  # casefolded URL path -> key

    @property
    def name(self) -> str:
        """The W3C log's s-sitename and the INSTANCE_META_PATH's last part."""
        return f"W3SVC{self.id}"

    @property
    def path(self) -> str:
        return self.key.path

    @property
    def comment(self) -> str:
        return self.key.get("ServerComment")

    @property
    def bindings(self) -> list[Binding]:
        return self.key.get("ServerBindings")

    @property
    def secure_bindings(self) -> list[Binding]:
        return self.key.get("SecureBindings")

    @property
    def started(self) -> bool:
        return self.key.get("ServerAutoStart")

    @property
    def root(self) -> VirtualDirectory | None:
        return self.vdirs.get("/")

    def resolve(self, url_path: str) -> tuple[VirtualDirectory, str, str] | None:
        """Longest-prefix, segment-wise, case-insensitive match of a URL path.

        :return: (deepest matching key, SCRIPT_NAME as requested, PATH_INFO);
            SCRIPT_NAME is the application (virtual directory) prefix, so a
            handler sees the vdir as its mount point; None when no ROOT exists.
        """
        segments = [s for s in url_path.split("/") if s]
        for n in range(len(segments), -1, -1):
            candidate = "/" + "/".join(segments[:n])
            key = self.vdirs.get(candidate.casefold())
            if key is None:
                continue
            app = key.application
            depth = 0 if app.url_path == "/" else app.url_path.count("/")
            script_name = "/" + "/".join(segments[:depth]) if depth else ""
            path_info = url_path[len(_prefix_in(url_path, depth)) :] if depth else url_path
            return key, script_name, path_info
        return None


def _prefix_in(url_path: str, depth: int) -> str:
    """The first ``depth`` segments of ``url_path`` exactly as the client wrote them."""
    i, end = 0, len(url_path)
    for _ in range(depth):
        while i < end and url_path[i] == "/":
            i += 1
        while i < end and url_path[i] != "/":
            i += 1
    return url_path[:i]


class HostConfig:
    """One validated snapshot of registry.ini."""

    def __init__(self, registry: Registry, table: PropertyTable, source: Path | None) -> None:
        self.registry = registry
        self.table = table
        self.source = source
        self.issues: list[ConfigIssue] = []
        self.sites: dict[int, Site] = {}
        self._registry_values: dict[str, dict[str, Setting]] = {}
        self._registry_cache: dict[tuple[str, str], Setting] = {}
        self._web: dict[str, WebKey] = {}
        self.filters: dict[str, dict[str, Setting]] = {}

    # --- queries ---------------------------------------------------------------

    @property
    def errors(self) -> list[ConfigIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[ConfigIssue]:
        return [i for i in self.issues if i.severity == "warning"]

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ConfigError(self.errors)

    def registry_setting(self, key_path: str, name: str) -> Setting:
        """A registry value (``ExchangeVDir`` under ``MasSync\\Parameters``) or its default."""
        cached = self._registry_cache.get((key_path, name))
        if cached is None:
            cached = self._registry_cache[(key_path, name)] = self._registry_setting(key_path, name)
        return cached

    def _registry_setting(self, key_path: str, name: str) -> Setting:
        own = self._registry_values.get(key_id(key_path), {}).get(name.casefold())
        if own is not None:
            return own
        for prop in self.table.named(name):
            if prop.applies_to("", key_path):
                return Setting(prop.name, prop.default, Origin())
        raise KeyError(f"{name} under {key_path} is not in the property table")

    def registry_value(self, key_path: str, name: str) -> Any:
        return self.registry_setting(key_path, name).value

    def web_key(self, path: str) -> WebKey | None:
        return self._web.get(path.casefold().rstrip("/"))

    def vdir(self, metabase_path: str) -> VirtualDirectory | None:
        key = self.web_key(metabase_path)
        return key if isinstance(key, VirtualDirectory) else None

    def all_vdirs(self) -> Iterator[VirtualDirectory]:
        for site in self.sites.values():
            yield from site.vdirs.values()

    def filter_setting(self, filter_name: str, name: str) -> Any:
        own = self.filters.get(filter_name.casefold(), {}).get(name.casefold())
        if own is not None:
            return own.value
        prop = self.table.find(name, FILTER, f"{W3SVC}/Filters/{filter_name}")
        return prop.default if prop else None

    def loaded_filters(self) -> list[str]:
        """ISAPI filters in FilterLoadOrder that have a key and are enabled."""
        order = self.web_key(f"{W3SVC}/Filters")
        names = order.get("FilterLoadOrder") if order else []
        return [n for n in names if n.casefold() in self.filters and self.filter_setting(n, "FilterEnabled")]


# --- building ---------------------------------------------------------------------


def load_config(path: str | os.PathLike, table: PropertyTable) -> HostConfig:
    """Read and validate ``path``. Never raises for bad content: see ``.issues``.

    :raises OSError: when the file cannot be read at all.
    """
    registry = Registry.from_file(path)
    return build_config(registry, table, Path(path))


def build_config(registry: Registry, table: PropertyTable, source: Path | None = None) -> HostConfig:
    config = HostConfig(registry, table, source)
    for err in registry.errors:
        config.issues.append(ConfigIssue("error", err.message, err.location, err.key, err.value_name))
    explicit = table.registry_keys()
    web_keys: list[tuple[RegKey, str]] = []
    for key in registry.keys():
        kind = key_kind(key.path)
        if kind is not None:
            web_keys.append((key, kind))
            continue
        if not _known_registry_key(key.path, explicit):
            if key.values:
                config.issues.append(ConfigIssue("warning", "unknown key; the host does not read it", key.location, key.path))
            continue
        config._registry_values[key_id(key.path)] = _validate_values(config, key, "", key.path)
    _build_web_tree(config, web_keys)
    _check_bindings(config)
    return config


def _known_registry_key(path: str, explicit: set[str]) -> bool:
    folded = key_id(path)
    return any(fnmatch.fnmatchcase(folded, pattern) for pattern in explicit)


def _validate_values(config: HostConfig, key: RegKey, kind: str, key_path: str) -> dict[str, Setting]:
    """Check each value of ``key`` against the table; return the good ones converted."""
    settings: dict[str, Setting] = {}
    for value in key.values.values():
        prop = config.table.find(value.name, kind, key_path)
        if prop is None:
            config.issues.append(
                ConfigIssue("warning", f"unknown property{_where_known(config.table, value.name)}",
                            value.location, key.path, value.name or "@")
            )
            continue
        converted = _convert(config, prop, value, key.path)
        if converted is not _INVALID:
            settings[prop.name.casefold()] = Setting(prop.name, converted, Origin(key.path, value.location))
    return settings


def _where_known(table: PropertyTable, name: str) -> str:
    rows = table.named(name)
    if not rows:
        return ""
    places = sorted({w for r in rows for w in r.where})
    return f" here (it belongs on {', '.join(places)} keys)"


_INVALID = object()


def _convert(config: HostConfig, prop: Property, value: RegValue, key_path: str) -> Any:
    accepted = _COMPATIBLE.get(prop.type, {prop.type})
    if value.type not in accepted:
        shown = value.raw if len(value.raw) <= 60 else value.raw[:57] + "..."
        config.issues.append(
            ConfigIssue("error", f"expected {_TYPE_WORDS[prop.type]}, got {shown}", value.location, key_path,
                        prop.name, prop.hint or _type_hint(prop))
        )
        return _INVALID
    data = value.data
    if prop.convert is None:
        return data
    try:
        return prop.convert(data)
    except ConversionError as exc:
        config.issues.append(ConfigIssue("error", str(exc), value.location, key_path, prop.name, prop.hint))
        return _INVALID


def _type_hint(prop: Property) -> str:
    return {
        RegType.REG_DWORD: f'write "{prop.name}"=dword:0000000a (hex digits)',
        RegType.REG_SZ: f'write "{prop.name}"="text"',
        RegType.REG_MULTI_SZ: f'write "{prop.name}"=multi:"first","second"',
    }.get(prop.type, "")


def _build_web_tree(config: HostConfig, web_keys: list[tuple[RegKey, str]]) -> None:
    """Create every metabase key (and the implicit ancestors) with its own settings."""
    own: dict[str, tuple[RegKey, str, dict[str, Setting]]] = {}
    for key, kind in web_keys:
        settings = _validate_values(config, key, kind, key.path)
        own[key.path.casefold().rstrip("/")] = (key, kind, settings)
    for key, kind, settings in own.values():
        if kind == FILTER:
            config.filters[key.path.rstrip("/").rsplit("/", 1)[-1].casefold()] = settings
    service = WebKey(W3SVC, SERVICE, None, config.table, _own_of(own, W3SVC), _loc_of(own, W3SVC))
    config._web[W3SVC.casefold()] = service
    filters_path = f"{W3SVC}/Filters"
    config._web[filters_path.casefold()] = WebKey(filters_path, FILTERS, None, config.table,
                                                  _own_of(own, filters_path), _loc_of(own, filters_path))
    site_ids = sorted({int(k.path.strip("/").split("/")[2]) for k, kind in web_keys if kind in (SITE, VDIR)})
    for site_id in site_ids:
        site_path = f"{W3SVC}/{site_id}"
        site_key = WebKey(site_path, SITE, service, config.table, _own_of(own, site_path), _loc_of(own, site_path))
        config._web[site_path.casefold()] = site_key
        site = Site(site_id, site_key)
        config.sites[site_id] = site
        vdir_paths = sorted(
            (k.path.rstrip("/") for k, kind in web_keys if kind == VDIR and int(k.path.strip("/").split("/")[2]) == site_id),
            key=lambda p: p.count("/"),
        )
        for path in vdir_paths:
            _ensure_vdir(config, site, path, own)
        if site.root is None and (site.bindings or site.secure_bindings):
            config.issues.append(ConfigIssue("warning", "the site has no ROOT key, so every request gets 404",
                                             site_key.location, site_path))


def _own_of(own: dict, path: str) -> dict[str, Setting]:
    entry = own.get(path.casefold())
    return entry[2] if entry else {}


def _loc_of(own: dict, path: str) -> Location | None:
    entry = own.get(path.casefold())
    return entry[0].location if entry else None


def _ensure_vdir(config: HostConfig, site: Site, path: str, own: dict) -> VirtualDirectory:
    existing = config._web.get(path.casefold())
    if isinstance(existing, VirtualDirectory):
        return existing
    parts = path.strip("/").split("/")
    parent: WebKey
    if len(parts) == 4:  # ROOT
        parent = site.key
        url_path = "/"
    else:
        parent = _ensure_vdir(config, site, "/" + "/".join(parts[:-1]), own)
        url_path = "/" + "/".join(parts[4:])
    node = VirtualDirectory(path, VDIR, parent, config.table, _own_of(own, path), _loc_of(own, path),
                            site=site, url_path=url_path)
    config._web[path.casefold()] = node
    site.vdirs[url_path.casefold()] = node
    return node


def _check_bindings(config: HostConfig) -> None:
    """Two sites on one binding, or one port on two schemes, cannot both be served."""
    claims: dict[tuple[str, str, int], list[tuple[Site, Binding, str]]] = {}
    for site in config.sites.values():
        for scheme, prop, bindings in (("http", "ServerBindings", site.bindings), ("https", "SecureBindings", site.secure_bindings)):
            for binding in bindings:
                claims.setdefault((scheme, binding.listen_ip, binding.port), []).append((site, binding, prop))
    ports: dict[int, list[tuple[str, str, Site, str]]] = {}
    for (scheme, ip, port), owners in claims.items():
        ports.setdefault(port, []).append((scheme, ip, owners[0][0], owners[0][2]))
        if scheme == "https" and len({o[0].id for o in owners}) > 1:
            config.issues.append(ConfigIssue(
                "error", f"SSL binding {ip}:{port} is claimed by " + _claimants(owners) +
                "; IIS 6 serves one certificate per IP and port", None, None, None))
        if scheme == "http":
            seen: dict[str, tuple[Site, Binding, str]] = {}
            for owner in owners:
                host = owner[1].host_header.casefold()
                if host in seen and seen[host][0].id != owner[0].id:
                    config.issues.append(ConfigIssue(
                        "error", f"binding {owner[1]} is claimed by " + _claimants([seen[host], owner]), None, None, None))
                seen.setdefault(host, owner)
    for port, uses in ports.items():
        schemes = {u[0] for u in uses}
        ips = {u[1] for u in uses}
        if len(schemes) > 1 and len(ips) < len(uses):
            config.issues.append(ConfigIssue(
                "error", f"port {port} is bound for both http and https on one address: " +
                ", ".join(f"{u[0]} by {u[3]} of [{u[2].path}]" for u in uses), None, None, None))
        if "0.0.0.0" in ips and len(ips) > 1:
            config.issues.append(ConfigIssue(
                "error", f"port {port} is bound on all addresses and on " +
                ", ".join(sorted(ips - {'0.0.0.0'})) + "; the lab cannot listen on both", None, None, None))


def _claimants(owners: list[tuple[Site, Binding, str]]) -> str:
    parts = []
    for site, _binding, prop in owners:
        setting = site.key.setting(prop)
        parts.append(f"[{site.path}] {prop} ({setting.origin.location or 'default'})")
    return " and ".join(parts)
