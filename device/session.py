"""A device session: one phone talking to one mailbox over one connection.

The session keeps the partnership state (``DeviceState``), formats every
request for the negotiated protocol version, and reacts to the server the
way a device does: OPTIONS first, Provision when asked (HTTP 449, or common
Status 142/143/144 in the body), retry the command once, acknowledge a
remote wipe. Everything else is reported, not repaired: non-2xx answers
raise ``HttpFailure`` (451 carries X-MS-Location), failed hierarchy and
sync commands raise ``CommandFailed``.
"""
from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from plugins.activesync.wbxml import encode

from .auth import Auth
from .commands import estimate, folders, items, mail, ping, provision, search, settings, sync
from .connection import Connection
from .errors import CommandFailed, HttpFailure, ProtocolError, SyncIncomplete
from .query import OPTION_ACCEPT_MULTIPART, OPTION_SAVE_IN_SENT, base64_query, plain_query
from .response import WBXML, EasResponse, SentRequest, decode_body
from .state import DeviceState, Folder, FolderType
from .tls import TlsSettings
from .versions import SUPPORTED_VERSIONS, at_least, choose_version

#: Common Status values that mean "provision again" (MS-ASCMD 2.2.2): 142
#: DeviceNotProvisioned, 143 PolicyRefresh, 144 InvalidPolicyKey.
REPROVISION_STATUSES = frozenset({142, 143, 144})
#: Common Status 140: RemoteWipeRequested.
REMOTE_WIPE_STATUS = 140
#: MS-ASHTTP 2.2.2.1.1 / MS-ASPROV: 2.5-12.1 ask for provisioning with HTTP 449.
HTTP_PROVISION = 449


@dataclass
class ProvisionResult:
    """Both phases of one provisioning (or the wipe exchange), and what they set."""

    policy_key: str | None
    policy_type: str | None
    settings: dict[str, str | None] = field(default_factory=dict)
    wap_document: str | None = None
    remote_wipe: bool = False
    account_only_remote_wipe: bool = False
    responses: list[EasResponse] = field(default_factory=list)


