"""The Exchange ActiveSync test of Microsoft's Remote Connectivity Analyzer, in its order and words.

(Autodiscover) -> DNS -> TCP port -> SSL certificate (name, trust, dates) ->
client certificates -> HTTP authentication methods -> OPTIONS -> Provision ->
FolderSync -> Sync. Like ExRCA, the test stops at the first failed step. Each
step passes or fails with the real answer; a failed one then gets its
causes (:mod:`.causes`).
"""
from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from contextlib import contextmanager
from urllib.parse import urlsplit

from device import BasicAuth, DeviceSession, DeviceState, TlsSettings
from device.state import FolderType
from plugins.autodiscover.discovery import discover
from plugins.labdns.resolver import LabLookupError

from . import causes
from .certificate import check_certificate
from .lab import Lab, Target
from .probes import USER_AGENT, check_auth_methods, check_client_certificates
from .easstep import EasSteps
from .report import FAILURE, Report, Step
from .testcas import full_sync_scenarios

TITLE = "Exchange ActiveSync"


@contextmanager
def timed(step: Step):
    """Time the block into ``step.elapsed_ms`` (ExRCA's "Elapsed Time")."""
    started = time.monotonic()
    try:
        yield step
    finally:
        step.elapsed_ms = int((time.monotonic() - started) * 1000)


def measured(build: Callable[[], Step]) -> Step:
    """A step built by ``build``, with the time it took."""
    started = time.monotonic()
    step = build()
    step.elapsed_ms = int((time.monotonic() - started) * 1000)
    return step


def analyze_activesync(lab: Lab, target: Target, *, full: bool = False) -> Report:
    """Run the test for ``target``; ``full`` adds Test-ActiveSyncConnectivity's scenarios."""
    report = Report(TITLE, target.email or target.url)
    url = target.url
    if not url:
        step = report.add(autodiscover_step(lab, target))
        if step.failed:
            return report
        url = step.details[-1].removeprefix("ActiveSync URL: ")
    host = urlsplit(url).hostname or ""

    with timed(report.add(Step(f"Attempting to resolve the host name {host} in DNS."))) as step:
        try:
            published = lab.network.publish(url)
        except LabLookupError as exc:
            step.fail("The host name couldn't be resolved.", str(exc))
            step.causes += causes.dns_causes(lab, host)
            return report
        step.summary = "The host name resolved successfully."
        step.details.append(f"IP addresses returned: {published.ip}")

    with timed(report.add(Step(f"Testing TCP port {published.port} on host {host} to ensure it's listening "
                               "and open."))) as step:
        if not _tcp_open(step, published):
            step.causes += causes.binding_causes(lab, published)
            return report

    roots = str(lab.trusted_roots())
    secure = urlsplit(url).scheme.lower() == "https"
    tls = TlsSettings(ca_file=roots, verify=not target.ignore_trust) if secure else None
    if secure:
        presented: list[bytes | None] = []
        step = report.add(measured(lambda: _certificate(published, roots, target, presented)))
        if step.failed:
            step.causes += causes.certificate_causes(lab, published, presented[0])
            return report
        if report.add(measured(lambda: check_client_certificates(lab, url, published, tls))).failed:
            return report

    if report.add(measured(lambda: check_auth_methods(lab, url, published, tls))).failed:
        return report

    state = DeviceState.new(url, target.user, device_id="ExRCA", device_type="ExRCA", user_agent=USER_AGENT)
    with DeviceSession(state, BasicAuth(target.user, target.password), tls=tls,
                       address=(published.ip, published.lab_port)) as session:
        eas = EasSteps(lab, report.add, published, urlsplit(url).path)
        options = eas.run("Attempting to send an OPTIONS command to the server.", session.options)
        if options is None:
            return report
        eas.last.summary = "The OPTIONS response was successfully received and is valid."
        eas.last.details += [f"{name}: {options.headers.get(name)}" for name in
                             ("MS-Server-ActiveSync", "MS-ASProtocolVersions", "MS-ASProtocolCommands")]
        eas.last.details.append(f"The analyzer uses protocol version {session.version}.")
        if full:
            report.add(full_sync_scenarios(lab, target, url, urlsplit(url).path, published, tls))
            return report
        provisioned = eas.run("Attempting to send the Provision command to the server.", session.provision)
        if provisioned is None:
            return report
        eas.last.summary = "The Provision command succeeded."
        eas.last.details.append(f"Policy type {provisioned.policy_type}, policy key {provisioned.policy_key}")
        folders = eas.run("Attempting the FolderSync command on the Exchange ActiveSync session.",
                          session.folder_sync)
        if folders is None:
            return report
        eas.last.summary = "The FolderSync command test passed."
        eas.last.details.append(f"{len(folders.added)} folders: "
                                + ", ".join(f.display_name for f in folders.added))
        inbox = next(iter(session.state.folders_of_type(FolderType.INBOX)), None)
        if inbox is None:
            report.add(Step("Attempting the Sync command on the Exchange ActiveSync session.")).fail(
                "The FolderSync response has no Inbox (folder type 2) to synchronize.")
            return report
        synced = eas.run("Attempting the Sync command on the Exchange ActiveSync session.",
                         lambda: _first_items(session, inbox.server_id))
        if synced is not None:
            eas.last.summary = "The Sync command test passed."
            eas.last.details.append(f"Inbox: {len(synced.added)} items received"
                                    + (" (more available)" if synced.more_available else ""))
    return report


