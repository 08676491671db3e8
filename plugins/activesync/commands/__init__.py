"""The EAS commands, one module each.

A command module has ``NAME`` (the Cmd value), ``ROOT`` (the response's root
element, where a 14.0+ common status goes) and ``run(ctx, request)``:
``request`` is the decoded WBXML body (None when the body is empty) and the
result is the response root element, None for an empty 200 response, or a
webob Response for answers that are not one WBXML document (multipart).
A module may define ``busy()``: its answer when another request of the same
device holds the device's state for too long (else common status 111/503),
and ``raw_body(ctx, content_type)``: true when the body is not WBXML but
passed to ``run`` as bytes (SendMail and friends post MIME before 14.0).
Add a module to :data:`MODULES` and it is served and advertised wherever
the persona knows the command.
"""
from __future__ import annotations

from types import ModuleType

from plugins.activesync.commands import (
    find,
    foldercreate,
    folderdelete,
    foldersync,
    folderupdate,
    getattachment,
    getitemestimate,
    itemoperations,
    meetingresponse,
    moveitems,
    ping,
    provision,
    resolverecipients,
    search,
    sendmail,
    settings,
    smartforward,
    smartreply,
    sync,
)

MODULES: tuple[ModuleType, ...] = (
    provision, foldersync, foldercreate, folderupdate, folderdelete, sync, getitemestimate, ping,
    itemoperations, moveitems, sendmail, smartreply, smartforward, getattachment, settings, search,
    resolverecipients, meetingresponse, find,
)
COMMANDS: dict[str, ModuleType] = {module.NAME: module for module in MODULES}
