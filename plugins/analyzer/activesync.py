"""The Exchange ActiveSync test of Microsoft's Remote Connectivity Analyzer, in its order and words.

(Autodiscover) -> DNS -> TCP port -> SSL certificate (name, trust, dates) ->
client certificates -> HTTP authentication methods -> OPTIONS -> Provision ->
FolderSync -> Sync. Like ExRCA, the test stops at the first failed step. Each
step passes or fails with the real answer; a failed one then gets its
causes (:mod:`.causes`).
"""
from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from device import BasicAuth, DeviceSession, DeviceState, TlsSettings
from device.profiles import Published
from device.state import FolderType
from plugins.labdns.resolver import LabLookupError

from . import causes
from .autodiscover import autodiscover_step
from .certificate import check_certificate
from .easstep import EasSteps
from .lab import Lab, Target
from .probes import USER_AGENT, check_auth_methods, check_client_certificates
from .report import Report, Step
from .testcas import full_sync_scenarios

TITLE = "Exchange ActiveSync"
SYNC_TITLE = "Attempting the Sync command on the Exchange ActiveSync session."


def analyze_activesync(lab: Lab, target: Target, *, full: bool = False) -> Report:
    """Run the test for ``target``; ``full`` runs Test-ActiveSyncConnectivity's scenarios after OPTIONS."""
    report = Report(TITLE, target.email or target.url)
    url = target.url
    if not url:
        step, url = autodiscover_step(lab, target, USER_AGENT)
        if report.add(step).failed:
            return report
    connected = _connectivity(lab, target, url, report)
    if connected is not None:
        _commands(lab, target, url, *connected, report, full)
    return report


def _timed(build):
    """``build()``'s result, with the time it took stored in the step it returns (first if a tuple)."""
    started = time.monotonic()
    result = build()
    step = result[0] if isinstance(result, tuple) else result
    step.elapsed_ms = int((time.monotonic() - started) * 1000)
    return result


def _connectivity(lab: Lab, target: Target, url: str, report: Report) -> tuple[Published, TlsSettings | None] | None:
    """DNS, TCP, certificate, client certificates, authentication methods; None after a failure."""
    host = urlsplit(url).hostname or ""
    step = report.add(Step(f"Attempting to resolve the host name {host} in DNS."))
    try:
        published = lab.network.publish(url)
    except LabLookupError as exc:
        step.fail("The host name couldn't be resolved.", str(exc))
        step.causes += causes.dns_causes(lab, host)
        return None
    step.summary = "The host name resolved successfully."
    step.details.append(f"IP addresses returned: {published.ip}")

    step = report.add(_timed(lambda: _tcp_step(published)))
    if step.failed:
        step.causes += causes.binding_causes(lab, published)
        return None

    tls = None
    if urlsplit(url).scheme.lower() == "https":
        roots = str(lab.trusted_roots())
        tls = TlsSettings(ca_file=roots, verify=not target.ignore_trust)
        step, der = _timed(lambda: check_certificate(published, roots, ignore_trust=target.ignore_trust))
        if report.add(step).failed:
            step.causes += causes.certificate_causes(lab, published, der)
            return None
        if report.add(_timed(lambda: check_client_certificates(lab, url, published, tls))).failed:
            return None
    if report.add(_timed(lambda: check_auth_methods(lab, url, published, tls))).failed:
        return None
    return published, tls


def _tcp_step(published: Published) -> Step:
    step = Step(f"Testing TCP port {published.port} on host {published.host} to ensure it's listening and open.")
    try:
        with socket.create_connection((published.ip, published.lab_port), timeout=10):
            pass
    except OSError as exc:
        return step.fail("The TCP port couldn't be opened.",
                         f"Connecting to {published.ip}:{published.lab_port} (port {published.port} as the lab "
                         f"firewall publishes it) failed: {exc.strerror or exc}")
    step.summary = "The port was opened successfully."
    step.details.append(f"The lab firewall publishes port {published.port} of {published.ip} as "
                        f"{published.ip}:{published.lab_port}.")
    return step


def _commands(lab: Lab, target: Target, url: str, published: Published, tls: TlsSettings | None, report: Report,
              full: bool) -> None:
    """OPTIONS, then Provision, FolderSync and Sync (or the full scenarios) as the analyzer's device."""
    path = urlsplit(url).path
    state = DeviceState.new(url, target.user, device_id="ExRCA", device_type="ExRCA", user_agent=USER_AGENT)
    with DeviceSession(state, BasicAuth(target.user, target.password), tls=tls,
                       address=(published.ip, published.lab_port)) as session:
        eas = EasSteps(lab, report.add, published, path)
        options = eas.run("Attempting to send an OPTIONS command to the server.", session.options)
        if options is None:
            return
        eas.last.summary = "The OPTIONS response was successfully received and is valid."
        eas.last.details += [f"{name}: {options.headers.get(name)}" for name in
                             ("MS-Server-ActiveSync", "MS-ASProtocolVersions", "MS-ASProtocolCommands")]
        eas.last.details.append(f"The analyzer uses protocol version {session.version}.")
        if full:
            report.add(full_sync_scenarios(lab, target, url, path, published, tls))
            return
        provisioned = eas.run("Attempting to send the Provision command to the server.", session.provision)
        if provisioned is None:
            return
        eas.last.summary = "The Provision command succeeded."
        eas.last.details.append(f"Policy type {provisioned.policy_type}, policy key {provisioned.policy_key}")
        folders = eas.run("Attempting the FolderSync command on the Exchange ActiveSync session.",
                          session.folder_sync)
        if folders is None:
            return
        eas.last.summary = "The FolderSync command test passed."
        eas.last.details.append(f"{len(folders.added)} folders: " + ", ".join(f.display_name for f in folders.added))
        inbox = next(iter(session.state.folders_of_type(FolderType.INBOX)), None)
        if inbox is None:
            report.add(Step(SYNC_TITLE)).fail("The folder hierarchy has no Inbox (folder type 2) to synchronize.")
            return
        synced = eas.run(SYNC_TITLE, lambda: _first_items(session, inbox.server_id))
        if synced is not None:
            eas.last.summary = "The Sync command test passed."
            eas.last.details.append(f"Inbox: {len(synced.added)} items received"
                                    + (" (more available)" if synced.more_available else ""))


def _first_items(session: DeviceSession, collection_id: str):
    """The initial Sync (key 0), then the first window of items, as a device starts."""
    session.sync(collection_id)
    return session.sync(collection_id, window_size=25)