def _certificate(published, roots: str, target: Target, presented: list) -> Step:
    step, der = check_certificate(published, roots, ignore_trust=target.ignore_trust)
    presented.append(der)
    return step


def _first_items(session: DeviceSession, collection_id: str):
    """The initial Sync (key 0), then the first window of items, as a device starts."""
    session.sync(collection_id)
    return session.sync(collection_id, window_size=25)


def _tcp_open(step: Step, published) -> bool:
    try:
        with socket.create_connection((published.ip, published.lab_port), timeout=10):
            pass
    except OSError as exc:
        step.fail("The TCP port couldn't be opened.",
                  f"Connecting to {published.ip}:{published.lab_port} (port {published.port} as the lab firewall "
                  f"publishes it) failed: {exc.strerror or exc}")
        return False
    step.summary = "The port was opened successfully."
    step.details.append(f"The lab firewall publishes port {published.port} of {published.ip} as "
                        f"{published.ip}:{published.lab_port}.")
    return True


# --- Autodiscover ---------------------------------------------------------------------


def autodiscover_step(lab: Lab, target: Target) -> Step:
    """ExRCA's "Attempting each method of contacting the Autodiscover service.", one child per method."""
    step = Step("Attempting each method of contacting the Autodiscover service.")
    trust = ssl.create_default_context(cafile=str(lab.trusted_roots()))
    if target.ignore_trust:
        trust.check_hostname, trust.verify_mode = False, ssl.CERT_NONE
    with timed(step):
        found = discover(target.email, (target.user, target.password), lab.network.resolver, trust,
                         port_map=lab.network.port_map(), user_agent=USER_AGENT)
    for attempt in found.attempts:
        child = step.child(Step(_method_title(attempt.step)))
        child.details.append(attempt.detail)
        if attempt.result == "failed":  # ExRCA shows it failed even when a later method succeeds
            child.result = FAILURE
            child.summary = "Testing of this potential Autodiscover URL failed."
            if attempt.detail.startswith("DNS:"):
                child.causes += causes.dns_causes(lab, _attempt_host(attempt.step))
        else:
            child.summary = "The Autodiscover service was contacted successfully." if attempt.result == "succeeded" \
                else "The Autodiscover service pointed elsewhere."
    if not found.succeeded:
        return step.fail("The Autodiscover service couldn't be contacted successfully by any method.")
    step.summary = "The Autodiscover service was tested successfully."
    step.details.append(f"ActiveSync URL: {found.url}")
    return step


def _method_title(attempt: str) -> str:
    verb, _, rest = attempt.partition(" ")
    if verb == "POST":
        return f"Attempting to test potential Autodiscover URL {rest}"
    if verb == "GET":
        return f"Attempting to contact the Autodiscover service using the HTTP redirect method ({rest})."
    if verb == "SRV":
        return f"Attempting to contact the Autodiscover service using the DNS SRV redirect method ({rest})."
    return attempt


def _attempt_host(attempt: str) -> str:
    target = attempt.partition(" ")[2]
    return urlsplit(target).hostname or target
