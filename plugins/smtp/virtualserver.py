"""The SMTP service: a listener per binding of every started SMTP virtual server.

Settings other than bindings (MaxMessageSize, MaxRecipients, the FQDN) are
read when a connection arrives, so an edited registry.ini applies to the next
session without a restart; a changed binding closes and opens sockets, as
IIS does when a virtual server's IP or port changes.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from host.eventlog import Level
from host.listeners import Endpoint
from plugins.smtp.listener import SmtpListener
from plugins.smtp.protocol import ExchangeSMTP, InboundMail
from plugins.smtp.settings import VirtualServerSettings, default_fqdn, virtual_server, virtual_servers

# SMTPSVC 115: "The service could not bind instance n." (as W3SVC's 115 for web sites)
BIND_FAILED = 115


class SmtpService:
    """SMTPSVC for one web service; ``reconcile()`` makes the listeners match registry.ini."""

    def __init__(self, service) -> None:
        self.service = service
        self.handler = InboundMail(service)
        self._listeners: dict[Endpoint, tuple[int, SmtpListener]] = {}
        self._lock = threading.Lock()

    def settings(self, instance: int) -> VirtualServerSettings:
        fqdn = default_fqdn(self.service.computer_name, self.service.directory)
        return virtual_server(self.service.config, instance, fqdn)

    def reconcile(self) -> None:
        wanted: dict[Endpoint, int] = {}
        for settings in virtual_servers(self.service):
            if settings.started:
                for binding in settings.bindings:
                    wanted.setdefault(Endpoint("smtp", binding.listen_ip, binding.port), settings.instance)
        with self._lock:
            for endpoint, (instance, listener) in list(self._listeners.items()):
                if wanted.get(endpoint) != instance:
                    listener.stop()
                    del self._listeners[endpoint]
            for endpoint, instance in wanted.items():
                if endpoint not in self._listeners:
                    self._open(endpoint, instance)

    def _open(self, endpoint: Endpoint, instance: int) -> None:
        listener = SmtpListener(endpoint, self._session_factory(instance))
        try:
            listener.start()
        except OSError as exc:
            self.service.eventlog.write(
                "SMTPSVC", BIND_FAILED, Level.ERROR,
                f"The service could not bind instance {instance} to {endpoint.url()}: {exc}")
            self.service.announce(f"Cannot listen on {endpoint.url()}: {exc}")
            return
        self._listeners[endpoint] = (instance, listener)
        self.service.announce(f"Listening on {endpoint.url()}")

    def _session_factory(self, instance: int) -> Callable[[], ExchangeSMTP]:
        def new_session() -> ExchangeSMTP:
            return ExchangeSMTP(self.handler, self.settings(instance), asyncio.get_running_loop())

        return new_session

    def stop(self) -> None:
        with self._lock:
            for _, listener in self._listeners.values():
                listener.stop()
            self._listeners.clear()