class DeviceSession:
    """One device's session with the server.

    ``query_style="base64"`` uses the base64 query wherever the version
    allows it (12.1+); 2.5 and 12.0 MUST use the plain query, so they do.
    ``supported_versions`` is what the device itself can speak (a profile
    narrows it); ``protocol_version`` forces one instead of negotiating.
    """

    def __init__(self, state: DeviceState, auth: Auth | None = None, *, tls: TlsSettings | None = None,
                 protocol_version: str | None = None, supported_versions: Sequence[str] = SUPPORTED_VERSIONS,
                 query_style: str = "plain", locale: int = 0x0409, accept_language: str | None = None,
                 accept_gzip: bool = False, timeout: float = 30.0, address: tuple[str, int] | None = None,
                 state_file: str | Path | None = None, auto_provision: bool = True,
                 policy_acknowledgement: int = 1, wipe_acknowledgement: int = 1, max_sync_rounds: int = 50) -> None:
        if query_style not in ("plain", "base64"):
            raise ValueError(f"query_style must be 'plain' or 'base64', not {query_style!r}")
        self.state = state
        if protocol_version is not None:
            state.protocol_version = protocol_version
        self.version_forced = protocol_version is not None
        self.supported_versions = tuple(supported_versions)
        self.connection = Connection(state.url, auth=auth, tls=tls, timeout=timeout, address=address)
        self.query_style = query_style
        self.locale = locale
        self.accept_language = accept_language
        self.accept_gzip = accept_gzip
        self.state_file = Path(state_file) if state_file is not None else None
        self.auto_provision = auto_provision
        self.policy_acknowledgement = policy_acknowledgement
        self.wipe_acknowledgement = wipe_acknowledgement
        self.max_sync_rounds = max_sync_rounds
        self.history: deque[EasResponse] = deque(maxlen=200)
        self.last_provision: ProvisionResult | None = None
        self.wiped = False

    @classmethod
    def resume(cls, state_file: str | Path, auth: Auth | None = None, **options) -> DeviceSession:
        """Reopen a device from its JSON state file; later changes are saved there again."""
        return cls(DeviceState.load(state_file), auth, state_file=state_file, **options)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> DeviceSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def save(self) -> None:
        if self.state_file is not None:
            self.state.save(self.state_file)

    # ------------------------------------------------------------ transport

    @property
    def version(self) -> str:
        """The protocol version in use; negotiated with OPTIONS on first need."""
        if self.state.protocol_version is None:
            self.options()
        assert self.state.protocol_version is not None
        return self.state.protocol_version

    def options(self) -> EasResponse:
        """HTTP OPTIONS: learn the server's versions and commands (MS-ASHTTP 2.2.3)."""
        sent = SentRequest("OPTIONS", self.connection.path, {"User-Agent": self.state.user_agent}, b"")
        response = self._exchange(None, sent)
        if not response.ok:
            raise HttpFailure(response)
        self.state.server_versions = response.protocol_versions
        self.state.server_commands = response.protocol_commands
        if not self.version_forced:
            chosen = choose_version(self.state.server_versions, self.supported_versions)
            if chosen is None:
                raise ProtocolError(f"no common protocol version: server offers "
                                    f"{','.join(self.state.server_versions) or 'none'}, device speaks "
                                    f"{','.join(self.supported_versions)}", response)
            self.state.protocol_version = chosen
        self.save()
        return response

    def send(self, command: str, body: etree._Element | bytes | None = None, *, content_type: str = WBXML,
             timeout: float | None = None, save_in_sent: bool = False, accept_multipart: bool = False) -> EasResponse:
        """One POST, exactly as the device would send it now; no retry, no status check."""
        version = self.version
        data = encode(body) if isinstance(body, etree._Element) else (body or b"")
        headers = {"User-Agent": self.state.user_agent}
        if data:
            headers["Content-Type"] = content_type
        if self.query_style == "base64" and at_least(version, "12.1"):
            flags = (OPTION_SAVE_IN_SENT if save_in_sent else 0) | (OPTION_ACCEPT_MULTIPART if accept_multipart else 0)
            query = base64_query(version, command, self.state.device_id, self.state.device_type,
                                 locale=self.locale, policy_key=self._numeric_policy_key(),
                                 parameters={"Options": bytes((flags,))} if flags else None)
        else:
            headers["MS-ASProtocolVersion"] = version
            if self.state.policy_key not in ("", "0"):
                headers["X-MS-PolicyKey"] = self.state.policy_key
            if accept_multipart:
                headers["MS-ASAcceptMultiPart"] = "T"
            query = plain_query(command, self.state.user, self.state.device_id, self.state.device_type,
                                {"SaveInSent": "T"} if save_in_sent else None)
        if self.accept_gzip:
            headers["Accept-Encoding"] = "gzip"
        if self.accept_language:
            headers["Accept-Language"] = self.accept_language
        return self._exchange(command, SentRequest("POST", f"{self.connection.path}?{query}", headers, data),
                              timeout)

    def execute(self, command: str, body: etree._Element | bytes | None = None, **options) -> EasResponse:
        """``send``, provisioning and retrying once when the server asks; non-2xx raises HttpFailure."""
        response = self.send(command, body, **options)
        if self.auto_provision and command != "Provision":
            if response.http_status == HTTP_PROVISION or response.root_status in REPROVISION_STATUSES:
                self.provision()
                response = self.send(command, body, **options)
            elif response.root_status == REMOTE_WIPE_STATUS:
                self.provision(wipe_request=True)
        if not response.ok:
            raise HttpFailure(response)
        return response

    def _exchange(self, command: str | None, sent: SentRequest, timeout: float | None = None) -> EasResponse:
        result = self.connection.request(sent.method, sent.target, sent.headers, sent.body, timeout)
        response = EasResponse(command=command, request=sent, http_status=result.status, reason=result.reason,
                               headers=result.headers, body=result.body, xml=None, elapsed=result.elapsed,
                               tls=result.tls, auth_legs=result.auth_legs, compressed=result.compressed)
        self.history.append(response)
        try:
            response.xml, response.parts = decode_body(command, result.headers.get("Content-Type", ""), result.body)
        except ProtocolError as exc:
            exc.response = response
            raise
        return response

    def _numeric_policy_key(self) -> int | None:
        key = self.state.policy_key
        try:
            return int(key) if key else None
        except ValueError:
            raise ProtocolError(f"policy key {key!r} is not a 32-bit number; the base64 query cannot carry it "
                                "(MS-ASHTTP 2.2.1.1.1.1)") from None

    # ------------------------------------------------------------ provisioning

    def provision(self, *, wipe_request: bool = False) -> ProvisionResult:
        """Download and acknowledge the policy (MS-ASPROV 3.1.5.1), or acknowledge a wipe.

        The initial request resets the policy key to 0, so it carries none;
        the acknowledgement carries the temporary key in PolicyKey and in the
        X-MS-PolicyKey header; the final key is kept for later requests.
        """
        version = self.version
        self.state.policy_key = "0"
        request = provision.build_wipe_request() if wipe_request else \
            provision.build_initial(version, self.state.device_info, self.state.user_agent)
        first = self._provision_step(request)
        offer = provision.read_provision(first.xml)
        if offer.remote_wipe or offer.account_only_remote_wipe:
            return self._acknowledge_wipe(first, offer)
        self._check_policy("initial", first, offer)
        self.state.policy_key = offer.policy_key or "0"
        second = self._provision_step(provision.build_acknowledge(version, self.state.policy_key,
                                                                  self.policy_acknowledgement))
        final = provision.read_provision(second.xml)
        if final.remote_wipe or final.account_only_remote_wipe:
            return self._acknowledge_wipe(second, final, [first])
        self._check_policy("acknowledgement", second, final)
        self.state.policy_key = final.policy_key or "0"
        self.save()
        self.last_provision = ProvisionResult(policy_key=self.state.policy_key, policy_type=offer.policy_type,
                                              settings=offer.settings, wap_document=offer.wap_document,
                                              responses=[first, second])
        return self.last_provision

    def _provision_step(self, body: etree._Element) -> EasResponse:
        response = self.send("Provision", body)
        if not response.ok:
            raise HttpFailure(response)
        return response

    @staticmethod
    def _check_policy(phase: str, response: EasResponse, reply: provision.ProvisionReply) -> None:
        if reply.status != 1:
            raise CommandFailed("Provision", reply.status, response, f"{phase} request refused")
        if reply.policy_status != 1 or not reply.policy_key:
            raise CommandFailed("Provision", reply.policy_status, response,
                                f"{phase} request: Policy Status {reply.policy_status}, "
                                f"PolicyKey {reply.policy_key!r} (MS-ASPROV 2.2.2.54.1)")

    def _acknowledge_wipe(self, response: EasResponse, reply: provision.ProvisionReply,
                          earlier: Sequence[EasResponse] = ()) -> ProvisionResult:
        """Acknowledge, then forget the partnership data, as a wiped device would."""
        ack = self._provision_step(provision.build_wipe_acknowledge(
            self.wipe_acknowledgement, account_only=reply.account_only_remote_wipe))
        self.state.wipe()
        self.wiped = True
        self.save()
        self.last_provision = ProvisionResult(policy_key=None, policy_type=reply.policy_type,
                                              remote_wipe=reply.remote_wipe,
                                              account_only_remote_wipe=reply.account_only_remote_wipe,
                                              responses=[*earlier, response, ack])
        return self.last_provision

    # ------------------------------------------------------------ hierarchy

    def folder_sync(self) -> folders.FolderChanges:
        """Bootstrap (key 0) or update the folder hierarchy; Status other than 1 raises."""
        bootstrap = self.state.folder_sync_key == "0"
        response = self.execute("FolderSync", folders.build_folder_sync(self.state.folder_sync_key))
        changes = folders.read_folder_sync(response.xml)
        changes.response = response
        if changes.status != 1 or not changes.sync_key:
            raise CommandFailed("FolderSync", changes.status, response)
        if bootstrap:  # a new hierarchy: old collection keys mean nothing (MS-ASCMD 2.2.1.5)
            self.state.folders.clear()
            self.state.sync_keys.clear()
        for folder in changes.added + changes.updated:
            self.state.folders[folder.server_id] = folder
        for server_id in changes.deleted:
            self.state.folders.pop(server_id, None)
            self.state.sync_keys.pop(server_id, None)
        self.state.folder_sync_key = changes.sync_key
        self.save()
        return changes

    def folder_create(self, parent_id: str, display_name: str, folder_type: int) -> folders.FolderReply:
        response = self.execute("FolderCreate", folders.build_folder_create(
            self.state.folder_sync_key, parent_id, display_name, folder_type))
        reply = self._folder_reply("FolderCreate", response)
        self.state.folders[reply.server_id or ""] = Folder(reply.server_id or "", parent_id, display_name,
                                                           folder_type)
        self.save()
        return reply

    def folder_delete(self, server_id: str) -> folders.FolderReply:
        response = self.execute("FolderDelete", folders.build_folder_delete(self.state.folder_sync_key, server_id))
        reply = self._folder_reply("FolderDelete", response)
        self.state.folders.pop(server_id, None)
        self.state.sync_keys.pop(server_id, None)
        self.save()
        return reply

    def _folder_reply(self, command: str, response: EasResponse) -> folders.FolderReply:
        reply = folders.read_folder_reply(response.xml)
        reply.response = response
        if reply.status != 1:
            raise CommandFailed(command, reply.status, response)
        if reply.sync_key:
            self.state.folder_sync_key = reply.sync_key
        return reply

    # ------------------------------------------------------------ items

    def sync(self, collection_id: str, *, window_size: int | None = None, options: sync.SyncOptions | None = None,
             commands: Sequence[sync.ClientCommand] = (), get_changes: bool = True,
             deletes_as_moves: bool | None = None) -> sync.CollectionReply:
        """Sync one collection. With no key yet this is the initial SyncKey 0
        request, which carries nothing else; later requests ask for changes.

        Status 3 (invalid sync key) resets the key to 0 before raising, as a
        device starts over. An empty response means no changes.
        """
        key = self.state.sync_key(collection_id)
        folder = self.state.folders.get(collection_id)
        item_class = folder.item_class if folder else None
        if key == "0":
            if commands:
                raise ValueError(f"collection {collection_id} has no sync key yet; the initial Sync carries no commands")
            request = sync.SyncCollection(collection_id, "0", item_class=item_class)
        else:
            request = sync.SyncCollection(collection_id, key, item_class=item_class, get_changes=get_changes,
                                          deletes_as_moves=deletes_as_moves, window_size=window_size,
                                          options=options, commands=commands)
        response = self.execute("Sync", sync.build_sync(self.version, [request]))
        whole = sync.read_sync(response.xml)
        reply = whole.collection(collection_id)
        if reply is None:
            if whole.status not in (None, 1):
                raise CommandFailed("Sync", whole.status, response)
            reply = sync.CollectionReply(collection_id=collection_id, sync_key=key, status=None)
        reply.response = response
        if reply.status not in (None, 1):
            if reply.status == 3:
                self.state.sync_keys[collection_id] = "0"
                self.save()
            raise CommandFailed("Sync", reply.status, response, f"collection {collection_id}")
        if reply.sync_key:
            self.state.sync_keys[collection_id] = reply.sync_key
            self.save()
        return reply

    def sync_all(self, folder_types: Iterable[int] = (FolderType.INBOX,), *, window_size: int = 100,
                 options: sync.SyncOptions | None = None) -> dict[str, list[sync.SyncItem]]:
        """FolderSync, then sync every folder of the given types to the end.

        Returns the items the server sent (Add and Change), by folder
        ServerId. Follows MoreAvailable for at most ``max_sync_rounds``
        requests per folder, then raises SyncIncomplete.
        """
        self.folder_sync()
        found: dict[str, list[sync.SyncItem]] = {}
        for folder in self.state.folders_of_type(*folder_types):
            cid = folder.server_id
            found[cid] = []
            if self.state.sync_key(cid) == "0":
                initial = self.sync(cid)
                found[cid] += initial.added + initial.changed
            for _ in range(self.max_sync_rounds):
                reply = self.sync(cid, window_size=window_size, options=options)
                found[cid] += reply.added + reply.changed
                if not reply.more_available:
                    break
            else:
                raise SyncIncomplete(cid, self.max_sync_rounds)
        return found

    def get_item_estimate(self, collection_ids: Iterable[str], *, filter_type: int | None = None) -> estimate.EstimateReply:
        requests = []
        for cid in collection_ids:
            folder = self.state.folders.get(cid)
            requests.append(estimate.EstimateCollection(cid, self.state.sync_key(cid),
                                                        folder.item_class if folder else None, filter_type))
        response = self.execute("GetItemEstimate", estimate.build_get_item_estimate(self.version, requests))
        reply = estimate.read_get_item_estimate(response.xml)
        reply.response = response
        return reply

    def ping(self, collection_ids: Iterable[str], heartbeat_interval: int = 480) -> ping.PingReply:
        """Direct push: the HTTP timeout is the heartbeat plus a minute, as the server holds the request."""
        watched = [(cid, self._item_class(cid)) for cid in collection_ids]
        response = self.execute("Ping", ping.build_ping(heartbeat_interval, watched),
                                timeout=heartbeat_interval + 60)
        reply = ping.read_ping(response.xml)
        reply.response = response
        return reply

    def fetch(self, *requests: items.FetchRequest, accept_multipart: bool = False) -> items.ItemOperationsReply:
        """ItemOperations Fetch; with ``accept_multipart`` the content arrives as binary parts."""
        response = self.execute("ItemOperations", items.build_item_operations(requests),
                                accept_multipart=accept_multipart)
        reply = items.read_item_operations(response.xml, response.parts)
        reply.response = response
        return reply

    def move_items(self, *moves: items.MoveRequest) -> items.MoveItemsReply:
        response = self.execute("MoveItems", items.build_move_items(moves))
        reply = items.read_move_items(response.xml)
        reply.response = response
        return reply

    def meeting_response(self, user_response: int, **target: str) -> items.MeetingResponseReply:
        """``target`` is collection_id + request_id, or long_id; instance_id optional (14.1+)."""
        response = self.execute("MeetingResponse", items.build_meeting_response(user_response, **target))
        reply = items.read_meeting_response(response.xml)
        reply.response = response
        return reply

    # ------------------------------------------------------------ mail, settings, search

    def send_mail(self, mime: bytes, *, save_in_sent: bool = True, client_id: str | None = None) -> EasResponse:
        """14.0+: WBXML with ComposeMail:Mime; 2.5/12.x: the raw message, ``SaveInSent=T``.

        Success is an empty body; a Status in the body is a failure and raises.
        """
        if at_least(self.version, "14.0"):
            body = mail.build_send_mail(client_id or uuid.uuid4().hex, mime, save_in_sent=save_in_sent)
            response = self.execute("SendMail", body)
        else:
            response = self.execute("SendMail", mime, content_type="message/rfc822", save_in_sent=save_in_sent)
        if response.root_status not in (None, 1):
            raise CommandFailed("SendMail", response.root_status, response)
        return response

    def settings(self, *parts: etree._Element) -> settings.SettingsReply:
        response = self.execute("Settings", settings.build_settings(*parts))
        reply = settings.read_settings(response.xml)
        reply.response = response
        return reply

    def send_device_information(self) -> settings.SettingsReply:
        """Settings DeviceInformation Set, from the state's device_info and user agent."""
        return self.settings(settings.device_information(self.state.device_info, self.state.user_agent,
                                                         self.version))

    def user_information(self) -> settings.SettingsReply:
        return self.settings(settings.user_information_get())

    def search_gal(self, query: str, range_: str = "0-99") -> search.SearchReply:
        return self._search(search.build_search_gal(query, range_))

    def search_mailbox(self, query: str, **options) -> search.SearchReply:
        """Options as ``commands.search.build_search_mailbox`` takes them."""
        return self._search(search.build_search_mailbox(query, **options))

    def _search(self, body: etree._Element) -> search.SearchReply:
        response = self.execute("Search", body)
        reply = search.read_search(response.xml)
        reply.response = response
        return reply

    def resolve_recipients(self, to: Sequence[str], **options) -> search.ResolveRecipientsReply:
        response = self.execute("ResolveRecipients", search.build_resolve_recipients(to, **options))
        reply = search.read_resolve_recipients(response.xml)
        reply.response = response
        return reply

    def _item_class(self, collection_id: str) -> str:
        folder = self.state.folders.get(collection_id)
        if folder is None or folder.item_class is None:
            raise ValueError(f"collection {collection_id} is not a known folder with an item class; run FolderSync")
        return folder.item_class
