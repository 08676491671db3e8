"""One run of a simulated phone: the EAS conversation a real one has, step by step.

Autodiscover (when the profile has it and no URL was typed in), the lab DNS
lookup, then OPTIONS, Provision, FolderSync, Sync and Ping through the device
library with the profile's TLS rules and the device's own trust store. The
run stops at the first failure and says what the phone would show; every
failure is the real one (a refused handshake, an HTTP status, an EAS
Status), never a guess from the server's configuration.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from device import BasicAuth, DeviceSession, NtlmAuth, TlsSettings, refuse_wildcard_names
from device.errors import CommandFailed, EasError
from device.state import FolderType
from device.versions import at_least
from plugins.autodiscover.discovery import discover
from plugins.labdns.resolver import LabLookupError

from .labnet import LabNetwork
from .messages import device_message
from .settings import CertificateChecks, DeviceSettings

MAX_SYNC_ROUNDS = 50
PING_STATUS = {1: "the heartbeat expired without changes", 2: "changes arrived", 3: "parameters missing",
               4: "syntax error", 5: "heartbeat out of bounds", 6: "too many folders",
               7: "folder hierarchy out of date", 8: "server error"}


@dataclass
class DeviceStep:
    """One step as the run reports it; ``ok`` None means skipped."""

    name: str
    ok: bool | None
    lines: list[str] = field(default_factory=list)


@dataclass
class DeviceRun:
    """A run of ``settings.profile`` against the lab, as ``user``.

    Give ``url`` (the server address typed into the phone) or ``email``
    (Autodiscover finds the URL). ``heartbeat`` is the Ping interval the lab
    asks for; a real device starts at the profile's ``heartbeat``.
    ``sync_folders`` are the content types ticked in the device's sync
    options; empty means the profile's default.
    """

    settings: DeviceSettings
    network: LabNetwork
    user: str
    password: str
    url: str = ""
    email: str = ""
    heartbeat: int = 60
    sync_folders: tuple[FolderType, ...] = ()  # what the user ticked; empty: the profile's default
    shown: str = ""  # what the phone shows after a failure
    checks: CertificateChecks | None = None
    syncing: str = ""  # the folder Sync is working on, for its failure report

    @property
    def profile(self):
        return self.settings.profile

    @property
    def folder_types(self) -> tuple[FolderType, ...]:
        return self.sync_folders or self.profile.sync_folders

    def tls(self) -> TlsSettings:
        """The device's TLS rules: its own root store, its own checks, its own limits."""
        self.checks = self.settings.certificate_checks()
        veto = None if self.profile.wildcard_names or not self.checks.enabled else refuse_wildcard_names
        return TlsSettings(ca_file=self.settings.trust_store(), verify=self.checks.enabled,
                           post_handshake_auth=self.profile.post_handshake_auth, certificate_check=veto)

    def steps(self) -> Iterator[DeviceStep]:
        tls = self.tls()
        if not self.url:
            step = self._autodiscover(tls)
            yield step
            if not step.ok:
                return
        try:
            published = self.network.publish(self.url)
        except LabLookupError as exc:
            yield self._failed("DNS", exc, host=exc.name)
            return
        yield DeviceStep("DNS", True, [f"{published.host} -> {published.ip} ({self.network.resolver!r}); "
                                       f"port {published.port} reaches {published.ip}:{published.lab_port}"])
        auth = (BasicAuth if self.profile.auth == "Basic" else NtlmAuth)(self.user, self.password)
        state = self.settings.state(self.url, self.user)
        with DeviceSession(state, auth, tls=tls, supported_versions=self.profile.versions,
                           address=(published.ip, published.lab_port), state_file=self.settings.state_file,
                           auto_provision=self.profile.provision, max_sync_rounds=MAX_SYNC_ROUNDS) as session:
            for name, action in (("OPTIONS", self._options), ("Provision", self._provision),
                                 ("FolderSync", self._folder_sync), ("Sync", self._sync), ("Ping", self._ping)):
                try:
                    step = action(session)
                except EasError as exc:
                    yield self._failed(name, exc, host=published.host)
                    return
                yield step

    def _failed(self, name: str, error: Exception, *, host: str) -> DeviceStep:
        self.shown = device_message(self.profile, error, host=host, email=self.email)
        where = [f"while synchronizing {self.syncing}"] if name == "Sync" and self.syncing else []
        return DeviceStep(name, False, [str(error), *where])

    # --- the steps ---------------------------------------------------------------

    def _autodiscover(self, tls: TlsSettings) -> DeviceStep:
        if not self.profile.autodiscover:
            self.shown = device_message(self.profile, None, email=self.email)
            return DeviceStep("Autodiscover", False, ["this device has no Autodiscover; give it the server "
                                                      "address (--url)"])
        found = discover(self.email, (self.user, self.password), self.network.resolver, tls.context(),
                         port_map=self.network.port_map(), user_agent=self.profile.user_agent)
        lines = [f"{a.step}: {a.result}, {a.detail}" for a in found.attempts]
        if not found.succeeded:
            self.shown = device_message(self.profile, None, email=self.email)
            return DeviceStep("Autodiscover", False, lines)
        self.url = found.url
        return DeviceStep("Autodiscover", True, [*lines, f"server address: {found.url}"])

    def _options(self, session: DeviceSession) -> DeviceStep:
        response = session.options()
        lines = [f"HTTP {response.http_status} from {session.connection.url}; MS-Server-ActiveSync "
                 f"{response.server_version or '-'}; server versions {','.join(response.protocol_versions)}; "
                 f"device speaks {','.join(self.profile.versions)} and uses {session.version}"]
        if response.tls is not None and response.tls.peer is not None:
            judged = ("checked against the device's root store" if response.tls.verified
                      else f"NOT checked: certificate checks are {self.checks} - insecure")
            lines.append(f"{response.tls.version}, certificate {response.tls.peer.subject}, {judged}")
        return DeviceStep("OPTIONS", True, lines)

    def _provision(self, session: DeviceSession) -> DeviceStep:
        if not self.profile.provision or not at_least(session.version, "2.5"):
            return DeviceStep("Provision", None, [f"this device cannot provision at protocol {session.version}; "
                                                  "it never sends a policy key"])
        if session.state.policy_key not in ("", "0"):
            return DeviceStep("Provision", None, [f"policy key {session.state.policy_key} from an earlier run"])
        result = session.provision()
        return DeviceStep("Provision", True, [f"policy {result.policy_type}, policy key {result.policy_key}"])

    def _folder_sync(self, session: DeviceSession) -> DeviceStep:
        changes = session.folder_sync()
        return DeviceStep("FolderSync", True, [f"{len(changes.added)} folders added, {len(changes.updated)} "
                                               f"changed, {len(changes.deleted)} deleted; "
                                               f"{len(session.state.folders)} folders on the device"])

    def _sync(self, session: DeviceSession) -> DeviceStep:
        lines = []
        for folder_type in self.folder_types:
            for folder in session.state.folders_of_type(folder_type):
                self.syncing, received = folder.display_name, 0
                if session.state.sync_key(folder.server_id) == "0":
                    session.sync(folder.server_id)
                for _ in range(MAX_SYNC_ROUNDS):
                    reply = session.sync(folder.server_id, window_size=100)
                    received += len(reply.added) + len(reply.changed)
                    if not reply.more_available:
                        break
                lines.append(f"{folder.display_name}: {received} new or changed items")
        self.syncing = ""
        return DeviceStep("Sync", True, lines)

    def _ping(self, session: DeviceSession) -> DeviceStep:
        if not self.profile.ping:
            return DeviceStep("Ping", None, ["no direct push on this device (Always Up-To-Date by SMS)"])
        if "Ping" not in session.state.server_commands:
            return DeviceStep("Ping", None, ["the server offers no Ping (MS-ASProtocolCommands)"])
        watched = [f.server_id for t in self.folder_types for f in session.state.folders_of_type(t)]
        heartbeat, lines = self.heartbeat, []
        reply = session.ping(watched, heartbeat)
        if reply.status == 5 and reply.heartbeat_interval:  # MS-ASCMD 2.2.3.177.11: use the server's bound
            lines.append(f"heartbeat {heartbeat} s: Status 5, the server wants {reply.heartbeat_interval} s")
            heartbeat = reply.heartbeat_interval
            reply = session.ping(watched, heartbeat)
        if reply.status not in (1, 2):
            raise CommandFailed("Ping", reply.status, reply.response, PING_STATUS.get(reply.status, ""))
        names = {f.server_id: f.display_name for f in session.state.folders.values()}
        changed = ", ".join(names.get(i, i) for i in reply.changed)
        lines.append(f"heartbeat {heartbeat} s: Status {reply.status}, {PING_STATUS.get(reply.status, 'unknown')}"
                     + (f" in {changed}" if changed else ""))
        return DeviceStep("Ping", True, lines)
