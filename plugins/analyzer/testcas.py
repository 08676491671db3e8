"""``analyze activesync --full``: the scenarios of Exchange's Test-ActiveSyncConnectivity.

Options, FolderSync, First Sync, GetItemEstimate, Sync Data, Ping, Sync Test
Item, as the cmdlet lists them, run against the test mailbox (the user the
trainee names; Exchange uses its extest_ account). "Sync Data" synchronizes
every mail, calendar, contacts and tasks folder to the end. For "Ping" the
analyzer delivers a test message over SMTP to the host's SMTP virtual
server, as any sender would, and expects direct push to report the Inbox;
"Sync Test Item" then has to bring that very message down.
"""
from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

from device import BasicAuth, DeviceSession, DeviceState, TlsSettings
from device.errors import CommandFailed, EasError
from device.profiles import Published
from device.state import FolderType
from plugins.smtp.settings import virtual_server

from .easstep import EasSteps
from .lab import Lab, Target
from .report import Step

TITLE = "Test-ActiveSyncConnectivity: a full synchronization of the test mailbox."
IDENTITY = "TestActiveSyncConnectivity"  # DeviceId, DeviceType and User-Agent of the cmdlet's device
FULL_SYNC_TYPES = (FolderType.INBOX, FolderType.SENT_ITEMS, FolderType.DELETED_ITEMS, FolderType.CALENDAR,
                   FolderType.CONTACTS, FolderType.TASKS)
HEARTBEAT = 60  # the shortest Exchange 2003 SP2 accepts by default; a wrong guess gets Status 5 and the bound
MAX_ROUNDS = 200


class DeliveryFailed(EasError):
    """The test message could not be handed to the SMTP virtual server."""


def full_sync_scenarios(lab: Lab, target: Target, url: str, path: str, published: Published,
                        tls: TlsSettings | None) -> Step:
    """Every scenario as a child step; the group fails with the first failed scenario."""
    group = Step(TITLE)
    state = DeviceState.new(url, target.user, device_id=IDENTITY, device_type=IDENTITY, user_agent=IDENTITY)
    with DeviceSession(state, BasicAuth(target.user, target.password), tls=tls, max_sync_rounds=MAX_ROUNDS,
                       address=(published.ip, published.lab_port)) as session:
        Scenarios(lab, target, session, EasSteps(lab, group.child, published, path)).run()
    if any(c.failed for c in group.children):
        return group.fail("Test-ActiveSyncConnectivity failed.")
    group.summary = "Every scenario succeeded."
    return group


class Scenarios:
    def __init__(self, lab: Lab, target: Target, session: DeviceSession, eas: EasSteps) -> None:
        self.lab, self.target, self.session, self.eas = lab, target, session, eas
        self.subject = f"Test-ActiveSyncConnectivity {uuid.uuid4().hex[:12]}"
        self.folder = ""  # the folder Sync Data is working on, for its failure report
        self.inbox = ""

    def run(self) -> None:
        session, eas = self.session, self.eas
        for name, call in (("Options", session.options), ("FolderSync", session.folder_sync)):
            if eas.run(name, call) is None:
                return
            self._passed()
        inbox = next(iter(session.state.folders_of_type(FolderType.INBOX)), None)
        if inbox is None:
            eas.add(Step("First Sync")).fail("Failure", "The folder hierarchy has no Inbox.")
            return
        self.inbox = inbox.server_id
        for name, call, describe in (
                ("First Sync", lambda: session.sync(self.inbox), lambda r: f"SyncKey {r.sync_key}"),
                ("GetItemEstimate", lambda: session.get_item_estimate([self.inbox]),
                 lambda r: f"Inbox estimate: {r.estimates[0].estimate if r.estimates else '?'} items"),
                ("Sync Data", self._sync_data, lambda lines: "; ".join(lines)),
                ("Ping", self._ping, lambda r: f"Status {r.status}, changes in {self._names(r.changed)}"),
                ("Sync Test Item", self._sync_test_item, lambda found: f"received \"{found}\"")):
            result = eas.run(name, call)
            if result is None:
                if self.folder:
                    eas.last.details.append(f"while synchronizing {self.folder}")
                return
            self._passed(describe(result))

    def _names(self, folder_ids: list[str]) -> str:
        folders = self.session.state.folders
        return ", ".join(folders[i].display_name if i in folders else i for i in folder_ids) or "none"

    def _passed(self, detail: str = "") -> None:
        step = self.eas.last
        step.summary = "Success"
        step.details += [f"Latency {step.elapsed_ms} ms"] + ([detail] if detail else [])

    def _sync_data(self) -> list[str]:
        session, lines = self.session, []
        for folder in (f for t in FULL_SYNC_TYPES for f in session.state.folders_of_type(t)):
            self.folder, count = folder.display_name, 0
            if session.state.sync_key(folder.server_id) == "0":
                session.sync(folder.server_id)
            for _ in range(MAX_ROUNDS):
                reply = session.sync(folder.server_id, window_size=100)
                count += len(reply.added) + len(reply.changed)
                if not reply.more_available:
                    break
            lines.append(f"{folder.display_name}: {count} items")
        self.folder = ""
        return lines

    def _ping(self):
        """Deliver the test message, then hold a Ping on the Inbox until direct push reports it."""
        self._deliver()
        reply = self.session.ping([self.inbox], HEARTBEAT)
        if reply.status == 5 and reply.heartbeat_interval:
            reply = self.session.ping([self.inbox], reply.heartbeat_interval)
        if reply.status != 2:
            raise CommandFailed("Ping", reply.status, reply.response,
                                "the test message did not wake the Ping (Status 2 expected)")
        return reply

    def _deliver(self) -> None:
        message = EmailMessage()
        message["From"] = message["To"] = self.target.email
        message["Subject"] = self.subject
        message.set_content("Sent by the lab's Test-ActiveSyncConnectivity; delete it at will.")
        try:
            binding = virtual_server(self.lab.config, 1, "exrca").bindings[0]
            with smtplib.SMTP(binding.ip or "127.0.0.1", binding.port, timeout=15) as smtp:
                smtp.send_message(message)
        except (KeyError, IndexError) as exc:
            raise DeliveryFailed(f"no SMTP virtual server to deliver the test message to ({exc})") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"the SMTP virtual server did not take the test message: {exc}") from None

    def _sync_test_item(self) -> str:
        for _ in range(MAX_ROUNDS):
            reply = self.session.sync(self.inbox, window_size=100)
            for item in reply.added:
                if item.field("Email:Subject") == self.subject:
                    return self.subject
            if not reply.more_available:
                break
        raise CommandFailed("Sync", None, reply.response, f'the test message "{self.subject}" did not arrive')
