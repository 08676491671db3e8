"""easlab's device: an Exchange ActiveSync client written from the open specifications.

It drives the lab host like a phone (tests, device profiles, the
connectivity analyzer), so it reports exactly what happened: HTTP status and
headers, EAS Status values, TLS failures with the WinInet codes a Windows
Mobile device shows.

    state = DeviceState.new("https://mail.contoso.com/Microsoft-Server-ActiveSync", "CONTOSO\\\\alice")
    with DeviceSession(state, BasicAuth("CONTOSO\\\\alice", "..."), tls=TlsSettings(ca_file="lab-ca.pem")) as phone:
        items = phone.sync_all([FolderType.INBOX])
"""
from __future__ import annotations

from .auth import BasicAuth, NtlmAuth
from .commands.items import FetchRequest, MoveRequest
from .commands.sync import Add, Change, Delete, Fetch, SyncOptions
from .errors import (
    CommandFailed,
    EasError,
    HttpFailure,
    ProtocolError,
    SyncIncomplete,
    TlsError,
    TlsFailure,
    TransportError,
)
from .response import EasResponse, SentRequest
from .session import DeviceSession, ProvisionResult
from .state import DeviceInformation, DeviceState, Folder, FolderType
from .tls import PeerCertificate, TlsInfo, TlsSettings, refuse_wildcard_names
from .versions import SUPPORTED_VERSIONS

__all__ = [
    "SUPPORTED_VERSIONS",
    "Add",
    "BasicAuth",
    "Change",
    "CommandFailed",
    "Delete",
    "DeviceInformation",
    "DeviceSession",
    "DeviceState",
    "EasError",
    "EasResponse",
    "Fetch",
    "FetchRequest",
    "Folder",
    "FolderType",
    "HttpFailure",
    "MoveRequest",
    "NtlmAuth",
    "PeerCertificate",
    "ProtocolError",
    "ProvisionResult",
    "SentRequest",
    "SyncIncomplete",
    "SyncOptions",
    "TlsError",
    "TlsFailure",
    "TlsInfo",
    "TlsSettings",
    "TransportError",
    "refuse_wildcard_names",
]
