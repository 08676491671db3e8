"""The ``&Log=`` usage field MASSYNC appends to cs-uri-query of its W3C log line.

Exchange 2007 and later log one underscore-separated field per request so
an administrator can read, from the IIS log alone, which protocol version
ran and what it cost. The fields written here:

=============  ==============================================================
``V121``       protocol version of the request (V25, V121, V141, V161)
``Sst2``       sync state blobs read from the mailbox
``LdapC0``     directory lookups MASSYNC itself made (the pipeline's do not count)
``LdapL0``     their latency in ms
``RpcC12``     mailbox round trips (store calls, or hop requests in 2003)
``RpcL15``     their total latency in ms
``Fc3``        folders in a Ping or Sync request
``Hb480``      heartbeat (Ping) or wait (Sync) in seconds
``S1``         the command's final status (Sync: worst collection status)
``Pk1``        the request carried a policy key (``Pk0``: none)
``Error:X``    why a request failed, in MS-ASCMD vocabulary (``Error:InvalidWBXML``)
=============  ==============================================================
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class UsageLog:
    version: str = ""
    state_reads: int = 0
    ldap_calls: int = 0
    ldap_ms: int = 0
    mailbox_calls: int = 0
    mailbox_ms: int = 0
    folders: int | None = None
    heartbeat: int | None = None
    status: int | None = None
    policy_key: bool | None = None
    error: str = ""
    started: float = field(default_factory=time.perf_counter)

    def field(self) -> str:
        """The text for ``RequestLog.query_suffix``."""
        parts = [self.version] if self.version else []
        parts += [f"Sst{self.state_reads}", f"LdapC{self.ldap_calls}", f"LdapL{self.ldap_ms}",
                  f"RpcC{self.mailbox_calls}", f"RpcL{self.mailbox_ms}"]
        if self.folders is not None:
            parts.append(f"Fc{self.folders}")
        if self.heartbeat is not None:
            parts.append(f"Hb{self.heartbeat}")
        if self.status is not None:
            parts.append(f"S{self.status}")
        if self.policy_key is not None:
            parts.append(f"Pk{int(self.policy_key)}")
        if self.error:
            parts.append(f"Error:{self.error}")
        return "&Log=" + "_".join(parts) + "_"
