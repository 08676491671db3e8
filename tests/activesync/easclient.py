"""A small EAS test client written from MS-ASHTTP/MS-ASCMD, over WebTest or real HTTP.

It knows just enough to drive the server the way a device does: OPTIONS,
the two query forms, policy keys, WBXML bodies, gzip. Tests build request
bodies with :func:`el` (``el("AirSync:SyncKey", "0")``) and read answers
with :meth:`Answer.find` / :meth:`Answer.text`.
"""
from __future__ import annotations

import base64
import gzip
import http.client
from dataclasses import dataclass, field

from lxml import etree

from plugins.activesync.query import EasQuery, encode_query
from plugins.activesync.wbxml import decode, element, encode

el = element
NS = {"as": "AirSync", "fh": "FolderHierarchy", "p": "Provision", "ping": "Ping", "gie": "GetItemEstimate",
      "email": "Email", "asb": "AirSyncBase", "cal": "Calendar", "c": "Contacts", "t": "Tasks", "n": "Notes",
      "s": "Settings"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    root: etree._Element | None = None

    def find(self, path: str) -> etree._Element | None:
        return self.root.find(path, NS) if self.root is not None else None

    def findall(self, path: str) -> list[etree._Element]:
        return self.root.findall(path, NS) if self.root is not None else []

    def text(self, path: str) -> str | None:
        found = self.find(path)
        return found.text if found is not None else None


class WebTestWire:
    """In-process: requests through the whole pipeline via WebTest."""

    def __init__(self, app) -> None:
        self.app = app

    def request(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        response = self.app.request(url, method=method, headers=headers, body=body, expect_errors=True)
        return response.status_int, {k.lower(): v for k, v in response.headers.items()}, response.body


class HttpWire:
    """A real keep-alive HTTP connection, as a device holds one."""

    def __init__(self, host: str, port: int, timeout: float = 30) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def request(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, url, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()


@dataclass
class EasClient:
    wire: object
    user: str = "CONTOSO\\alice"
    password: str = "P@ssw0rd"
    device_id: str = "TESTDEVICE01"
    device_type: str = "PocketPC"
    version: str = "14.1"
    policy_key: int | None = 0
    encoded_query: bool = False
    gzip: bool = False
    user_agent: str = "easlab-test/1.0"
    extra_headers: dict[str, str] = field(default_factory=dict)

    def _auth(self) -> str:
        return "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()

    def options(self) -> Answer:
        status, headers, body = self.wire.request("OPTIONS", "/Microsoft-Server-ActiveSync",
                                                  {"Authorization": self._auth()}, b"")
        return Answer(status, headers, body)

    def url(self, command: str, **parameters: str) -> str:
        if self.encoded_query:
            query = EasQuery(command=command, user=self.user.split("\\")[-1], device_id=self.device_id,
                             device_type=self.device_type, protocol_version=self.version,
                             policy_key=self.policy_key, parameters=parameters)
            return "/Microsoft-Server-ActiveSync?" + encode_query(query)
        params = "&".join(f"{k}={v}" for k, v in parameters.items())
        return (f"/Microsoft-Server-ActiveSync?Cmd={command}&User={self.user.split(chr(92))[-1]}"
                f"&DeviceId={self.device_id}&DeviceType={self.device_type}" + (f"&{params}" if params else ""))

    def post(self, command: str, root: etree._Element | None = None, *, raw: bytes | None = None,
             url: str | None = None) -> Answer:
        body = raw if raw is not None else (encode(root) if root is not None else b"")
        headers = {"Authorization": self._auth(), "User-Agent": self.user_agent,
                   "Content-Type": "application/vnd.ms-sync.wbxml", **self.extra_headers}
        if not self.encoded_query:
            headers["MS-ASProtocolVersion"] = self.version
            if self.policy_key is not None:
                headers["X-MS-PolicyKey"] = str(self.policy_key)
        if self.gzip:
            headers["Accept-Encoding"] = "gzip"
        status, response_headers, data = self.wire.request("POST", url or self.url(command), headers, body)
        if response_headers.get("content-encoding") == "gzip":
            data = gzip.decompress(data)
        answer = Answer(status, response_headers, data)
        if data and response_headers.get("content-type", "").startswith("application/vnd.ms-sync.wbxml"):
            answer.root = decode(data)
        return answer

    # -- the usual conversations ---------------------------------------------------

    def provision(self) -> Answer:
        """Both phases; keeps the final key. Returns the acknowledgement's answer."""
        policy_type = "MS-WAP-Provisioning-XML" if self.version in ("2.5",) else "MS-EAS-Provisioning-WBXML"
        first = self.post("Provision", el("Provision:Provision", None, el("Provision:Policies", None, el(
            "Provision:Policy", None, el("Provision:PolicyType", policy_type)))))
        assert first.status == 200, first.status
        temporary = first.text("p:Policies/p:Policy/p:PolicyKey")
        second = self.post("Provision", el("Provision:Provision", None, el("Provision:Policies", None, el(
            "Provision:Policy", None, el("Provision:PolicyType", policy_type),
            el("Provision:PolicyKey", temporary), el("Provision:Status", "1")))))
        self.policy_key = int(second.text("p:Policies/p:Policy/p:PolicyKey"))
        second.first = first  # type: ignore[attr-defined]
        return second

    def folder_sync(self, key: str = "0") -> Answer:
        return self.post("FolderSync", el("FolderHierarchy:FolderSync", None, el("FolderHierarchy:SyncKey", key)))

    def folder_id(self, answer: Answer, folder_type: int) -> str:
        for add in answer.findall("fh:Changes/fh:Add"):
            if add.findtext("{FolderHierarchy}Type") == str(folder_type):
                return add.findtext("{FolderHierarchy}ServerId")
        raise AssertionError(f"no folder of type {folder_type}")

    def sync(self, collection_id: str, key: str, *, window: int | None = None, commands=None,
             options: list[etree._Element] | None = None, get_changes: bool | None = None,
             klass: str | None = None, extra: list[etree._Element] | None = None) -> Answer:
        collection = el("AirSync:Collection")
        if klass is not None and self.version in ("2.5", "12.0", "12.1"):
            collection.append(el("AirSync:Class", klass))
        collection.append(el("AirSync:SyncKey", key))
        collection.append(el("AirSync:CollectionId", collection_id))
        if get_changes is not None:
            collection.append(el("AirSync:GetChanges", "1" if get_changes else "0"))
        if window is not None:
            collection.append(el("AirSync:WindowSize", str(window)))
        if options:
            collection.append(el("AirSync:Options", None, *options))
        if commands:
            collection.append(el("AirSync:Commands", None, *commands))
        root = el("AirSync:Sync", None, el("AirSync:Collections", None, collection), *(extra or []))
        return self.post("Sync", root)

    def ping(self, heartbeat: int | None, folders: list[tuple[str, str]] | None) -> Answer:
        root = el("Ping:Ping")
        if heartbeat is not None:
            root.append(el("Ping:HeartbeatInterval", str(heartbeat)))
        if folders is not None:
            root.append(el("Ping:Folders", None, *(el("Ping:Folder", None, el("Ping:Id", fid), el("Ping:Class", c))
                                                  for fid, c in folders)))
        return self.post("Ping", root)
