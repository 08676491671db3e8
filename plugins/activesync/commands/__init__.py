"""The EAS commands, one module each.

A command module has ``NAME`` (the Cmd value), ``ROOT`` (the response's root
element, where a 14.0+ common status goes) and ``run(ctx, request)``:
``request`` is the decoded WBXML body (None when the body is empty) and the
result is the response root element, None for an empty 200 response, or a
webob Response for answers that are not one WBXML document (multipart).
A module may define ``busy()``: its answer when another request of the same
device holds the device's state for too long (else common status 111/503).
Add a module to :data:`MODULES` and it is served and advertised wherever
the persona knows the command.
"""
from __future__ import annotations

from types import ModuleType

from plugins.activesync.commands import (
    foldercreate,
    folderdelete,
    foldersync,
    folderupdate,
    getitemestimate,
    ping,
    provision,
    sync,
)

MODULES: tuple[ModuleType, ...] = (
    provision, foldersync, foldercreate, folderupdate, folderdelete, sync, getitemestimate, ping,
)
COMMANDS: dict[str, ModuleType] = {module.NAME: module for module in MODULES}
