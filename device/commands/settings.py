"""Settings: tell the server about the device, ask it about the user (MS-ASCMD 2.2.1.18)."""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ..response import EasResponse
from ..state import DeviceInformation
from ..versions import at_least
from .tree import children, leaf, node, number, text


def device_information(info: DeviceInformation, user_agent: str, version: str) -> etree._Element:
    """``Settings:DeviceInformation/Set`` in schema order; elements a version lacks are left out.

    UserAgent arrived with 12.1, EnableOutboundSMS and MobileOperator with
    14.0 (MS-ASWBXML 2.1.2.1.19).
    """
    sms = None if info.enable_outbound_sms is None else int(info.enable_outbound_sms)
    return node("Settings:DeviceInformation", node(
        "Settings:Set",
        leaf("Settings:Model", info.model),
        leaf("Settings:IMEI", info.imei),
        leaf("Settings:FriendlyName", info.friendly_name),
        leaf("Settings:OS", info.os),
        leaf("Settings:OSLanguage", info.os_language),
        leaf("Settings:PhoneNumber", info.phone_number),
        leaf("Settings:UserAgent", user_agent) if at_least(version, "12.1") else None,
        leaf("Settings:EnableOutboundSMS", sms) if at_least(version, "14.0") else None,
        leaf("Settings:MobileOperator", info.mobile_operator) if at_least(version, "14.0") else None,
    ))


def build_settings(*parts: etree._Element) -> etree._Element:
    """A Settings request carrying the given property nodes."""
    return node("Settings:Settings", *parts)


def user_information_get() -> etree._Element:
    return node("Settings:UserInformation", node("Settings:Get"))


@dataclass
class SettingsReply:
    status: int | None
    device_information_status: int | None
    user_information_status: int | None
    smtp_addresses: list[str] = field(default_factory=list)
    primary_smtp_address: str | None = None
    response: EasResponse | None = field(default=None, repr=False)


def read_settings(root: etree._Element | None) -> SettingsReply:
    """Status per property node; SMTP addresses from UserInformation (flat in 12.x/14.0, Accounts in 14.1+)."""
    device = root.find("{Settings}DeviceInformation") if root is not None else None
    user = root.find("{Settings}UserInformation") if root is not None else None
    addresses = [] if user is None else list(user.iter("{Settings}EmailAddresses"))
    smtp = [a.text or "" for group in addresses for a in children(group, "Settings:SMTPAddress")]
    primary = next((text(group, "Settings:PrimarySmtpAddress") for group in addresses
                    if text(group, "Settings:PrimarySmtpAddress")), None)
    return SettingsReply(status=number(root, "Settings:Status"),
                         device_information_status=number(device, "Settings:Status"),
                         user_information_status=number(user, "Settings:Status"),
                         smtp_addresses=smtp, primary_smtp_address=primary)
