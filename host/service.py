"""The web service (W3SVC): one configuration, the pipeline, the listeners, and the data.

The object is kept thin on purpose: it owns what lives as long as the
process (plugin manager, event log, directory, lab PKI, W3C logs, listeners)
and swaps whole configuration snapshots in and out; everything a request does
is in the pipeline stages.
"""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Callable

import pluggy

from host.auth.base import AuthScheme
from host.config import ConfigError, HostConfig, load_config
from host.directory import Directory
from host.eventlog import EventLog, Level
from host.listeners import Endpoint, Listener, TlsSettings, make_listener
from host.metabase import COMPUTER_NAME_KEY, PropertyTable
from host.pipeline import build_app
from host.pki import LabPKI
from host.plugins import collect, make_plugin_manager
from host.request import RequestLog
from host.scriptmaps import Handler
from host.w3clog import W3CLog

EVENT_SOURCE = "EASLab Host"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def default_registry_path() -> Path:
    """The registry.ini shipped with the project.

    It lives in the checkout beside ``host/`` (with ``vdirs/``, the lab's C:
    drive), which is why the README installs with ``pip install -e .``.
    """
    return PACKAGE_ROOT / "registry.ini"


def default_content_root() -> Path:
    """The lab's C: drive: the project's ``vdirs/`` folder."""
    return PACKAGE_ROOT / "vdirs"


