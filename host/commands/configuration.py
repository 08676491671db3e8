"""``config check``, ``vdir list|show``, ``adsutil get|set|delete``, ``reg query|add|delete``.

``adsutil`` and ``reg`` mirror adsutil.vbs and reg.exe, writing registry.ini
in place (comments and order kept) so a trainee's muscle memory transfers.
A value is checked against the property table before anything is written.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from host.cli import CliCommand, CliError
from host.config import W3SVC, Origin, key_kind
from host.hookspecs import hookimpl
from host.metabase import ConversionError, Property
from host.regfile import RegType, decode_reg_bytes, delete_value, normalize_key_path, set_value


# --- config check ------------------------------------------------------------------


def property_reference(table) -> str:
    """Markdown for every property in the table, grouped by where it lives (docs/registry.md)."""
    groups: dict[str, list[Property]] = {}
    for prop in table:
        groups.setdefault(", ".join(prop.where), []).append(prop)
    lines: list[str] = []
    for where, props in groups.items():
        lines += [f"## {where}", ""]
        for prop in props:
            default = prop.describe(prop.default) if prop.default not in (None, "", []) else "(empty)"
            lines += [f"### {prop.name}", "",
                      f"{prop.type.name}, default {default}"
                      + ("; inherits down the key tree" if prop.inherits and prop.where[0] in ("service", "site", "vdir")
                         else "") + ".", "", prop.help, ""]
            if prop.flags:
                lines += ["| flag | value |", "|---|---|"] + [f"| {n} | {v} (0x{v:x}) |" for n, v in prop.flags.items()]
                lines.append("")
    return "\n".join(lines)


def run_config(ctx) -> int:
    if ctx.args.action == "reference":
        ctx.print(property_reference(ctx.table))
        return 0
    config = ctx.load_config()
    for issue in config.issues:
        ctx.print(f"{issue.severity}: {issue}")
    sites = len(config.sites)
    vdirs = sum(1 for v in config.all_vdirs() if v.is_virtual)
    if config.errors:
        ctx.print(f"{ctx.registry_path}: {len(config.errors)} error(s), {len(config.warnings)} warning(s)")
        return 2
    ctx.print(f"{ctx.registry_path}: OK ({sites} site(s), {vdirs} virtual directories, "
              f"{len(config.warnings)} warning(s))")
    return 0


def configure_config(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("check", help="validate registry.ini; errors name file:line and key (exit 2 on errors)")
    sub.add_parser("reference", help="print every known property as Markdown (docs/registry.md)")


# --- vdir list / show --------------------------------------------------------------------


def _find_vdir(ctx, config, target: str):
    if target.casefold().startswith("/lm/"):
        key = config.vdir(target)
    else:
        site = config.sites.get(ctx.args.site)
        if site is None:
            raise CliError(f"there is no site {ctx.args.site}")
        found = site.resolve(target if target.startswith("/") else "/" + target)
        key = found[0] if found else None
    if key is None:
        raise CliError(f'no virtual directory matches "{target}"')
    return key


def run_vdir(ctx) -> int:
    config = ctx.valid_config()
    if ctx.args.action == "list":
        for site in config.sites.values():
            ctx.print(f"[{site.path}] {site.comment}  http: {', '.join(map(str, site.bindings)) or '-'}  "
                      f"https: {', '.join(map(str, site.secure_bindings)) or '-'}")
            for key in sorted(site.vdirs.values(), key=lambda k: k.url_path.casefold()):
                if key.is_virtual:
                    ctx.print(f"  {key.url_path:<32} {_handler_of(key):<16} {key.get('Path')}")
        return 0
    key = _find_vdir(ctx, config, ctx.args.path)
    ctx.print(f"{key.url_path}  [{key.path}]  {key.key_type}")
    if not key.is_virtual:
        ctx.print(f"  inside virtual directory {key.application.url_path}")
    ctx.print(f"  handler: {_handler_of(key)}")
    for prop, setting in key.settings():
        ctx.print(f"  {prop.name:<24} = {prop.describe(setting.value):<40} {_origin(setting.origin, key.path)}")
    return 0


def _handler_of(key) -> str:
    for entry in key.get("ScriptMaps"):
        if entry.extension == "*":
            return entry.handler_name
    return "static files"


def _origin(origin: Origin, own_path: str) -> str:
    if origin.location is None:
        return "(default)"
    if origin.key and origin.key.casefold() != own_path.casefold():
        return f"(inherited from [{origin.key}], {origin.location})"
    return f"({origin.location})"


def configure_vdir(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="sites, bindings and virtual directories")
    show = sub.add_parser("show", help="effective settings of a vdir and where each came from")
    show.add_argument("path", help='URL path ("/Exchange") or metabase path ("/LM/W3SVC/1/ROOT/Exchange")')
    for p in (parser, show):
        p.add_argument("--site", type=int, default=1, help="site id for URL paths (default 1)")


# --- editing registry.ini in place --------------------------------------------------------


def write_registry(path: Path, edit) -> None:
    """Apply ``edit(text) -> text`` to the file, keeping its encoding; atomic replace."""
    text, codec = decode_reg_bytes(path.read_bytes())
    new_text = edit(text)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".registry-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new_text.encode(codec))
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_for(prop: Property, words: list[str]):
    """Command-line words as a value of ``prop``'s type (adsutil's conventions)."""
    if prop.type == RegType.REG_DWORD:
        if len(words) != 1:
            raise CliError(f"{prop.name} takes one number")
        word = words[0]
        if word.upper() in ("TRUE", "FALSE"):
            return 1 if word.upper() == "TRUE" else 0
        try:
            return int(word, 16) if word.lower().startswith("0x") else int(word)
        except ValueError:
            raise CliError(f'{prop.name}: expected a number, got "{word}"', 2) from None
    if prop.type == RegType.REG_MULTI_SZ:
        return words
    return " ".join(words)


def _check(prop: Property, value) -> None:
    if prop.convert is not None:
        try:
            prop.convert(value)
        except ConversionError as exc:
            raise CliError(f"{prop.name}: {exc}", 2) from None


def _adsutil_target(ctx, spec: str) -> tuple[str, str]:
    path = spec.replace("\\", "/").strip("/")
    if "/" not in path:
        raise CliError('expected a path like W3SVC/1/ROOT/Exchange/AuthFlags')
    key, name = path.rsplit("/", 1)
    key_path = "/LM/" + key if not key.upper().startswith("LM/") else "/" + key
    if key_kind(key_path) is None:
        raise CliError(f"{key_path} is not a web service metabase key (W3SVC/...)")
    return key_path, name


def _flag_alias(ctx, kind: str, key_path: str, name: str) -> tuple[Property, int] | None:
    for prop in ctx.table:
        if prop.flags and prop.applies_to(kind, key_path):
            for flag, bit in prop.flags.items():
                if flag.casefold() == name.casefold():
                    return prop, bit
    return None


def _effective(config, key_path: str, name: str):
    key = config.web_key(key_path)
    if key is None:
        return None
    try:
        return key.setting(name)
    except KeyError:
        return None


def _show(prop: Property, value) -> str:
    kind = {RegType.REG_DWORD: "INTEGER", RegType.REG_MULTI_SZ: "LIST"}.get(prop.type, "STRING")
    if isinstance(value, list):
        inner = "\n".join(f'  "{v}"' for v in value)
        return f"{prop.name:<26}: ({kind}) ({len(value)} Items)\n{inner}" if value else f"{prop.name:<26}: ({kind}) (0 Items)"
    return f'{prop.name:<26}: ({kind}) {value if kind == "INTEGER" else chr(34) + str(value) + chr(34)}'


def run_adsutil(ctx) -> int:
    key_path, name = _adsutil_target(ctx, ctx.args.target)
    kind = key_kind(key_path)
    config = ctx.load_config()
    alias = _flag_alias(ctx, kind, key_path, name)
    prop = ctx.table.find(name, kind, key_path) or (alias[0] if alias else None)
    if prop is None:
        raise CliError(f'The parameter "{name}" is not known on {key_path}.')
    if ctx.args.action == "get":
        setting = _effective(config, key_path, prop.name)
        value = setting.value if setting else prop.default
        if alias:
            ctx.print(f"{name:<26}: (BOOLEAN) {'True' if value & alias[1] else 'False'}")
        else:
            ctx.print(_raw_show(prop, config, key_path, value))
        return 0
    if ctx.args.action == "delete":
        write_registry(ctx.registry_path, lambda t: delete_value(t, key_path, prop.name))
        ctx.print(f'deleted property "{prop.name}"')
        return 0
    words = ctx.args.value
    if not words:
        raise CliError("set needs a value")
    if alias:
        setting = _effective(config, key_path, prop.name)
        current = setting.value if setting else prop.default
        on = parse_for(Property(name, RegType.REG_DWORD, (), 0, ""), words)
        value = current | alias[1] if on else current & ~alias[1]
    else:
        value = parse_for(prop, words)
    _check(prop, value)
    write_registry(ctx.registry_path, lambda t: set_value(t, key_path, prop.name, prop.type, value))
    ctx.print(_show(prop, value))
    return 0


def _raw_show(prop: Property, config, key_path: str, value) -> str:
    """adsutil prints the stored form; converted values are shown as written."""
    key = config.registry.key(key_path)
    own = key.values.get(prop.name.casefold()) if key else None
    setting = _effective(config, key_path, prop.name)
    origin = setting.origin if setting else None
    source = config.registry.value(origin.key, prop.name) if origin and origin.key else own
    shown = source.data if source is not None else (value if not isinstance(value, list) else [str(v) for v in value])
    line = _show(prop, shown)
    if origin and origin.key and origin.key.casefold() != key_path.casefold():
        line += f"    (inherited from [{origin.key}])"
    return line


def configure_adsutil(parser) -> None:
    parser.add_argument("action", choices=["get", "set", "delete"])
    parser.add_argument("target", help="W3SVC/1/ROOT/Exchange/AuthFlags (a flag such as AuthNTLM works too)")
    parser.add_argument("value", nargs="*", help="the new value (several words for a list)")


# --- reg query / add / delete ----------------------------------------------------------------

_REG_TYPES = {"REG_SZ": RegType.REG_SZ, "REG_EXPAND_SZ": RegType.REG_EXPAND_SZ, "REG_DWORD": RegType.REG_DWORD,
              "REG_MULTI_SZ": RegType.REG_MULTI_SZ, "REG_QWORD": RegType.REG_QWORD}


def run_reg(ctx) -> int:
    try:
        key_path = normalize_key_path(ctx.args.key)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    opts = parse_reg_switches(ctx.args.switches)
    name = opts.get("v")
    if ctx.args.action == "query":
        config = ctx.load_config()
        key = config.registry.key(key_path)
        if key is None:
            raise CliError("The system was unable to find the specified registry key or value.")
        ctx.print(f"\n{key.path}")
        for value in key.values.values():
            if name is not None and value.name.casefold() != name.casefold():
                continue
            data = "\\0".join(value.data) if isinstance(value.data, list) else (
                hex(value.data) if isinstance(value.data, int) else value.data)
            ctx.print(f"    {value.name or '(Default)'}    {value.type.name}    {data}")
        return 0
    if name is None:
        raise CliError("/v NAME is required")
    if ctx.args.action == "delete":
        write_registry(ctx.registry_path, lambda t: delete_value(t, key_path, name))
        ctx.print("The operation completed successfully.")
        return 0
    reg_type = _REG_TYPES[opts["t"].upper()]
    data = opts.get("d", "")
    value = data.split("\\0") if reg_type == RegType.REG_MULTI_SZ else data
    if reg_type in (RegType.REG_DWORD, RegType.REG_QWORD):
        try:
            value = int(data, 0)
        except ValueError:
            raise CliError(f'/d must be a number for {reg_type.name}, got "{data}"', 2) from None
    prop = next((p for p in ctx.table.named(name) if p.applies_to("", key_path)), None)
    if prop is not None:
        if prop.type != reg_type and not (prop.type == RegType.REG_SZ and reg_type == RegType.REG_EXPAND_SZ):
            raise CliError(f"{prop.name} is a {prop.type.name}, not {reg_type.name}", 2)
        _check(prop, value)
    write_registry(ctx.registry_path, lambda t: set_value(t, key_path, name, reg_type, value))
    ctx.print("The operation completed successfully.")
    return 0


def configure_reg(parser) -> None:
    parser.add_argument("action", choices=["query", "add", "delete"])
    parser.add_argument("key", help=r'e.g. "HKLM\SYSTEM\CurrentControlSet\Services\MasSync\Parameters"')
    parser.add_argument("switches", nargs="*", metavar="/v NAME /t TYPE /d DATA",
                        help="as reg.exe: /v value name, /t REG_SZ|REG_EXPAND_SZ|REG_DWORD|REG_QWORD|REG_MULTI_SZ "
                             "(items split by \\0), /d data; /f is accepted and ignored")


def parse_reg_switches(words: list[str]) -> dict[str, str]:
    """reg.exe's ``/v NAME /t TYPE /d DATA /f`` (``-v`` works too)."""
    switches: dict[str, str] = {"t": "REG_SZ"}
    pending = None
    for word in words:
        if pending is not None:
            switches[pending] = word
            pending = None
        elif word.lower() in ("/f", "-f"):
            continue
        elif word[:1] in "/-" and word[1:].lower() in ("v", "t", "d"):
            pending = word[1:].lower()
        else:
            raise CliError(f'unexpected "{word}"; expected /v NAME, /t TYPE or /d DATA')
    if pending is not None:
        raise CliError(f"/{pending} needs a value")
    if switches["t"].upper() not in _REG_TYPES:
        raise CliError(f'unknown type "{switches["t"]}"; expected one of {", ".join(_REG_TYPES)}')
    return switches


@hookimpl
def register_cli_commands():
    return [
        CliCommand("config", "validate registry.ini (config check) or list every property (config reference)", configure_config, run_config),
        CliCommand("vdir", "list virtual directories, or show one's effective settings and their origin",
                   configure_vdir, run_vdir),
        CliCommand("adsutil", "get/set/delete a metabase property in registry.ini, as adsutil.vbs does",
                   configure_adsutil, run_adsutil),
        CliCommand("reg", "query/add/delete a registry value in registry.ini, as reg.exe does", configure_reg, run_reg),
    ]
