"""The mobile device security policy and the two documents that carry it (MS-ASPROV).

The policy is the Exchange 2003 SP2 "Device Security" settings of Exchange
System Manager (PITFALLS §3.7), read from registry.ini under
``[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Exchange\\MobileServices\\DeviceSecurity]``
on every request, so a changed policy reaches devices as a policy refresh.
Protocol 2.5 receives it as ``MS-WAP-Provisioning-XML`` (MS-ASPROV 2.2.2.24.2),
12.0 and later as the ``MS-EAS-Provisioning-WBXML`` EASProvisionDoc
(MS-ASPROV 2.2.2.28); later personas fill the settings Exchange 2003 did not
know with the defaults of Exchange 2010's Default policy.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import astuple, dataclass
from xml.sax.saxutils import quoteattr

from lxml import etree

from plugins.activesync.personas import V12_1, Persona, ProtocolVersion
from plugins.activesync.wbxml import element

DEVICE_SECURITY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Exchange\MobileServices\DeviceSecurity"
WAP_POLICY_TYPE = "MS-WAP-Provisioning-XML"
WBXML_POLICY_TYPE = "MS-EAS-Provisioning-WBXML"

# The registry values of the policy: name, default, help (plugin.py makes rows of them).
SETTINGS: tuple[tuple[str, int, str], ...] = (
    ("DevicePasswordEnabled", 0, "Enforce password on device (ESM Device Security); off by default. "
                                 "Nothing else applies until it is on."),
    ("MinDevicePasswordLength", 4, "Minimum password length, 4-18 characters."),
    ("AlphanumericDevicePasswordRequired", 0, "Require both numbers and letters."),
    ("MaxInactivityTimeDeviceLock", 0, "Minutes without user input before the device locks; 0 = off "
                                       "(ESM suggests 5 when ticked)."),
    ("MaxDevicePasswordFailedAttempts", 0, "Wipe the device after this many failed attempts; 0 = off "
                                           "(ESM suggests 8 when ticked)."),
    ("DevicePolicyRefreshInterval", 0, "Hours after which devices must fetch the policy again; 0 = off "
                                       "(ESM suggests 24 when ticked)."),
    ("AllowNonProvisionableDevices", 1, "Allow access to devices that do not fully support the password "
                                        "settings (that never send a policy key)."),
)


@dataclass(frozen=True)
class DevicePolicy:
    password_enabled: bool
    min_password_length: int
    alphanumeric_required: bool
    inactivity_minutes: int
    max_failed_attempts: int
    refresh_hours: int
    allow_non_provisionable: bool

    @classmethod
    def from_config(cls, config) -> DevicePolicy:
        value = lambda name: config.registry_value(DEVICE_SECURITY, name)  # noqa: E731
        return cls(
            password_enabled=bool(value("DevicePasswordEnabled")),
            min_password_length=max(1, int(value("MinDevicePasswordLength"))),
            alphanumeric_required=bool(value("AlphanumericDevicePasswordRequired")),
            inactivity_minutes=int(value("MaxInactivityTimeDeviceLock")),
            max_failed_attempts=int(value("MaxDevicePasswordFailedAttempts")),
            refresh_hours=int(value("DevicePolicyRefreshInterval")),
            allow_non_provisionable=bool(value("AllowNonProvisionableDevices")),
        )

    def enforced(self, persona: Persona) -> bool:
        """Must devices provision? Exchange 2003 SP2 asked only with "Enforce password"
        ticked; Exchange 2010 and later always apply their Default policy."""
        return self.password_enabled or persona.default_policy_enforced

    @property
    def fingerprint(self) -> str:
        """Changes whenever a setting the device applies changes (a policy refresh, 143/449)."""
        return hashlib.sha1(repr(astuple(self)[:6]).encode()).hexdigest()[:16]


def new_policy_key() -> int:
    """A random non-zero 32-bit policy key (MS-ASPROV 2.2.2.42)."""
    return secrets.randbelow(0xFFFFFFFF) + 1


def wap_provisioning_xml(policy: DevicePolicy) -> str:
    """MS-ASPROV 2.2.2.24.2: the SecurityPolicy and Registry characteristics Windows Mobile applies.

    4131 is 0 when a password is required. DeviceWipeThreshold -1 and
    AEFrequencyType 0 switch wipe and lock off; PasswordComplexity 0 asks for
    an alphanumeric password, 2 allows a simple PIN. CodewordFrequency (the
    failed attempts before the device asks for a displayed codeword) is half
    the wipe threshold, which Exchange's exact choice is unverified.
    """
    lassd = r"HKLM\Comm\Security\Policy\LASSD"
    wipe = policy.max_failed_attempts if policy.max_failed_attempts else -1
    parms = [
        ("SecurityPolicy", [("4131", 0 if policy.password_enabled else 1)]),
        (lassd + r"\AE\{50C13377-C66D-400C-889E-C316FC4AB374}",
         [("AEFrequencyType", 1 if policy.inactivity_minutes else 0),
          ("AEFrequencyValue", policy.inactivity_minutes or 0)]),
        (lassd, [("DeviceWipeThreshold", wipe)]),
        (lassd, [("CodewordFrequency", max(1, wipe // 2) if wipe > 0 else -1)]),
        (lassd + r"\LAP\lap_pw", [("MinimumPasswordLength", policy.min_password_length)]),
        (lassd + r"\LAP\lap_pw", [("PasswordComplexity", 0 if policy.alphanumeric_required else 2)]),
    ]
    out = ["<wap-provisioningdoc>"]
    (_, security), registry = parms[0], parms[1:]
    out.append('<characteristic type="SecurityPolicy">')
    out += [f"<parm name={quoteattr(n)} value={quoteattr(str(v))}/>" for n, v in security]
    out.append("</characteristic>")
    out.append('<characteristic type="Registry">')
    for key, values in registry:
        out.append(f"<characteristic type={quoteattr(key)}>")
        out += [f"<parm name={quoteattr(n)} value={quoteattr(str(v))}/>" for n, v in values]
        out.append("</characteristic>")
    out.append("</characteristic>")
    out.append("</wap-provisioningdoc>")
    return "".join(out)


def eas_provision_doc(policy: DevicePolicy, version: ProtocolVersion) -> etree._Element:
    """MS-ASPROV 2.2.2.28 EASProvisionDoc, children in schema order.

    Limits that are off are left out (no element: no limit). Times are in
    seconds here, unlike the WAP document's minutes.
    """
    on = policy.password_enabled
    values: list[tuple[str, object]] = [
        ("DevicePasswordEnabled", int(on)),
        ("AlphanumericDevicePasswordRequired", int(on and policy.alphanumeric_required)),
        ("PasswordRecoveryEnabled", 0),
    ]
    if version >= V12_1:
        values.append(("RequireStorageCardEncryption", 0))
    values.append(("AttachmentsEnabled", 1))
    if on:
        values.append(("MinDevicePasswordLength", policy.min_password_length))
        if policy.inactivity_minutes:
            values.append(("MaxInactivityTimeDeviceLock", policy.inactivity_minutes * 60))
        if policy.max_failed_attempts:
            values.append(("MaxDevicePasswordFailedAttempts", policy.max_failed_attempts))
    values += [
        ("AllowSimpleDevicePassword", int(not policy.alphanumeric_required)),
        ("DevicePasswordExpiration", 0),
        ("DevicePasswordHistory", 0),
    ]
    if version >= V12_1:
        values += [
            ("AllowStorageCard", 1), ("AllowCamera", 1), ("RequireDeviceEncryption", 0),
            ("AllowUnsignedApplications", 1), ("AllowUnsignedInstallationPackages", 1),
            ("MinDevicePasswordComplexCharacters", 2 if policy.alphanumeric_required else 1),
            ("AllowWiFi", 1), ("AllowTextMessaging", 1), ("AllowPOPIMAPEmail", 1), ("AllowBluetooth", 2),
            ("AllowIrDA", 1), ("RequireManualSyncWhenRoaming", 0), ("AllowDesktopSync", 1),
            ("MaxCalendarAgeFilter", 0), ("AllowHTMLEmail", 1), ("MaxEmailAgeFilter", 0),
            ("MaxEmailBodyTruncationSize", -1), ("MaxEmailHTMLBodyTruncationSize", -1),
            ("RequireSignedSMIMEMessages", 0), ("RequireEncryptedSMIMEMessages", 0),
            ("RequireSignedSMIMEAlgorithm", 0), ("RequireEncryptionSMIMEAlgorithm", 0),
            ("AllowSMIMEEncryptionAlgorithmNegotiation", 2), ("AllowSMIMESoftCerts", 1), ("AllowBrowser", 1),
            ("AllowConsumerEmail", 1), ("AllowRemoteDesktop", 1), ("AllowInternetSharing", 1),
            ("UnapprovedInROMApplicationList", None), ("ApprovedApplicationList", None),
        ]
    doc = element("Provision:EASProvisionDoc")
    for name, value in values:
        doc.append(element(f"Provision:{name}", None if value is None else str(value)))
    return doc