class WebService:
    """The running host: call it as a WSGI application, or ``start()`` its listeners.

    :param registry_path: the registry.ini to serve.
    :param data_dir: where the directory, PKI, logs and mailboxes live.
    :param pm: a plugin manager (tests pass one with throwaway plugins).
    :param announce: called with each "Listening on ..." line.
    :param threads: worker threads each listener starts with.
    :param max_threads: the most each listener grows to when requests are held
        (direct-push Pings keep a worker for up to 45 minutes).
    """

    def __init__(self, registry_path: str | os.PathLike, data_dir: str | os.PathLike, *,
                 pm: pluggy.PluginManager | None = None, content_root: str | os.PathLike | None = None,
                 announce: Callable[[str], None] = print, threads: int = 8, max_threads: int = 256) -> None:
        self.registry_path = Path(registry_path)
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.content_root = Path(content_root) if content_root else default_content_root()
        self.pm = pm or make_plugin_manager()
        self.announce = announce
        self.threads = threads
        self.max_threads = max_threads
        self.table = PropertyTable(collect(self.pm.hook.register_registry_properties()))
        self.eventlog = EventLog(self.data_dir / "eventlog.db", sinks=self._event_sink)
        self.directory = Directory.open(self.data_dir)
        self.pki = LabPKI(self.data_dir / "pki")
        self.handlers: dict[str, Callable] = {}
        self.handler_info: dict[str, Handler] = {}
        self.auth_schemes: list[AuthScheme] = sorted(collect(self.pm.hook.register_auth_schemes()), key=lambda s: s.order)
        self.config: HostConfig = self._load_valid()
        self._w3c: dict[int, W3CLog] = {}
        self._configure_w3c()
        self._listeners: dict[Endpoint, Listener] = {}
        self._started = False
        self._mailstore = None
        self._lock = threading.RLock()
        for handler in collect(self.pm.hook.register_handlers()):
            self.handler_info[handler.name.casefold()] = handler
            self.handlers[handler.name.casefold()] = handler.factory(self)
        self.app = build_app(self.pm, self)
        self.pm.hook.config_applied(service=self, previous=None, current=self.config)

    # --- WSGI ------------------------------------------------------------------

    def __call__(self, environ, start_response):
        environ["host.service"] = self
        environ["host.config"] = self.config
        environ["host.log"] = RequestLog()
        return self.app(environ, start_response)

    # --- configuration ------------------------------------------------------------

    @property
    def computer_name(self) -> str:
        return self.config.registry_value(COMPUTER_NAME_KEY, "ComputerName")

    def _load_valid(self) -> HostConfig:
        config = load_config(self.registry_path, self.table)
        config.raise_for_errors()
        return config

    def reload(self) -> bool:
        """Read registry.ini again; apply it when valid, else keep the last good one.

        :return: True when the new configuration is in service.
        """
        try:
            config = self._load_valid()
        except (ConfigError, OSError) as exc:
            self.eventlog.write(
                EVENT_SOURCE, 1002, Level.WARNING,
                f"The changed configuration file {self.registry_path} was not applied; the host keeps "
                f"serving the last valid configuration.\n\n{exc}",
            )
            return False
        with self._lock:
            previous, self.config = self.config, config
            self._configure_w3c()
            if self._started:
                self._reconcile_listeners()
        self.eventlog.write(EVENT_SOURCE, 1001, Level.INFORMATION,
                            f"The configuration file {self.registry_path} was applied.")
        self.pm.hook.config_applied(service=self, previous=previous, current=config)
        return True

    # --- the mailbox store -------------------------------------------------------

    @property
    def mailstore(self):
        """The mailbox store a plugin opened (``open_mailbox_store``); None without one."""
        with self._lock:
            if self._mailstore is None:
                store = self.pm.hook.open_mailbox_store(service=self)
                if store is not None:
                    store.on_commit(lambda mailbox_id, folders, cn: self.pm.hook.mailbox_changed(
                        service=self, mailbox_id=mailbox_id, folder_ids=folders, change_number=cn))
                    self._mailstore = store
            return self._mailstore

    # --- logs -----------------------------------------------------------------

    def _event_sink(self, event) -> None:
        self.pm.hook.eventlog_written(event=event)

    def log_dir(self, config: HostConfig, site_key) -> Path:
        """LogFileDirectory with %WinDir%\\System32\\LogFiles meaning the data directory's LogFiles."""
        text = site_key.get("LogFileDirectory")
        default = r"%WinDir%\System32\LogFiles"
        if text.casefold().replace("/", "\\") == default.casefold():
            return self.data_dir / "LogFiles"
        return Path(os.path.expandvars(text))

    def w3c_log(self, site_id: int) -> W3CLog | None:
        return self._w3c.get(site_id)

    def _configure_w3c(self) -> None:
        for site in self.config.sites.values():
            key = site.key
            settings = dict(log_dir=self.log_dir(self.config, key), ext_file_flags=key.get("LogExtFileFlags"),
                            period=key.get("LogFilePeriod"), truncate_size=key.get("LogFileTruncateSize"),
                            enabled=key.get("LogType"))
            log = self._w3c.get(site.id)
            if log is None:
                self._w3c[site.id] = W3CLog(site_id=site.id, **settings)
            else:
                log.configure(**settings)

    # --- listeners ----------------------------------------------------------------

    def desired_endpoints(self) -> dict[Endpoint, TlsSettings | None]:
        """Every binding of every started site, with the TLS settings of secure ones."""
        wanted: dict[Endpoint, TlsSettings | None] = {}
        for site in self.config.sites.values():
            if not site.started:
                continue
            for binding in site.bindings:
                wanted[Endpoint("http", binding.listen_ip, binding.port)] = None
            for binding in site.secure_bindings:
                tls = self._tls_settings(site)
                if tls is not None:
                    wanted[Endpoint("https", binding.listen_ip, binding.port)] = tls
        return wanted

    def _tls_settings(self, site) -> TlsSettings | None:
        thumbprint = site.key.get("SSLCertHash")
        if thumbprint:
            cert = self.pki.find(thumbprint)
            if cert is None:
                self.eventlog.write(
                    EVENT_SOURCE, 1003, Level.ERROR,
                    f"The SSL certificate {thumbprint} named by SSLCertHash of [{site.path}] is not in the lab "
                    "certificate store; the site's secure bindings are not served. See \"python -m host cert list\".",
                )
                return None
        else:
            cert = self.default_server_certificate()
        return TlsSettings(cert_chain_path=cert.chain_path, key_path=cert.key_path,
                           client_ca_pem=self.pki.client_ca_pem())

    def default_server_certificate(self):
        """The certificate issued on first run for this machine, localhost and the binding IPs."""
        hostname = socket.gethostname()
        names = [hostname, socket.getfqdn(), "localhost", self.computer_name.lower(),
                 *collect(self.pm.hook.server_certificate_names(service=self))]
        ips = sorted({b.listen_ip for s in self.config.sites.values() for b in s.secure_bindings} | {"127.0.0.1"})
        return self.pki.ensure_default_server_cert(list(dict.fromkeys(n for n in names if n)), ips)

    def start(self) -> None:
        """Open every binding's listener and start watching registry.ini."""
        self.pki.ensure_root()
        self.pm.hook.host_startup(service=self)
        with self._lock:
            self._started = True
            self._reconcile_listeners()

    def _reconcile_listeners(self) -> None:
        wanted = self.desired_endpoints()
        for endpoint in [e for e in self._listeners if e not in wanted]:
            self._listeners.pop(endpoint).stop()
        for endpoint, tls in wanted.items():
            listener = self._listeners.get(endpoint)
            if listener is not None:
                if tls is not None:
                    listener.update_tls(tls)
                continue
            listener = make_listener(endpoint, self, tls=tls, threads=self.threads, max_threads=self.max_threads)
            try:
                listener.start()
            except OSError as exc:
                self.eventlog.write("W3SVC", 115, Level.ERROR,
                                    f"The service could not bind {endpoint.url()}: {exc}")
                self.announce(f"Cannot listen on {endpoint.url()}: {exc}")
                continue
            self._listeners[endpoint] = listener
            self.announce(f"Listening on {endpoint.url()}")

    @property
    def endpoints(self) -> list[Endpoint]:
        return list(self._listeners)

    def stop(self) -> None:
        self.pm.hook.host_stopping(service=self)
        with self._lock:
            for listener in self._listeners.values():
                listener.stop()
            self._listeners.clear()
            self._started = False
        self.pm.hook.host_shutdown(service=self)
        for log in self._w3c.values():
            log.close()
        if self._mailstore is not None:
            self._mailstore.close()
            self._mailstore = None
