"""The ActiveSync plugin's hooks: registry values, the massync.dll handler, direct push, the CLI.

MASSYNC reads ``HKLM\\SYSTEM\\CurrentControlSet\\Services\\MasSync\\Parameters``
as Exchange 2003 SP2 did (PITFALLS §3.3), the emulated Exchange version
from ``HKLM\\SOFTWARE\\Microsoft\\Exchange\\Setup`` and the mobile device
security policy from ``HKLM\\SOFTWARE\\Microsoft\\Exchange\\MobileServices\\DeviceSecurity``.
"""
from __future__ import annotations

import weakref

from host import hookimpl
from host.metabase import ConversionError, Property, parse_metabase_path
from host.regfile import RegType
from host.scriptmaps import Handler
from plugins.owa.mailboxes import visible_changes

MASSYNC_PARAMETERS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MasSync\Parameters"
EXCHANGE_SETUP = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Exchange\Setup"
PERSONAS = ("Exchange 2003 SP2", "Exchange 2007 SP1", "Exchange 2010 SP1", "Exchange 2016")

_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def parse_persona(text: str) -> str:
    for persona in PERSONAS:
        if text.strip().casefold() == persona.casefold():
            return persona
    raise ConversionError(f'"{text}" is not an emulated version; expected one of: {", ".join(PERSONAS)}')


def _where(key: str) -> tuple[str, ...]:
    return (key,)


def push_hub(service):
    """The service's :class:`~plugins.activesync.push.PushHub` (one per running host)."""
    from plugins.activesync.push import PushHub

    hub = _hubs.get(service)
    if hub is None:
        hub = _hubs.setdefault(service, PushHub())
    return hub


@hookimpl
def register_registry_properties():
    from plugins.activesync.policy import DEVICE_SECURITY, SETTINGS

    sz, dword = RegType.REG_SZ, RegType.REG_DWORD
    params = _where(MASSYNC_PARAMETERS)
    return [
        Property("ExchangeVDir", sz, params, "/Exchange",
                 "The vdir MASSYNC uses on the mailbox server; empty or absent = /Exchange (KB817379).",
                 convert=lambda v: parse_metabase_path(v) or "/Exchange"),
        Property("SMTPProxy", sz, params, "", "SMTP domain MASSYNC uses to build the mailbox URL when it differs "
                 "from the users' primary address (KB886346)."),
        Property("MinHeartbeatInterval", dword, params, 60, "Shortest Ping heartbeat accepted, seconds."),
        Property("MaxHeartbeatInterval", dword, params, 2700, "Longest Ping heartbeat accepted, seconds."),
        Property("HbiSampleSize", dword, params, 200, "Heartbeats averaged for event 3033 (KB905013)."),
        Property("HbiAlertThreshold", dword, params, 540, "Event 3033 when the average heartbeat is at or below this, seconds."),
        Property("EmulatedVersion", sz, _where(EXCHANGE_SETUP), "Exchange 2003 SP2",
                 "Which Exchange the lab plays: " + ", ".join(PERSONAS) + ".", convert=parse_persona),
        *(Property(name, dword, _where(DEVICE_SECURITY), default, help) for name, default, help in SETTINGS),
    ]


@hookimpl
def register_handlers():
    from plugins.activesync.transport import make_app

    return [Handler("massync.dll", make_app, "Exchange ActiveSync (MASSYNC): MS-ASHTTP, MS-ASCMD 2.5-16.1")]


@hookimpl
def register_cli_commands():
    from plugins.activesync.cli import COMMAND

    return [COMMAND]


@hookimpl
def mailbox_changed(service, mailbox_id, folder_ids, change_number):
    """Wake the mailbox's held requests, unless the commit only wrote sync state (another device's)."""
    hub = _hubs.get(service)
    if hub is not None and hub.listens_to(mailbox_id) and visible_changes(service.mailstore, mailbox_id, folder_ids):
        hub.notify(mailbox_id)


@hookimpl
def host_stopping(service):
    """Held Pings answer before the listeners close, instead of holding up the shutdown."""
    hub = _hubs.get(service)
    if hub is not None:
        hub.shutdown()
    from plugins.activesync.exchangehop import stop_all

    stop_all(service)  # Pings held on the /Exchange hop's POLLs wake too


@hookimpl
def host_shutdown(service):
    """The hop's idle keep-alive connections close with the host."""
    from plugins.activesync.exchangehop import close_pool

    close_pool(service)
