"""Provision: download the policy, acknowledge it, acknowledge a remote wipe (MS-ASPROV)."""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ..response import EasResponse
from ..state import DeviceInformation
from ..versions import at_least
from .settings import device_information
from .tree import leaf, node, number, text

#: MS-ASPROV 2.2.2.43: 2.5 asks for the WAP provisioning XML, 12.0+ for the WBXML document.
WAP_POLICY = "MS-WAP-Provisioning-XML"
EAS_POLICY = "MS-EAS-Provisioning-WBXML"


def policy_type(version: str) -> str:
    return EAS_POLICY if at_least(version, "12.0") else WAP_POLICY


def build_initial(version: str, info: DeviceInformation, user_agent: str) -> etree._Element:
    """Phase 1 (MS-ASPROV 3.1.5.1.1).

    With 14.1 and 16.x the request MUST carry settings:DeviceInformation with
    at least Model; with 12.x and 14.0 it MUST NOT (MS-ASPROV 2.2.2.53).
    """
    info_node = device_information(info, user_agent, version) if at_least(version, "14.1") else None
    return node("Provision:Provision", info_node, node(
        "Provision:Policies", node("Provision:Policy", leaf("Provision:PolicyType", policy_type(version)))))


def build_acknowledge(version: str, temporary_key: str, status: int = 1) -> etree._Element:
    """Phase 2 (MS-ASPROV 3.1.5.1.2.1): PolicyType, then PolicyKey before Status (2.2.2.41)."""
    return node("Provision:Provision", node("Provision:Policies", node(
        "Provision:Policy",
        leaf("Provision:PolicyType", policy_type(version)),
        leaf("Provision:PolicyKey", temporary_key),
        leaf("Provision:Status", status))))


def build_wipe_request() -> etree._Element:
    """After common Status 140 the initial request SHOULD be an empty Provision (3.1.5.1.1)."""
    return node("Provision:Provision")


def build_wipe_acknowledge(status: int = 1, *, account_only: bool = False) -> etree._Element:
    """MS-ASPROV 3.1.5.1.2.2 / 3.1.5.1.2.3: Status 1 = wiped, 2 = wipe failed."""
    tag = "Provision:AccountOnlyRemoteWipe" if account_only else "Provision:RemoteWipe"
    return node("Provision:Provision", node(tag, leaf("Provision:Status", status)))


@dataclass
class ProvisionReply:
    """What one Provision response said."""

    status: int | None
    policy_type: str | None = None
    policy_status: int | None = None
    policy_key: str | None = None
    settings: dict[str, str | None] = field(default_factory=dict)
    wap_document: str | None = None
    remote_wipe: bool = False
    account_only_remote_wipe: bool = False
    device_information_status: int | None = None
    response: EasResponse | None = field(default=None, repr=False)


def read_provision(root: etree._Element | None) -> ProvisionReply:
    """Read Status, the policy (WBXML settings or the 2.5 WAP document) and wipe directives."""
    if root is None:
        return ProvisionReply(status=None)
    policy = root.find("{Provision}Policies/{Provision}Policy")
    data = None if policy is None else policy.find("{Provision}Data")
    doc = None if data is None else data.find("{Provision}EASProvisionDoc")
    settings = {etree.QName(el).localname: el.text for el in doc} if doc is not None else {}
    wap = data.text if data is not None and doc is None else None
    device = root.find("{Settings}DeviceInformation")
    return ProvisionReply(
        status=number(root, "Provision:Status"),
        policy_type=text(policy, "Provision:PolicyType"),
        policy_status=number(policy, "Provision:Status"),
        policy_key=text(policy, "Provision:PolicyKey"),
        settings=settings,
        wap_document=wap,
        remote_wipe=root.find("{Provision}RemoteWipe") is not None,
        account_only_remote_wipe=root.find("{Provision}AccountOnlyRemoteWipe") is not None,
        device_information_status=number(device, "Settings:Status"),
    )
