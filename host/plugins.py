"""The plugin manager: the host's own modules and third-party ones, loaded alike.

Every plugin, built-in or not, is an entry point in the ``easlab.plugins``
group. Two environment variables help a trainee see what runs:

``EASLAB_PLUGINS``
    comma-separated entry-point names; only these load (``sites,vdirs,...``).
``EASLAB_TRACE_HOOKS``
    when set, every hook call and its result is printed to stderr.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Iterable

import pluggy

from host import hookspecs
from host.hookspecs import PROJECT

ENTRY_POINT_GROUP = f"{PROJECT}.plugins"


@dataclass(frozen=True)
class PluginInfo:
    """What ``python -m host plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


def make_plugin_manager(
    *, only: Iterable[str] | None = None, extra: Iterable[object] = ()
) -> pluggy.PluginManager:
    """Build a manager: the contract, then every entry point, then ``extra``.

    :param only: entry-point names to load; default from ``EASLAB_PLUGINS``,
        else all of them.
    :param extra: plugin objects registered after the entry points (tests use
        this for throwaway plugins).
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if only is None and os.environ.get("EASLAB_PLUGINS"):
        only = [n.strip() for n in os.environ["EASLAB_PLUGINS"].split(",") if n.strip()]
    wanted = {n.casefold() for n in only} if only is not None else None
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name.casefold() not in wanted:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        pm.register(ep.load(), name=ep.name)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    if os.environ.get("EASLAB_TRACE_HOOKS"):
        pm.trace.root.setwriter(lambda text: sys.stderr.write(text))
        pm.enable_tracing()
    return pm


def _distribution_of(module_name: str) -> tuple[str, str]:
    top = module_name.split(".", 1)[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "-", "-"


def plugin_infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Describe the registered plugins, in registration order."""
    infos = []
    for name, plugin in pm.list_name_plugin():
        module = getattr(plugin, "__name__", type(plugin).__module__)
        dist, version = _distribution_of(module)
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        infos.append(PluginInfo(name, module, dist, version, hooks))
    return infos


def collect(results: Iterable[Iterable[Any] | None]) -> list[Any]:
    """Flatten the lists that registry hooks return (``None`` counts as empty)."""
    return [item for result in results if result for item in result]
