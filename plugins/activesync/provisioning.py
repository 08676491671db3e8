"""The gate before every command: is this device provisioned, and is a wipe waiting?

MS-ASPROV 3.2.5.1: a device whose policy key is missing, stale or wrong must
provision first. Protocol 2.5 to 12.1 hear HTTP 449 (MS-ASPROV product note:
"When the MS-ASProtocolVersion header is set to 12.1, the server sends an
HTTP 449"); 14.0 and later hear status 142 (no key), 143 (policy changed or
refresh due) or 144 (unknown key) in the command's response. A pending
remote wipe is announced the same way, as 449 or status 140. Ping carries no
policy key (MS-ASPROV 3.1.5.1), so only the wipe applies to it.

A device that never sends a policy key at all cannot provision (a Windows
Mobile 5 device without the Messaging and Security Feature Pack, protocol
below 2.5); "Allow access to devices that do not fully support password
settings" decides whether it may sync (else status 141, HTTP 403 before 14.0).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from plugins.activesync.context import CommandContext
from plugins.activesync.errors import CommonStatus
from plugins.activesync.partnership import WIPE_PENDING, now
from plugins.activesync.personas import V2_5

EXEMPT = frozenset({"Provision"})
NO_POLICY_KEY = frozenset({"Ping"})


def check(ctx: CommandContext, command: str) -> None:
    """Raise the CommonStatus that sends the device to Provision, or return."""
    if command in EXEMPT:
        return
    partnership = ctx.partnership
    if partnership.wipe_status == WIPE_PENDING:
        raise CommonStatus(140, "a remote wipe was requested for this device")
    if command in NO_POLICY_KEY or not ctx.policy.enforced(ctx.persona):
        return
    key = ctx.query.policy_key
    if key is None:
        if ctx.policy.allow_non_provisionable:
            return
        if ctx.version < V2_5:
            raise CommonStatus(141, "the device cannot provision and the policy does not allow such devices")
        # 14.0 names the case (141); before 14.0 the device is simply sent to provision (449).
        code = 141 if ctx.version.major >= 14 else 142
        raise CommonStatus(code, "the device sent no policy key and the policy does not allow that")
    if key == 0 or not partnership.policy_key:
        raise CommonStatus(142, "the device is not provisioned")
    if key != partnership.policy_key:
        raise CommonStatus(144, "the device's policy key is not the one this server issued")
    if partnership.policy_fingerprint != ctx.policy.fingerprint:
        raise CommonStatus(143, "the policy changed since the device provisioned")
    if ctx.policy.refresh_hours and partnership.provisioned_at:
        due = datetime.fromisoformat(partnership.provisioned_at) + timedelta(hours=ctx.policy.refresh_hours)
        if now() >= due:
            raise CommonStatus(143, "the policy refresh interval has passed")
