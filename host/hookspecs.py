"""The plugin contract of the host.

Every feature of the host, its own pipeline modules included, is a plugin that
implements some of these hooks and is found through the ``easlab.plugins``
setuptools entry-point group. Registry hooks return named things; the host
collects them once at start-up and refuses duplicates by name.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from host.auth.base import AuthScheme
    from host.cli import CliCommand
    from host.eventlog import Event
    from host.metabase import Property
    from host.pipeline import PipelineStage
    from host.scriptmaps import Handler
    from host.service import WebService
    from plugins.owa.mailbox import MailboxStore

PROJECT = "easlab"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- registries: called once when the service is built --------------------


@hookspec
def register_pipeline_stages() -> list[PipelineStage]:
    """Name the request-pipeline stages this plugin provides.

    Called once when the WSGI application is built. Each stage names its
    position with one of the order constants of :mod:`host.pipeline`; two
    plugins claiming one position is a start-up error naming both.

    :return: a list of :class:`host.pipeline.PipelineStage`.
    """


@hookspec
def register_handlers() -> list[Handler]:
    """Name the request handlers (ISAPI-style names) this plugin answers to.

    A vdir's ``ScriptMaps`` entry such as ``*,C:\\...\\massync.dll,1`` selects
    the handler registered as ``massync.dll`` (compared case-insensitively).
    A name that no plugin registers behaves as an ISAPI extension that the Web
    Service Extensions list does not allow: 404.2.

    :return: a list of :class:`host.scriptmaps.Handler`.
    """


@hookspec
def register_auth_schemes() -> list[AuthScheme]:
    """Name the authentication schemes this plugin provides.

    Called once at start-up. The authentication stage offers a scheme on a
    vdir when :meth:`AuthScheme.enabled` says so (for the built-in schemes:
    when their ``AuthFlags`` bit is set).

    :return: a list of :class:`host.auth.base.AuthScheme`.
    """


@hookspec
def register_registry_properties() -> list[Property]:
    """Add properties to the table that validates ``registry.ini``.

    Metabase properties (``AuthFlags``) and values of registry keys
    (``ExchangeVDir`` under ``MasSync\\Parameters``) are described alike: name,
    where they may appear, type, default, converter and help. A value that no
    row describes is a warning with its file:line.

    :return: a list of :class:`host.metabase.Property`.
    """


@hookspec
def register_cli_commands() -> list[CliCommand]:
    """Add subcommands to ``python -m host``.

    :return: a list of :class:`host.cli.CliCommand`.
    """


@hookspec
def server_certificate_names(service: WebService) -> list[str]:
    """Add DNS names to the certificate the host issues for itself on first run.

    The lab DNS adds the names of its zones (mail.contoso.com...), so devices
    that reach the host by those names find them in the certificate. Called
    when the default certificate is chosen; a certificate that already covers
    every name is kept.

    :param service: the service whose HTTPS bindings need the certificate.
    :return: DNS names.
    """


# --- life cycle ---------------------------------------------------------------


@hookspec
def host_startup(service: WebService) -> None:
    """Run after the configuration is loaded and before listeners open.

    :param service: the running :class:`host.service.WebService`.
    """


@hookspec
def host_stopping(service: WebService) -> None:
    """Run before the listeners close: answer held requests (Pings) now, so they end promptly.

    :param service: the stopping service.
    """


@hookspec
def host_shutdown(service: WebService) -> None:
    """Run after the listeners have closed; release what ``host_startup`` took.

    :param service: the stopping :class:`host.service.WebService`.
    """


@hookspec
def config_applied(service: WebService, previous: object, current: object) -> None:
    """Run after a changed ``registry.ini`` was validated and put into service.

    :param service: the running service.
    :param previous: the :class:`host.config.HostConfig` that was replaced
        (``None`` on the first load).
    :param current: the :class:`host.config.HostConfig` now in service.
    """


# --- the mailbox store --------------------------------------------------------


@hookspec(firstresult=True)
def open_mailbox_store(service: WebService) -> MailboxStore:
    """Open the store that holds the mailboxes; called once, on first use.

    The built-in SQLite store answers last (``trylast``), so an installed
    store plugin replaces it. ``firstresult``: the first non-None wins.

    :param service: the running service (``service.data_dir`` for files).
    :return: a :class:`plugins.owa.mailbox.MailboxStore`.
    """


@hookspec
def mailbox_changed(service: WebService, mailbox_id: str, folder_ids: frozenset, change_number: int) -> None:
    """Run after a commit changed a mailbox: a delivery, an OWA action, a sync.

    Called in the committing thread after the commit, never inside it; direct
    push (Ping) wakes on it. Must not block.

    :param service: the running service.
    :param mailbox_id: the mailbox that changed.
    :param folder_ids: the folders whose contents or hierarchy changed.
    :param change_number: the mailbox's new high-water change number.
    """


# --- event log ----------------------------------------------------------------


@hookspec
def eventlog_written(event: Event) -> None:
    """Receive every event after it is stored in the event log (a sink).

    Called synchronously in the writer's thread; a sink must not block.

    :param event: the stored :class:`host.eventlog.Event`.
    """
