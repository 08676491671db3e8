"""The SMTP plugin's hooks: its registry values, and SMTPSVC's life with the host's.

The virtual servers listen from ``host_startup`` to ``host_shutdown`` only: a
CLI command that builds a service to reach the store opens no sockets.
"""
from __future__ import annotations

import weakref

from host import hookimpl
from plugins.smtp.settings import registry_properties
from plugins.smtp.virtualserver import SmtpService

_running: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@hookimpl
def register_registry_properties():
    return registry_properties()


@hookimpl
def host_startup(service) -> None:
    smtp = SmtpService(service)
    _running[service] = smtp
    smtp.reconcile()


@hookimpl
def config_applied(service, previous, current) -> None:
    smtp = _running.get(service)
    if smtp is not None:
        smtp.reconcile()


@hookimpl
def host_shutdown(service) -> None:
    smtp = _running.pop(service, None)
    if smtp is not None:
        smtp.stop()
