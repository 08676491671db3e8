"""Provision (MS-ASPROV): policy download, acknowledgement, and remote wipe.

Phase 1 (no PolicyKey in the request) hands out the policy with a temporary
key; phase 2 acknowledges that key and receives the final one, which the
device then sends in ``X-MS-PolicyKey``. A pending remote wipe replaces the
policy with ``RemoteWipe`` (MS-ASPROV 3.2.5.1.1); the device's acknowledgement
is recorded on the partnership (MS-ASPROV 3.2.5.1.2.2).
"""
from __future__ import annotations

from lxml import etree

from plugins.activesync.context import CommandContext
from plugins.activesync.errors import CommonStatus
from plugins.activesync.partnership import (
    POLICY_APPLIED,
    POLICY_EXTERNAL,
    POLICY_NOT_APPLIED,
    POLICY_PARTIAL,
    WIPE_FAILED,
    WIPE_PENDING,
    WIPE_SUCCEEDED,
    now,
)
from plugins.activesync.personas import V12_0
from plugins.activesync.policy import (
    WAP_POLICY_TYPE,
    WBXML_POLICY_TYPE,
    eas_provision_doc,
    new_policy_key,
    wap_provisioning_xml,
)
from plugins.activesync.wbxml import element

NAME = "Provision"
ROOT = "Provision:Provision"
P, S = "{Provision}", "{Settings}"

# MS-ASPROV 2.2.2.54.1, Policy Status in a response.
POLICY_OK, POLICY_UNKNOWN_TYPE, POLICY_WRONG_KEY = 1, 3, 5
# ... and in a request (the device's verdict on the policy).
_APPLIED = {"1": POLICY_APPLIED, "2": POLICY_PARTIAL, "3": POLICY_NOT_APPLIED, "4": POLICY_EXTERNAL}


def _response(ctx: CommandContext, request: etree._Element, status: int, *rest: etree._Element) -> etree._Element:
    root = element(ROOT)
    if request.find(f"{S}DeviceInformation") is not None:
        root.append(element("Settings:DeviceInformation", None, element("Settings:Status", "1")))
    root.append(element("Provision:Status", str(status)))
    root.extend(rest)
    return root


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    if request is None:
        return element(ROOT, None, element("Provision:Status", "2"))
    partnership = ctx.partnership
    wipe_ack = request.find(f"{P}RemoteWipe")
    if wipe_ack is not None:
        succeeded = (wipe_ack.findtext(f"{P}Status") or "").strip() == "1"
        partnership.wipe_status = WIPE_SUCCEEDED if succeeded else WIPE_FAILED
        partnership.wipe_acknowledged = now().isoformat(timespec="seconds")
        ctx.partnership_dirty = True
        if succeeded:
            return _response(ctx, request, 1)
        partnership.wipe_status = WIPE_PENDING  # MS-ASPROV 3.2.5.1.2.2: failed, so ask again
        return _response(ctx, request, 2, element("Provision:RemoteWipe"))
    if partnership.wipe_status == WIPE_PENDING:
        return _response(ctx, request, 1, element("Provision:RemoteWipe"))
    policy_el = request.find(f"{P}Policies/{P}Policy")
    if policy_el is None:
        return _response(ctx, request, 2)
    policy_type = (policy_el.findtext(f"{P}PolicyType") or "").strip()
    expected = WBXML_POLICY_TYPE if ctx.version >= V12_0 else WAP_POLICY_TYPE
    if policy_type != expected:
        return _response(ctx, request, 1, _policies(policy_type, POLICY_UNKNOWN_TYPE))
    key_text = policy_el.findtext(f"{P}PolicyKey")
    if key_text is None:
        return _download(ctx, request, policy_type)
    return _acknowledge(ctx, request, policy_type, key_text.strip(), (policy_el.findtext(f"{P}Status") or "").strip())


def _policies(policy_type: str, status: int, key: int | None = None, data: etree._Element | None = None):
    policy = element("Provision:Policy", None, element("Provision:PolicyType", policy_type),
                     element("Provision:Status", str(status)))
    if key is not None:
        policy.append(element("Provision:PolicyKey", str(key)))
    if data is not None:
        policy.append(data)
    return element("Provision:Policies", None, policy)


def _download(ctx: CommandContext, request: etree._Element, policy_type: str) -> etree._Element:
    """Phase 1: the policy document and a temporary key."""
    key = new_policy_key()
    ctx.partnership.pending_policy_key = key
    ctx.partnership_dirty = True
    if policy_type == WAP_POLICY_TYPE:
        data = element("Provision:Data", wap_provisioning_xml(ctx.policy))
    else:
        data = element("Provision:Data", None, eas_provision_doc(ctx.policy, ctx.version))
    return _response(ctx, request, 1, _policies(policy_type, POLICY_OK, key, data))


def _acknowledge(ctx: CommandContext, request: etree._Element, policy_type: str, key_text: str,
                 verdict: str) -> etree._Element:
    """Phase 2: the device says how it applied the policy of the temporary key."""
    partnership = ctx.partnership
    if not key_text.isdigit() or int(key_text) != partnership.pending_policy_key or not partnership.pending_policy_key:
        return _response(ctx, request, 1, _policies(policy_type, POLICY_WRONG_KEY))
    applied = _APPLIED.get(verdict, POLICY_NOT_APPLIED)
    if applied in (POLICY_PARTIAL, POLICY_NOT_APPLIED) and ctx.policy.enforced(ctx.persona) \
            and not ctx.policy.allow_non_provisionable:
        raise CommonStatus(139, "the device cannot apply the whole policy and the policy requires it")
    final = new_policy_key()
    partnership.policy_key = final
    partnership.pending_policy_key = 0
    partnership.policy_fingerprint = ctx.policy.fingerprint
    partnership.policy_status = applied
    partnership.provisioned_at = now().isoformat(timespec="seconds")
    ctx.partnership_dirty = True
    return _response(ctx, request, 1, _policies(policy_type, POLICY_OK, final))
